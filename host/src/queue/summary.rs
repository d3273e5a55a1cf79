//! [`QueueSummary`]: counts over the whole queue, for `moat queue stats`.

use serde::{Deserialize, Serialize};

use super::{Queue, QueueError, RecipientState};

/// Counts over every queued message (reads every envelope).
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

impl Queue {
    /// Counts over every queued message.
    pub fn summary(&self) -> Result<QueueSummary, QueueError> {
        let mut summary = QueueSummary::default();
        for id in self.ids()? {
            let Some(envelope) = self.envelope(&id)? else {
                continue;
            };
            summary.messages += 1;
            summary.held += u64::from(envelope.held);
            summary.null_sender += u64::from(envelope.mail_from.is_empty());
            summary.bytes += envelope.size;
            summary.oldest_received_at_ms = Some(
                summary
                    .oldest_received_at_ms
                    .map_or(envelope.received_at_ms, |t| t.min(envelope.received_at_ms)),
            );
            for recipient in &envelope.recipients {
                let count = match recipient.state {
                    RecipientState::Pending => &mut summary.pending,
                    RecipientState::Deferred { .. } => &mut summary.deferred,
                    RecipientState::Delivered { .. } => &mut summary.delivered,
                    RecipientState::Failed { .. } => &mut summary.failed,
                };
                *count += 1;
            }
        }
        Ok(summary)
    }
}
