//! One attempt at one message: its recipients that are not final, split by destination
//! into jobs; the outcomes gathered as each destination answers; and, once all have,
//! recorded in one durable update with the bounce or delay warning it calls for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;
use tracing::{error, info};

use super::dsn::{self, DsnKind};
use super::metrics::DeliveryOutcome;
use super::now_ms;
use super::outcome::{self, Applied, Outcome};
use super::route::Destination;
use super::scheduler::{FAILED_UPDATE_BACKOFF, Shared};
use super::worker::{self, Job};
use crate::queue::{QueueId, QueuedEnvelope, RecipientState, Settle};

/// An attempt in progress.
pub(super) struct Attempt {
    /// The message.
    pub(super) id: QueueId,
    /// Its envelope when the attempt started.
    pub(super) envelope: QueuedEnvelope,
    /// Its bytes, read by the first job that sends it (`None`: gone from the queue).
    message: OnceCell<Option<Arc<Vec<u8>>>>,
    results: Mutex<Results>,
}

struct Results {
    /// Jobs not finished yet.
    pending_jobs: usize,
    /// Outcomes so far: recipient index and outcome.
    outcomes: Vec<(usize, Outcome)>,
}

/// Starts the attempt at `id`: reads its envelope and hands a job per destination to the
/// workers. A message gone or held meanwhile is dropped from the in-flight set.
#[expect(
    clippy::mutable_key_type,
    reason = "a route destination hashes and compares by its Arc's address, not its TLS client"
)]
pub(super) async fn start(shared: Arc<Shared>, id: QueueId) {
    let queue = shared.queue.clone();
    let envelope = match tokio::task::spawn_blocking(move || queue.envelope(&id)).await {
        Ok(Ok(Some(envelope))) if !envelope.held => envelope,
        Ok(Ok(_)) => {
            shared.state().in_flight.remove(&id);
            return;
        }
        Ok(Err(error)) => {
            error!(queue_id = %id, %error, "cannot read the envelope");
            release_later(shared, id);
            return;
        }
        Err(error) => {
            error!(queue_id = %id, %error, "envelope read panicked");
            release_later(shared, id);
            return;
        }
    };
    let mut by_destination: HashMap<Destination, Vec<usize>> = HashMap::new();
    let routes = shared.routes.current();
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
    });
    if by_destination.is_empty() {
        // Every recipient final but the message still queued (a crash between the two
        // cannot cause this, as both are one batch, but an operator's tool might): settle.
        finish(shared, attempt).await;
        return;
    }
    for (destination, recipients) in by_destination {
        worker::enqueue(
            &shared,
            destination,
            Job {
                attempt: Arc::clone(&attempt),
                recipients,
            },
        );
    }
}

impl Attempt {
    /// The message's bytes, read once for all jobs; `None` if it left the queue.
    pub(super) async fn message(&self, shared: &Shared) -> Option<Arc<Vec<u8>>> {
        self.message
            .get_or_init(|| async {
                let queue = shared.queue.clone();
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
    pub(super) fn report(self: &Arc<Self>, shared: &Arc<Shared>, outcomes: Vec<(usize, Outcome)>) {
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
            shared
                .tracker
                .spawn(finish(Arc::clone(shared), Arc::clone(self)));
        }
    }
}

/// Records the attempt's outcomes, with its bounce or delay warning, in one durable
/// update, then lets the scheduler take the message again when it is next due.
async fn finish(shared: Arc<Shared>, attempt: Arc<Attempt>) {
    let id = attempt.id;
    let outcomes = std::mem::take(
        &mut attempt
            .results
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .outcomes,
    );
    // The original's bytes for a bounce: read before the update (it may remove them).
    for (_, outcome) in &outcomes {
        shared.metrics.delivery(match outcome {
            Outcome::Delivered { .. } => DeliveryOutcome::Delivered,
            Outcome::Deferred { .. } => DeliveryOutcome::Deferred,
            Outcome::Failed { .. } => DeliveryOutcome::Failed,
        });
    }
    let needs_original = outcomes
        .iter()
        .any(|(_, o)| !matches!(o, Outcome::Delivered { .. }));
    let original = if needs_original {
        attempt.message(&shared).await
    } else {
        None
    };
    let updating = Arc::clone(&shared);
    let result = tokio::task::spawn_blocking(move || {
        let shared = updating;
        let now = now_ms();
        shared.queue.modify(&id, |envelope| {
            let applied = outcome::apply(
                envelope,
                &outcomes,
                now,
                &shared.policy,
                shared.delay_warning,
            );
            let settle = settle(&shared, envelope, &applied, original.as_deref(), now);
            (settle, applied)
        })
    })
    .await;
    match result {
        Ok(Ok(Some((applied, bounces)))) => {
            if applied.expired {
                shared.metrics.expired();
                info!(queue_id = %id, "expired");
            }
            if !bounces.is_empty() {
                info!(queue_id = %id, bounces = ?bounces, "sender notified");
            }
            shared.state().in_flight.remove(&id);
            shared.queue.wake();
        }
        Ok(Ok(None)) => {
            info!(queue_id = %id, "message left the queue during its attempt");
            shared.state().in_flight.remove(&id);
        }
        Ok(Err(error)) => {
            error!(queue_id = %id, %error, "cannot record the attempt's outcome; will retry");
            release_later(shared, id);
        }
        Err(error) => {
            error!(queue_id = %id, %error, "recording the outcome panicked");
            release_later(shared, id);
        }
    }
}

/// What the queue must do with the changed `envelope`: remove it when complete, and queue
/// the DSN the attempt calls for (bounce, or delay warning).
fn settle(
    shared: &Shared,
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
    if let Some(bounce) = dsn::build(
        DsnKind::Failure,
        &shared.hostname,
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
        if let Some(warning) = dsn::build(
            DsnKind::Delay,
            &shared.hostname,
            envelope,
            original,
            &deferred,
            now,
        ) {
            settle.enqueue.push(warning);
        }
    }
    settle
}

/// Keeps `id` out of the scheduler's reach for a while (its outcome could not be read or
/// recorded), so a failing disk is not hammered in a loop.
fn release_later(shared: Arc<Shared>, id: QueueId) {
    let tracker = shared.tracker.clone();
    tracker.spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(FAILED_UPDATE_BACKOFF) => {}
            () = shared.shutdown.cancelled() => {}
        }
        shared.state().in_flight.remove(&id);
        shared.queue.wake();
    });
}
