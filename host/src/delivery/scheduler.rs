//! [`Scheduler`]: wakes on the due index and starts an attempt for each message due.
//!
//! The due index (`queue.due`, big-endian next-attempt time ++ id) is the only schedule:
//! the scheduler reads it from its start up to now, passes over the messages it is already
//! delivering, and sleeps until the next entry's time or until woken (a message queued,
//! flushed or released; an attempt finished). It never reads the whole queue, and keeps
//! nothing that a restart would need: after a crash the due entries are where they were,
//! and an attempt that was in progress is simply made again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info};

use super::attempt;
use super::client::ClientParams;
use super::now_ms;
use super::retry::RetryPolicy;
use super::route::{Destination, LiveRoutes, RouteTable};
use super::worker::DestinationQueue;
use crate::config::Config;
use crate::dns::Resolver;
use crate::queue::{Queue, QueueId};

/// The longest the scheduler sleeps without looking at the due index (a safety net; it is
/// woken when anything becomes due sooner).
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The longest a destination that could not be reached is skipped (shorter when the first
/// retry interval is): long enough that a queue of thousands for a dead downstream does
/// not wait out a connect timeout each, short enough that new mail finds it back soon.
const UNREACHABLE_FOR: Duration = Duration::from_secs(60);

/// The wait before a message whose outcome could not be recorded is tried again.
pub(super) const FAILED_UPDATE_BACKOFF: Duration = Duration::from_secs(30);

/// Why delivery could not start.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The TLS client could not be configured.
    #[error("cannot set up the TLS client: {0}")]
    Tls(#[from] rustls::Error),
    /// A route's trusted certificates cannot be loaded.
    #[error(transparent)]
    Route(#[from] super::route::RouteTableError),
}

/// What the scheduler, attempts and workers share.
pub(super) struct Shared {
    pub(super) queue: Queue,
    pub(super) resolver: Option<Resolver>,
    pub(super) routes: Arc<LiveRoutes>,
    pub(super) client: ClientParams,
    pub(super) policy: RetryPolicy,
    pub(super) delay_warning: Option<Duration>,
    /// Our name, in DSNs.
    pub(super) hostname: String,
    /// Outgoing connections in all.
    pub(super) connections: Arc<Semaphore>,
    pub(super) per_destination: usize,
    pub(super) messages_per_connection: usize,
    /// How long a destination that could not be reached is skipped.
    pub(super) unreachable_for: Duration,
    pub(super) state: Mutex<State>,
    pub(super) shutdown: CancellationToken,
    pub(super) tracker: TaskTracker,
    /// Outcome counters for `/metrics`.
    pub(super) metrics: super::metrics::DeliveryMetrics,
}

impl Shared {
    /// The state, locked (held only for a few map operations, never across an await).
    pub(super) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What is in progress.
#[derive(Default)]
pub(super) struct State {
    /// Messages with an attempt in progress: passed over in the due index.
    pub(super) in_flight: HashSet<QueueId>,
    /// Destinations with work waiting or connections open.
    pub(super) destinations: HashMap<Destination, DestinationQueue>,
    /// Destinations no host of which could be reached lately: jobs for them are deferred
    /// without connecting until the time given, unless an operator flushed since.
    pub(super) unreachable: HashMap<Destination, Unreachable>,
}

/// What was learnt when no host of a destination could be reached.
pub(super) struct Unreachable {
    /// Until when to defer without connecting.
    pub(super) until: std::time::Instant,
    /// The error, given to every job deferred meanwhile.
    pub(super) error: String,
    /// [`Queue::flushes`] when it was learnt.
    pub(super) flushes: u64,
}

/// The delivery scheduler of a running server.
pub struct Scheduler {
    shared: Arc<Shared>,
    /// The most messages in progress at once (their bytes are read only when sent).
    max_in_flight: usize,
}

impl Scheduler {
    /// The scheduler for `config`'s `[delivery]`, delivering from `queue`. Its tasks stop
    /// when `shutdown` is cancelled; they are spawned on `tracker`.
    pub fn new(
        config: &Config,
        queue: Queue,
        resolver: Option<Resolver>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        metrics: super::metrics::DeliveryMetrics,
    ) -> Result<Self, SchedulerError> {
        let delivery = &config.delivery;
        let client = ClientParams::new(
            config.server.hostname.clone(),
            delivery.connect_timeout.0,
            delivery.command_timeout.0,
            delivery.data_timeout.0,
        )?;
        let shared = Shared {
            queue,
            resolver,
            routes: Arc::new(LiveRoutes::new(RouteTable::from_config(delivery)?)),
            client,
            policy: RetryPolicy::from_config(delivery),
            delay_warning: delivery.delay_warning.map(|d| d.0),
            hostname: config.server.hostname.clone(),
            connections: Arc::new(Semaphore::new(delivery.max_connections)),
            per_destination: delivery.max_connections_per_destination,
            messages_per_connection: delivery.max_messages_per_connection,
            unreachable_for: delivery
                .retry_intervals
                .first()
                .map_or(UNREACHABLE_FOR, |first| first.0.min(UNREACHABLE_FOR)),
            state: Mutex::new(State::default()),
            shutdown,
            metrics,
            tracker,
        };
        Ok(Self {
            shared: Arc::new(shared),
            max_in_flight: (delivery.max_connections * 8).max(64),
        })
    }

    /// The route table in force, for a reload to replace.
    pub fn routes(&self) -> Arc<LiveRoutes> {
        Arc::clone(&self.shared.routes)
    }

    /// Runs until shutdown: claims due messages and starts their attempts.
    pub async fn run(self) {
        let shared = &self.shared;
        info!(routes = ?shared.routes.current(), "delivery started");
        loop {
            if shared.shutdown.is_cancelled() {
                break;
            }
            let (skip, room) = {
                let state = shared.state();
                let room = self.max_in_flight.saturating_sub(state.in_flight.len());
                (state.in_flight.clone(), room)
            };
            let sleep = if room == 0 {
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
                () = shared.shutdown.cancelled() => break,
                () = shared.queue.work() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        info!("delivery stopped");
    }

    /// Starts attempts for up to `room` due messages not in `skip`. `None` when the room
    /// was filled (look again at once), else how long to sleep until the next entry.
    async fn claim(
        &self,
        skip: HashSet<QueueId>,
        room: usize,
    ) -> Result<Option<Duration>, crate::queue::QueueError> {
        let queue = self.shared.queue.clone();
        let now = now_ms();
        let (due, skip) = tokio::task::spawn_blocking(move || {
            let due = queue.due_except(now, &skip, room);
            (due, skip)
        })
        .await
        .unwrap_or_else(|_| (Ok(Vec::new()), HashSet::new()));
        let due = due?;
        let filled = due.len() == room;
        for id in due {
            self.shared.state().in_flight.insert(id);
            debug!(queue_id = %id, "attempt starting");
            self.shared
                .tracker
                .spawn(attempt::start(Arc::clone(&self.shared), id));
        }
        if filled {
            return Ok(None);
        }
        let mut skip = skip;
        skip.extend(self.shared.state().in_flight.iter().copied());
        let queue = self.shared.queue.clone();
        let next = tokio::task::spawn_blocking(move || queue.next_due(&skip))
            .await
            .unwrap_or(Ok(None))?;
        let sleep = next.map_or(MAX_SLEEP, |at| {
            Duration::from_millis(at.saturating_sub(now_ms())).min(MAX_SLEEP)
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

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("max_in_flight", &self.max_in_flight)
            .field("retry", &self.shared.policy)
            .finish_non_exhaustive()
    }
}
