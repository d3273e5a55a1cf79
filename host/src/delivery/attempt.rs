//! One attempt at one message: its recipients that are not final, split by destination
//! into jobs (which the scheduler hands to the workers); the outcomes gathered as each
//! destination answers; and, once all have, recorded in one durable update with the
//! bounce or delay warning it calls for.
//!
//! The lowest of the three delivery stages: it knows nothing of the scheduler or the
//! workers, which call it (a worker through [`Attempt::report`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, error, info, warn};

use super::Surroundings;
use super::dsn::{Bounces, DsnKind};
use super::in_flight::InFlight;
use super::metrics::DeliveryOutcome;
use super::outcome::{self, Applied, Outcome};
use super::retry::RetryPolicy;
use super::route::{Destination, LiveRoutes};
use crate::config::Config;
use crate::queue::{Queue, QueueError, QueueId, QueuedEnvelope, RecipientState, Settle};

/// The wait before a message whose envelope could not be read is tried again, and before
/// an outcome that could not be recorded is written again (never delivered again: see
/// [`Attempt::finish`]).
pub(super) const FAILED_UPDATE_BACKOFF: Duration = Duration::from_secs(30);

/// What every attempt needs: the queue it reads its message from and records its outcome
/// in, the routes that split its recipients, the retry policy and DSN settings, and the
/// in-flight set it leaves when done.
pub(super) struct Attempts {
    queue: Queue,
    routes: Arc<LiveRoutes>,
    policy: RetryPolicy,
    delay_warning: Option<Duration>,
    /// Who sends DSNs, and whether spam gets them.
    bounces: Bounces,
    in_flight: Arc<InFlight>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    /// Outcome counters and the clock.
    surroundings: Surroundings,
}

/// Recipients of one message that go to one destination.
pub(super) struct Job {
    /// The attempt the job belongs to.
    pub(super) attempt: Arc<Attempt>,
    /// Recipient indexes in the attempt's envelope.
    pub(super) recipients: Vec<usize>,
}

/// An attempt in progress.
pub(super) struct Attempt {
    /// The message.
    pub(super) id: QueueId,
    /// Its envelope when the attempt started.
    pub(super) envelope: QueuedEnvelope,
    /// Its bytes, read by the first job that sends it (`None`: gone from the queue).
    message: OnceCell<Option<Arc<Vec<u8>>>>,
    results: Mutex<Results>,
    attempts: Arc<Attempts>,
}

struct Results {
    /// Jobs not finished yet.
    pending_jobs: usize,
    /// Outcomes so far: recipient index and outcome.
    outcomes: Vec<(usize, Outcome)>,
}

/// What [`Queue::modify`] gave back for an attempt's update: the changes applied and the
/// DSNs queued, or `None` when the message had left the queue.
type Recorded = Result<Option<(Applied, Vec<QueueId>)>, Arc<QueueError>>;

impl Attempts {
    /// Attempts at messages of `queue`, per `config`'s `[delivery]`, that leave
    /// `in_flight` when done. Their follow-up tasks are spawned on `tracker` and stop
    /// waiting when `shutdown` is cancelled.
    pub(super) fn new(
        config: &Config,
        queue: Queue,
        routes: Arc<LiveRoutes>,
        in_flight: Arc<InFlight>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        surroundings: Surroundings,
    ) -> Self {
        let delivery = &config.delivery;
        Self {
            queue,
            routes,
            policy: RetryPolicy::from_config(delivery),
            delay_warning: delivery.delay_warning.map(|d| d.0),
            bounces: Bounces::from_config(config),
            in_flight,
            shutdown,
            tracker,
            surroundings,
        }
    }

