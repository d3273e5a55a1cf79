//! [`QueueSummary`]: counts over the whole queue, for `/metrics` and `moat queue stats`.
//!
//! The counts are kept up to date by the queue's writers ([`Tally`]): each write that adds,
//! changes or removes an envelope applies the difference once its batch is committed. A
//! scrape then costs the same with ten messages queued as with a million; reading every
//! envelope happens once, when the queue is opened.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{Queue, QueueError, QueuedEnvelope, RecipientState};

/// Counts over every queued message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSummary {
    /// Messages in the queue.
    pub messages: u64,
    /// Of them, held by an operator.
    pub held: u64,
    /// Messages with the null sender (bounces among them).
    pub null_sender: u64,
    /// Recipients not tried yet.
    pub pending: u64,
    /// Recipients waiting for a retry.
    pub deferred: u64,
    /// Recipients delivered, of messages still queued for others.
    pub delivered: u64,
    /// Recipients failed, of messages still queued for others.
    pub failed: u64,
    /// Bytes of message data queued.
    pub bytes: u64,
    /// When the oldest queued message was accepted (unix milliseconds).
    pub oldest_received_at_ms: Option<u64>,
}

impl QueueSummary {
    /// Adds (`sign` 1) or takes away (`sign` -1) what `envelope` counts for.
    fn count(&mut self, envelope: &QueuedEnvelope, sign: i8) {
        let apply = |count: &mut u64, by: u64| {
            *count = if sign > 0 {
                count.saturating_add(by)
            } else {
                count.saturating_sub(by)
            };
        };
        apply(&mut self.messages, 1);
        apply(&mut self.held, u64::from(envelope.held));
        apply(
            &mut self.null_sender,
            u64::from(envelope.mail_from.is_empty()),
        );
        apply(&mut self.bytes, envelope.size);
        for recipient in &envelope.recipients {
            let count = match recipient.state {
                RecipientState::Pending => &mut self.pending,
                RecipientState::Deferred { .. } => &mut self.deferred,
                RecipientState::Delivered { .. } => &mut self.delivered,
                RecipientState::Failed { .. } => &mut self.failed,
            };
            apply(count, 1);
        }
    }
}

/// The queue's counts, kept by its writers.
#[derive(Debug, Default)]
pub(super) struct Tally {
    state: Mutex<TallyState>,
}

#[derive(Debug, Default)]
struct TallyState {
    /// Everything but `oldest_received_at_ms`, which `arrivals` gives.
    summary: QueueSummary,
    /// How many queued messages were accepted at each time: the first key is the oldest.
    arrivals: BTreeMap<u64, u64>,
}

impl Tally {
    /// Adds what the envelopes of `queue` count for, read one by one (at open, before
    /// anything else writes).
    pub(super) fn count_all(&self, queue: &Queue) -> Result<(), QueueError> {
        for id in queue.ids()? {
            if let Some(envelope) = queue.envelope(&id)? {
                self.changed(None, Some(&envelope));
            }
        }
        Ok(())
    }

    /// Applies a committed change: `before` left the queue (or was replaced), `after` is
    /// in it now.
    pub(super) fn changed(&self, before: Option<&QueuedEnvelope>, after: Option<&QueuedEnvelope>) {
        let mut state = self
            .state
            .lock()
            // Counts only; a panic elsewhere leaves them as they were.
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(before) = before {
            state.summary.count(before, -1);
            if let Some(count) = state.arrivals.get_mut(&before.received_at_ms) {
                *count -= 1;
                if *count == 0 {
                    state.arrivals.remove(&before.received_at_ms);
                }
            }
        }
        if let Some(after) = after {
            state.summary.count(after, 1);
            *state.arrivals.entry(after.received_at_ms).or_default() += 1;
        }
    }

    /// The counts now.
    fn summary(&self) -> QueueSummary {
        let state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        QueueSummary {
            oldest_received_at_ms: state.arrivals.keys().next().copied(),
            ..state.summary.clone()
        }
    }
}

impl Queue {
    /// Counts over every queued message. Cheap: the queue keeps them as it changes.
    pub fn summary(&self) -> QueueSummary {
        self.inner.books.tally.summary()
    }

    /// The same counts, read from every envelope (to check the kept ones).
    pub fn recount(&self) -> Result<QueueSummary, QueueError> {
        let tally = Tally::default();
        tally.count_all(self)?;
        Ok(tally.summary())
    }
}
