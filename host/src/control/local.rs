//! [`LocalControl`]: the operator's actions on the queue itself, each a blocking queue
//! call run on tokio's blocking pool.

use super::{ControlError, Operations, QueueAction};
use crate::decisions::{DecisionLog, LabelEvent, LabelSource, Truth};
use crate::delivery::dsn::Bounces;
use crate::queue::{QuarantinedMessage, Queue, QueueId, QueueSummary, QueuedEnvelope, Selection};
use crate::time::Clock;

/// The actions on an open queue: the only implementation of each.
#[derive(Debug, Clone)]
pub struct LocalControl {
    queue: Queue,
    /// Who reports the bounces `bounce` sends, and whether spam gets one.
    bounces: Bounces,
    clock: Clock,
    /// Where a release is recorded as the operator's word that the message is ham.
    decisions: DecisionLog,
}

impl LocalControl {
    /// The actions on `queue`, bouncing by `bounces`, timed by `clock`; releases are
    /// labelled ham in `decisions`.
    pub fn new(queue: Queue, bounces: Bounces, clock: Clock, decisions: DecisionLog) -> Self {
        Self {
            queue,
            bounces,
            clock,
            decisions,
        }
    }

    /// Runs `work` on the queue off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Queue) -> Result<T, crate::queue::QueueError> + Send + 'static,
    ) -> Result<T, ControlError> {
        let queue = self.queue.clone();
        match tokio::task::spawn_blocking(move || work(&queue)).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(ControlError::Panicked),
        }
    }
}

impl Operations for LocalControl {
    async fn queue_list(&self) -> Result<Vec<QueuedEnvelope>, ControlError> {
        self.blocking(|queue| {
            let ids = queue.ids()?;
            let mut envelopes = Vec::with_capacity(ids.len());
            for id in ids {
                // Gone since the listing of ids (delivered, deleted): not listed.
                envelopes.extend(queue.envelope(&id)?);
            }
            Ok(envelopes)
        })
        .await
    }

    async fn queue_stats(&self) -> Result<QueueSummary, ControlError> {
        Ok(self.queue.summary())
    }

    async fn queue_envelope(&self, id: QueueId) -> Result<Option<QueuedEnvelope>, ControlError> {
        self.blocking(move |queue| queue.envelope(&id)).await
    }

    async fn queue_message(&self, id: QueueId) -> Result<Option<Vec<u8>>, ControlError> {
        self.blocking(move |queue| queue.message(&id)).await
    }

    async fn queue_flush_all(&self) -> Result<usize, ControlError> {
        let now = self.clock.now_ms();
        self.blocking(move |queue| queue.flush_all(now)).await
    }

    async fn queue_apply(
        &self,
        action: QueueAction,
        ids: Vec<QueueId>,
        selection: Selection,
    ) -> Result<Vec<QueueId>, ControlError> {
        let bounces = self.bounces.clone();
        let now = self.clock.now_ms();
        self.blocking(move |queue| {
            let chosen = queue.select(&ids, &selection)?;
            action.run(queue, &bounces, &chosen, now)
        })
        .await
    }

    async fn quarantine_list(&self) -> Result<Vec<QuarantinedMessage>, ControlError> {
        self.blocking(Queue::quarantined_all).await
    }

    async fn quarantine_record(
        &self,
        id: QueueId,
    ) -> Result<Option<QuarantinedMessage>, ControlError> {
        self.blocking(move |queue| queue.quarantined(&id)).await
    }

    async fn quarantine_message(&self, id: QueueId) -> Result<Option<Vec<u8>>, ControlError> {
        self.blocking(move |queue| {
            Ok(match queue.quarantined(&id)? {
                Some(_) => queue.message(&id)?,
                None => None,
            })
        })
        .await
    }

    async fn quarantine_release(&self, id: QueueId) -> Result<bool, ControlError> {
        let now = self.clock.now_ms();
        let released = self
            .blocking(move |queue| Ok(queue.release_quarantined(&id, now)?.is_some()))
            .await?;
        if released {
            self.decisions.label(LabelEvent {
                time: now,
                truth: Some(Truth::Ham),
                source: LabelSource::Release,
                queue_id: Some(id.to_string()),
                message_id: None,
                digest: None,
            });
        }
        Ok(released)
    }

    async fn quarantine_delete(&self, id: QueueId) -> Result<bool, ControlError> {
        self.blocking(move |queue| queue.delete_quarantined(&id))
            .await
    }
}
