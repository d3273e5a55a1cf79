//! [`Scheduler`]: wakes on the due index and starts an attempt for each message due.
//!
//! The due index (`queue.due`, big-endian next-attempt time ++ id) is the only schedule:
//! the scheduler reads it from its start up to now, passes over the messages it is already
//! delivering, and sleeps until the next entry's time or until woken (a message queued,
//! flushed or released; an attempt finished). It never reads the whole queue, and keeps
//! nothing that a restart would need: after a crash the due entries are where they were,
//! and an attempt that was in progress is simply made again.
//!
//! The top of the three delivery stages: it starts each attempt and hands the attempt's
//! jobs to the workers of their destinations.
//!
//! It starts no attempt whose outcome could not be written: none while the queue's disk has
//! less than a quarter of `[queue] min_free` (it looks again every [`SPACE_RECHECK`]), and
//! none at all once the queue's database failed a write (it stops; the server restarts).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info};

use super::attempt::{Attempts, FAILED_UPDATE_BACKOFF};
use super::client::ClientParams;
use super::in_flight::InFlight;
use super::route::LiveRoutes;
use super::worker::Workers;
use crate::config::Config;
use crate::dns::Resolver;
use crate::queue::{Queue, QueueId};

/// The longest the scheduler sleeps without looking at the due index (a safety net; it is
/// woken when anything becomes due sooner).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// How often a scheduler paused by an almost full disk looks at the room again.
const SPACE_RECHECK: Duration = Duration::from_secs(2);

/// Why delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The TLS client could not be configured.
    #[error("cannot set up the TLS client: {0}")]
    Tls(#[from] rustls::Error),
}

/// The delivery scheduler of a running server.
pub struct Scheduler {
    queue: Queue,
    /// The time the due index is read at.
    clock: crate::time::Clock,
    routes: Arc<LiveRoutes>,
    /// Messages with an attempt in progress: passed over in the due index.
    in_flight: Arc<InFlight>,
    attempts: Arc<Attempts>,
    workers: Arc<Workers>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// The most messages in progress at once (their bytes are read only when sent).
    max_in_flight: usize,
}

impl Scheduler {
    /// The scheduler for `config`'s `[delivery]`, delivering from `queue` over `routes`
    /// (the table in force, which a reload replaces), never to `surroundings.myself`. Its tasks stop
    /// when `shutdown` is cancelled; they are spawned on `tracker`.
    pub fn new(
        config: &Config,
        queue: Queue,
        resolver: Option<Resolver>,
        routes: Arc<LiveRoutes>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        surroundings: super::Surroundings,
    ) -> Result<Self, SchedulerError> {
        let clock = surroundings.clock.clone();
        let delivery = &config.delivery;
        let client = ClientParams::new(
            config.server.hostname.clone(),
            delivery.connect_timeout.0,
            delivery.command_timeout.0,
            delivery.data_timeout.0,
        )?
        .not_to(surroundings.myself.clone());
        let in_flight = Arc::new(InFlight::default());
        let attempts = Attempts::new(
            config,
            queue.clone(),
            Arc::clone(&routes),
            Arc::clone(&in_flight),
            shutdown.clone(),
            tracker.clone(),
            surroundings,
        );
        let workers = Workers::new(
            delivery,
            client,
            queue.clone(),
            resolver,
            Arc::clone(&routes),
            shutdown.clone(),
            tracker.clone(),
        );
        Ok(Self {
            queue,
            routes,
            in_flight,
            attempts: Arc::new(attempts),
            workers: Arc::new(workers),
            shutdown,
            tracker,
            clock,
            max_in_flight: delivery.max_messages_in_flight(),
        })
    }

    /// Runs until shutdown, or until the queue's database fails a write (no outcome could
    /// be recorded any more): claims due messages and starts their attempts, except while
    /// the queue's disk is almost full.
    pub async fn run(self) {
        info!(routes = ?self.routes.current(), "delivery started");
        loop {
            if self.shutdown.is_cancelled() || self.queue.failure().is_some() {
                break;
            }
            let skip = self.in_flight.snapshot();
            let room = self.max_in_flight.saturating_sub(skip.len());
            let sleep = if let Err(shortage) = self.queue.space().for_delivery() {
                // Logged by the space check when the level changes.
                debug!(%shortage, "delivery paused: the queue's disk is almost full");
                SPACE_RECHECK
            } else if room == 0 {
                // Everything in progress: an attempt finishing wakes us.
                MAX_SLEEP
            } else {
                match self.claim(skip, room).await {
                    Ok(Some(sleep)) => sleep,
                    Ok(None) => continue,
                    Err(error) => {
                        error!(%error, "cannot read the due index; retrying");
                        FAILED_UPDATE_BACKOFF
                    }
                }
            };
            debug!(sleep_ms = sleep.as_millis(), "delivery scheduler sleeping");
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = self.queue.failed() => break,
                () = self.queue.work() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        match self.queue.failure() {
            Some(reason) => info!(%reason, "delivery stopped: the queue cannot record outcomes"),
            None => info!("delivery stopped"),
        }
    }

    /// Starts attempts for up to `room` due messages not in `skip`. `None` when the room
    /// was filled (look again at once), else how long to sleep until the next entry.
    async fn claim(
        &self,
        skip: HashSet<QueueId>,
        room: usize,
    ) -> Result<Option<Duration>, crate::queue::QueueError> {
        let queue = self.queue.clone();
        let now = self.clock.now_ms();
        let (due, skip) = tokio::task::spawn_blocking(move || {
            let due = queue.due_except(now, &skip, room);
            (due, skip)
        })
        .await
        .unwrap_or_else(|_| (Ok(Vec::new()), HashSet::new()));
        let due = due?;
        let filled = due.len() == room;
        for id in due {
            self.in_flight.claim(id);
            debug!(queue_id = %id, "attempt starting");
            self.tracker.spawn(start(
                Arc::clone(&self.attempts),
                Arc::clone(&self.workers),
                id,
            ));
        }
        if filled {
            return Ok(None);
        }
        let mut skip = skip;
        skip.extend(self.in_flight.snapshot());
        let queue = self.queue.clone();
        let next = tokio::task::spawn_blocking(move || queue.next_due(&skip))
            .await
            .unwrap_or(Ok(None))?;
        let sleep = next.map_or(MAX_SLEEP, |at| {
            Duration::from_millis(at.saturating_sub(self.clock.now_ms())).min(MAX_SLEEP)
        });
        // A due entry that is not in flight but was not claimed (the room filled between
        // the reads) shows as a zero sleep: look again at once.
        Ok(Some(sleep.max(Duration::from_millis(if next.is_some() {
            5
        } else {
            0
        }))))
    }
}

/// Starts the attempt at `id` and hands each of its jobs to the workers of the job's
/// destination.
async fn start(attempts: Arc<Attempts>, workers: Arc<Workers>, id: QueueId) {
    for (destination, job) in attempts.start(id).await {
        workers.enqueue(destination, job);
    }
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("max_in_flight", &self.max_in_flight)
            .field("retry", self.attempts.policy())
            .finish_non_exhaustive()
    }
}
