//! [`LocalControl`]: the operator's actions on the queue itself, each a blocking queue
//! call run on tokio's blocking pool.

use super::shared;
use super::{ControlError, Operations, QueueAction};
use crate::decisions::{DecisionLog, LabelEvent, LabelSource, Truth};
use crate::delivery::dsn::Bounces;
use crate::queue::{QuarantinedMessage, Queue, QueueId, QueueSummary, QueuedEnvelope, Selection};
use crate::store::RedisQuarantine;
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
    /// The site's shared quarantine, when the gateways share one (`[kv] backend = "redis"`).
    shared: Option<RedisQuarantine>,
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
            shared: None,
        }
    }

    /// The same actions, the quarantine seen and released across the site's gateways.
    pub fn with_shared_quarantine(mut self, shared: RedisQuarantine) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Records a release as the operator's word that the message is ham.
    fn label_released(&self, id: QueueId, now: u64) {
        self.decisions.label(LabelEvent {
            time: now,
            truth: Some(Truth::Ham),
            source: LabelSource::Release,
            queue_id: Some(id.to_string()),
            message_id: None,
            digest: None,
        });
    }

    /// Releases `id` from this queue's own quarantine, claiming it in the shared one first
    /// (when there is one and it answers) so that no other gateway releases it too.
    async fn release_here(&self, id: QueueId, now: u64) -> Result<bool, ControlError> {
        if let Some(shared) = &self.shared {
            match shared::blocking(shared, move |s| s.claim(&id.to_string())).await {
                Ok(false) => {
                    return Err(ControlError::Refused(format!(
                        "{id} is being released by another gateway"
                    )));
                }
                Ok(true) => {}
                Err(error) => tracing::warn!(%error, "releasing without the shared quarantine"),
            }
        }
        let released = self
            .blocking(move |queue| Ok(queue.release_quarantined(&id, now)?.is_some()))
            .await?;
        if let Some(shared) = &self.shared {
            let result = if released {
                shared::blocking(shared, move |s| s.remove(&id.to_string())).await
            } else {
                shared::blocking(shared, move |s| s.unclaim(&id.to_string())).await
            };
            if let Err(error) = result {
                tracing::warn!(%error, queue_id = %id, "the shared quarantine still shows the released message");
            }
        }
        Ok(released)
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
        let mut records = self.blocking(Queue::quarantined_all).await?;
        if let Some(shared) = &self.shared {
            match shared::records(shared).await {
                Ok(published) => {
                    let here: std::collections::HashSet<QueueId> =
                        records.iter().map(|r| r.envelope.id).collect();
                    records.extend(
                        published
                            .into_iter()
                            .filter(|r| !here.contains(&r.envelope.id)),
                    );
                    records.sort_by_key(|r| r.envelope.received_at_ms);
                }
                Err(error) => tracing::warn!(%error, "listing this gateway's quarantine only"),
            }
        }
        Ok(records)
    }

    async fn quarantine_record(
        &self,
        id: QueueId,
    ) -> Result<Option<QuarantinedMessage>, ControlError> {
        let here = self.blocking(move |queue| queue.quarantined(&id)).await?;
        match (&here, &self.shared) {
            (None, Some(shared)) => Ok(shared::entry(shared, id).await?.map(|(r, _)| r)),
            _ => Ok(here),
        }
    }

    async fn quarantine_message(&self, id: QueueId) -> Result<Option<Vec<u8>>, ControlError> {
        let here = self
            .blocking(move |queue| {
                Ok(match queue.quarantined(&id)? {
                    Some(_) => queue.message(&id)?,
                    None => None,
                })
            })
            .await?;
        match (&here, &self.shared) {
            (None, Some(shared)) => Ok(shared::entry(shared, id).await?.map(|(_, m)| m)),
            _ => Ok(here),
        }
    }

    async fn quarantine_release(&self, id: QueueId) -> Result<bool, ControlError> {
        let now = self.clock.now_ms();
        let mut released = self.release_here(id, now).await?;
        if !released && let Some(shared) = &self.shared {
            released = shared::release_elsewhere(shared, &self.queue, id)
                .await?
                .is_some();
        }
        if released {
            self.label_released(id, now);
        }
        Ok(released)
    }

    async fn quarantine_delete(&self, id: QueueId) -> Result<bool, ControlError> {
        let mut deleted = self
            .blocking(move |queue| queue.delete_quarantined(&id))
            .await?;
        if let Some(shared) = &self.shared {
            // A failure here leaves the entry to this gateway's sync, which removes what it
            // published and no longer holds.
            match shared::blocking(shared, move |s| s.exists(&id.to_string())).await {
                Ok(published) if deleted || published => {
                    shared::blocking(shared, move |s| s.remove(&id.to_string())).await?;
                    deleted |= published;
                }
                Ok(_) => {}
                Err(error) if deleted => {
                    tracing::warn!(%error, queue_id = %id, "deleted here; the shared entry goes at the next sync");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(deleted)
    }
}
