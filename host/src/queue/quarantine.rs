//! Quarantine: messages the filters' decision holds back, stored as durably as queued ones
//! but never delivered until an operator releases them.
//!
//! A quarantined message's bytes go to `queue.messages` like a queued one's (so a release
//! moves only its small record), and its [`QuarantinedMessage`] to `queue.quarantine`; it
//! has no envelope in `queue.envelopes` and no due entry, so delivery never sees it. Both
//! are written by the group committer in one fsynced batch, shared with enqueues.
//!
//! Release, deletion and expiry (the `moat quarantine` commands, `[quarantine] max_age`)
//! each write one fsynced batch under the queue's update lock: a released message has its
//! envelope and due entry written and its record removed together, so it is never in both
//! places, nor in neither.

use serde::{Deserialize, Serialize};
use tracing::info;

use super::commit::{Entry, Placement};
use super::{
    MessageBytes, NewMessage, QUARANTINE, Queue, QueueError, QueueId, QueuedEnvelope, accept,
    decode, encode, ids_in, keys,
};

/// A quarantined message's record: the value of `queue.quarantine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedMessage {
    /// The envelope as accepted (every recipient pending): what is queued on release. Its
    /// `received_at_ms` is when the message was quarantined.
    pub envelope: QueuedEnvelope,
    /// The filters' decision report as JSON text: why the message was held, for the
    /// operator deciding to release or delete it.
    pub report: String,
}

impl Queue {
    /// Quarantines `message` with `envelope` and the decision `report` (JSON text), and
    /// returns its new id once its bytes and record are on disk, fsynced in one atomic
    /// batch. Only then may SMTP answer `250`; errors map to replies as for
    /// [`Queue::enqueue`].
    pub async fn quarantine(
        &self,
        envelope: NewMessage,
        message: impl Into<MessageBytes>,
        report: String,
    ) -> Result<QueueId, QueueError> {
        let message = message.into();
        let envelope = accept(envelope, message.as_bytes())?;
        self.make_room(envelope.size)?;
        let (id, rcpts, size) = (envelope.id, envelope.recipients.len(), envelope.size);
        let record = encode(&QuarantinedMessage { envelope, report })?;
        self.inner
            .committer
            .commit(Entry {
                id,
                placement: Placement::Quarantine { record },
                message,
            })
            .await?;
        info!(queue_id = %id, rcpts, size, "message quarantined");
        Ok(id)
    }

    /// The quarantine record of `id`, or `None` if no such message is in quarantine. Its
    /// bytes are read with [`Queue::message`].
    pub fn quarantined(&self, id: &QueueId) -> Result<Option<QuarantinedMessage>, QueueError> {
        let Some(value) = self.get(&self.inner.keyspaces.quarantine, QUARANTINE, id)? else {
            return Ok(None);
        };
        decode(&value, QUARANTINE, id).map(Some)
    }

    /// The ids of every quarantined message, oldest first (for `moat quarantine list`).
    pub fn quarantined_ids(&self) -> Result<Vec<QueueId>, QueueError> {
        ids_in(&self.inner.keyspaces.quarantine, QUARANTINE)
    }

    /// Every quarantined message's record, oldest first.
    pub fn quarantined_all(&self) -> Result<Vec<QuarantinedMessage>, QueueError> {
        let mut records = Vec::new();
        for id in self.quarantined_ids()? {
            records.extend(self.quarantined(&id)?);
        }
        Ok(records)
    }

    /// Releases quarantined `id` into the delivery queue, due at `now_ms`, and returns its
    /// envelope; `None` if no such message is in quarantine. Its retry window starts now:
    /// `received_at_ms` becomes `now_ms` (its Received header keeps the arrival time).
    pub fn release_quarantined(
        &self,
        id: &QueueId,
        now_ms: u64,
    ) -> Result<Option<QueuedEnvelope>, QueueError> {
        let keyspaces = &self.inner.keyspaces;
        let _guard = self.lock_updates();
        let Some(record) = self.quarantined(id)? else {
            return Ok(None);
        };
        let mut envelope = record.envelope;
        envelope.received_at_ms = now_ms;
        envelope.next_attempt_ms = now_ms;
        envelope.held = false;
        let key = keys::id_key(id);
        let mut batch = self.inner.db.durable_batch();
        batch.insert(&keyspaces.envelopes, key, encode(&envelope)?);
        batch.insert(&keyspaces.due, keys::due_key(now_ms, id), Vec::new());
        batch.remove(&keyspaces.quarantine, key);
        self.commit(batch)?;
        self.inner.books.changed(None, Some(&envelope));
        self.wake();
        info!(queue_id = %id, "quarantined message released for delivery");
        Ok(Some(envelope))
    }

    /// Deletes quarantined `id`: its record and its bytes. `false` if no such message is
    /// in quarantine.
    pub fn delete_quarantined(&self, id: &QueueId) -> Result<bool, QueueError> {
        let _guard = self.lock_updates();
        if self.quarantined(id)?.is_none() {
            return Ok(false);
        }
        self.remove_quarantined(&[*id])?;
        info!(queue_id = %id, "quarantined message deleted");
        Ok(true)
    }

    /// Deletes every quarantined message quarantined before `cutoff_ms`; returns how many.
    pub fn expire_quarantine(&self, cutoff_ms: u64) -> Result<usize, QueueError> {
        let _guard = self.lock_updates();
        let expired: Vec<QueueId> = self
            .quarantined_all()?
            .into_iter()
            .filter(|record| record.envelope.received_at_ms < cutoff_ms)
            .map(|record| record.envelope.id)
            .collect();
        if !expired.is_empty() {
            self.remove_quarantined(&expired)?;
            info!(expired = expired.len(), "quarantined messages expired");
        }
        Ok(expired.len())
    }

    /// Removes the records and bytes of `ids` in one fsynced batch. Call with the update
    /// lock held.
    fn remove_quarantined(&self, ids: &[QueueId]) -> Result<(), QueueError> {
        let keyspaces = &self.inner.keyspaces;
        let mut batch = self.inner.db.durable_batch();
        for id in ids {
            let key = keys::id_key(id);
            batch.remove(&keyspaces.quarantine, key);
            batch.remove(&keyspaces.messages, key);
        }
        self.commit(batch)
    }
}
