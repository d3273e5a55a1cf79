//! Quarantine: messages the filters' decision holds back, stored as durably as queued ones
//! but never delivered until an operator releases them.
//!
//! A quarantined message's bytes go to `queue.messages` like a queued one's (so a release
//! moves only its small record), and its [`QuarantinedMessage`] to `queue.quarantine`; it
//! has no envelope in `queue.envelopes` and no due entry, so delivery never sees it. Both
//! are written by the group committer in one fsynced batch, shared with enqueues. Release
//! and deletion (the `moat quarantine` commands) are not here yet.

use serde::{Deserialize, Serialize};
use tracing::info;

use super::commit::{Entry, Placement};
use super::{
    NewMessage, QUARANTINE, Queue, QueueError, QueueId, QueuedEnvelope, accept, decode, encode,
    ids_in,
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
        message: Vec<u8>,
        report: String,
    ) -> Result<QueueId, QueueError> {
        let envelope = accept(envelope, &message)?;
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
}