    /// The retry schedule in force.
    pub(super) fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Starts the attempt at `id`: reads its envelope and gives a job per destination, for
    /// the workers. A message gone or held meanwhile is dropped from the in-flight set,
    /// and one whose recipients are all final is settled at once (no jobs either way).
    #[expect(
        clippy::mutable_key_type,
        reason = "a route destination hashes and compares by its Arc's address, not its TLS client"
    )]
    pub(super) async fn start(self: &Arc<Self>, id: QueueId) -> Vec<(Destination, Job)> {
        let queue = self.queue.clone();
        let envelope = match tokio::task::spawn_blocking(move || queue.envelope(&id)).await {
            Ok(Ok(Some(envelope))) if !envelope.held => envelope,
            Ok(Ok(_)) => {
                self.in_flight.release(&id);
                return Vec::new();
            }
            Ok(Err(error)) => {
                error!(queue_id = %id, %error, "cannot read the envelope");
                self.release_later(id);
                return Vec::new();
            }
            Err(error) => {
                error!(queue_id = %id, %error, "envelope read panicked");
                self.release_later(id);
                return Vec::new();
            }
        };
        let mut by_destination: HashMap<Destination, Vec<usize>> = HashMap::new();
        let routes = self.routes.current();
        for (index, recipient) in envelope.recipients.iter().enumerate() {
            if !recipient.state.is_final() {
                by_destination
                    .entry(routes.destination(&recipient.address))
                    .or_default()
                    .push(index);
            }
        }
        let attempt = Arc::new(Attempt {
            id,
            envelope,
            message: OnceCell::new(),
            results: Mutex::new(Results {
                pending_jobs: by_destination.len(),
                outcomes: Vec::new(),
            }),
            attempts: Arc::clone(self),
        });
        if by_destination.is_empty() {
            // Every recipient final but the message still queued (a crash between the two
            // cannot cause this, as both are one batch, but an operator's tool might): settle.
            attempt.finish().await;
            return Vec::new();
        }
        by_destination
            .into_iter()
            .map(|(destination, recipients)| {
                let attempt = Arc::clone(&attempt);
                (
                    destination,
                    Job {
                        attempt,
                        recipients,
                    },
                )
            })
            .collect()
    }

    /// What the queue must do with the changed `envelope`: remove it when complete, and
    /// queue the DSN the attempt calls for (bounce, or delay warning).
    fn settle(
        &self,
        envelope: &QueuedEnvelope,
        applied: &Applied,
        original: Option<&Vec<u8>>,
        now: u64,
    ) -> Settle {
        let mut settle = Settle {
            remove: applied.complete,
            enqueue: Vec::new(),
        };
        let original = original.map_or(&[][..], Vec::as_slice);
        if let Some(bounce) = self.bounces.notice(
            DsnKind::Failure,
            envelope,
            original,
            &applied.newly_failed,
            now,
        ) {
            settle.enqueue.push(bounce);
        }
        if applied.warn_delay {
            let deferred: Vec<usize> = envelope
                .recipients
                .iter()
                .enumerate()
                .filter(|(_, r)| matches!(r.state, RecipientState::Deferred { .. }))
                .map(|(index, _)| index)
                .collect();
            if let Some(warning) =
                self.bounces
                    .notice(DsnKind::Delay, envelope, original, &deferred, now)
            {
                settle.enqueue.push(warning);
            }
        }
        settle
    }

    /// Keeps `id` out of the scheduler's reach for a while (its envelope could not be
    /// read), so a failing disk is not hammered in a loop.
    fn release_later(self: &Arc<Self>, id: QueueId) {
        let attempts = Arc::clone(self);
        self.tracker.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(FAILED_UPDATE_BACKOFF) => {}
                () = attempts.shutdown.cancelled() => {}
            }
            attempts.in_flight.release(&id);
            attempts.queue.wake();
        });
    }
}

impl Attempt {
    /// The message's bytes, read once for all jobs; `None` if it left the queue.
    pub(super) async fn message(&self) -> Option<Arc<Vec<u8>>> {
        self.message
            .get_or_init(|| async {
                let queue = self.attempts.queue.clone();
                let id = self.id;
                match tokio::task::spawn_blocking(move || queue.message(&id)).await {
                    Ok(Ok(bytes)) => bytes.map(Arc::new),
                    Ok(Err(error)) => {
                        error!(queue_id = %id, %error, "cannot read the message");
                        None
                    }
                    Err(_) => None,
                }
            })
            .await
            .clone()
    }

    /// Records the outcomes of one job (and logs each, in the caller's span, which names
    /// the destination); the last job's report finishes the attempt.
    pub(super) fn report(self: &Arc<Self>, outcomes: Vec<(usize, Outcome)>) {
        for (index, outcome) in &outcomes {
            let recipient = self
                .envelope
                .recipients
                .get(*index)
                .map_or("?", |r| r.address.as_str());
            let queue_id = self.id;
            match outcome {
                Outcome::Delivered { reply } => {
                    info!(%queue_id, recipient, reply = %reply, "delivered");
                }
                Outcome::Deferred { error } => {
                    tracing::warn!(%queue_id, recipient, error = %error, "deferred");
                }
                Outcome::Failed { reply } => {
                    tracing::warn!(%queue_id, recipient, reply = %reply, "failed");
                }
            }
        }
        let last = {
            let mut results = self.results.lock().unwrap_or_else(PoisonError::into_inner);
            results.outcomes.extend(outcomes);
            results.pending_jobs = results.pending_jobs.saturating_sub(1);
            results.pending_jobs == 0
        };
        if last {
            self.attempts.tracker.spawn(Arc::clone(self).finish());
        }
    }

    /// Records the attempt's outcomes, with its bounce or delay warning, in one durable
    /// update, then lets the scheduler take the message again when it is next due.
    ///
    /// An outcome that cannot be written is written again every [`FAILED_UPDATE_BACKOFF`]
    /// (until shutdown), and the message stays out of the scheduler's reach meanwhile:
    /// what was delivered is not delivered again while this process knows it was. Only a
    /// restart forgets it (the at-least-once window: one more delivery).
    async fn finish(self: Arc<Self>) {
        let attempts = &self.attempts;
        let outcomes = std::mem::take(
            &mut self
                .results
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .outcomes,
        );
        for (_, outcome) in &outcomes {
            attempts.surroundings.metrics.delivery(match outcome {
                Outcome::Delivered { .. } => DeliveryOutcome::Delivered,
                Outcome::Deferred { .. } => DeliveryOutcome::Deferred,
                Outcome::Failed { .. } => DeliveryOutcome::Failed,
            });
        }
        let mut tries = 0_u32;
        loop {
            let error = match self.record(outcomes.clone()).await {
                Ok(recorded) => return self.recorded(recorded),
                Err(error) => error.to_string(),
            };
            if tries == 0 {
                self.not_recorded(&outcomes, &error);
            } else {
                debug!(queue_id = %self.id, %error, tries, "outcome still not recorded");
            }
            tries += 1;
            tokio::select! {
                () = tokio::time::sleep(FAILED_UPDATE_BACKOFF) => {}
                () = attempts.shutdown.cancelled() => return,
            }
        }
    }

    /// Lets the message go once its outcome is on disk (or it left the queue meanwhile).
    fn recorded(&self, recorded: Option<(Applied, Vec<QueueId>)>) {
        let id = self.id;
        let attempts = &self.attempts;
        let Some((applied, bounces)) = recorded else {
            info!(queue_id = %id, "message left the queue during its attempt");
            attempts.in_flight.release(&id);
            return;
        };
        if applied.expired {
            attempts.surroundings.metrics.expired();
            info!(queue_id = %id, "expired");
        }
        if !bounces.is_empty() {
            info!(queue_id = %id, bounces = ?bounces, "sender notified");
        }
        attempts.in_flight.release(&id);
        attempts.queue.wake();
    }

    /// Says, once per attempt, that its outcome is not on disk: the message is kept from
    /// delivery until it is, and if the process ends first, it is delivered again (to the
    /// recipients delivered now too) after the restart.
    fn not_recorded(&self, outcomes: &[(usize, Outcome)], error: &str) {
        let delivered = outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Delivered { .. }))
            .count();
        if self.attempts.queue.failure().is_some() {
            // The server logged the failure once, and restarts: this says what it costs.
            warn!(
                queue_id = %self.id,
                delivered,
                "the outcome of this attempt cannot be recorded (the queue's database \
                 failed): after the restart the message is tried again, also for the \
                 recipients delivered now"
            );
        } else {
            error!(
                queue_id = %self.id,
                delivered,
                %error,
                "cannot record the attempt's outcome; the message is not delivered again \
                 until it is recorded"
            );
        }
    }

    /// Applies `outcomes` to the queued envelope and settles it, in one durable update
    /// shared with the other outcomes recorded at the same time.
    async fn record(&self, outcomes: Vec<(usize, Outcome)>) -> Recorded {
        // The original's bytes for a bounce: read before the update (it may remove them).
        let needs_original = outcomes
            .iter()
            .any(|(_, o)| !matches!(o, Outcome::Delivered { .. }));
        let original = if needs_original {
            self.message().await
        } else {
            None
        };
        let attempts = Arc::clone(&self.attempts);
        let now = attempts.surroundings.clock.now_ms();
        self.attempts
            .queue
            .update(self.id, move |envelope| {
                let applied = outcome::apply(
                    envelope,
                    &outcomes,
                    now,
                    &attempts.policy,
                    attempts.delay_warning,
                );
                let settle = attempts.settle(envelope, &applied, original.as_deref(), now);
                (settle, applied)
            })
            .await
    }
}
