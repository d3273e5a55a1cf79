//! Changing a queued message after acceptance: [`Queue::modify`] reads an envelope, lets
//! the caller change it, and writes the result back in one durable batch with everything
//! that must change with it: the due entry moved (or dropped while held), the message
//! removed when settled, and new messages (bounces) queued. A bounce is therefore on disk
//! in the same fsync that removes the message it reports on: never one without the other.
//!
//! Read, change and write happen under one lock, so a delivery outcome and an operator's
//! command on the same message never overwrite each other; a message deleted meanwhile
//! reads as `None`, and the caller's change is dropped.
//!
//! A change that decides anything — a recipient delivered or failed, the message removed,
//! a bounce queued, a hold or release — is fsynced before `modify` returns. A change that
//! only defers (a new `last_error`, a later `next_attempt_ms`, a flush) is written without
//! an fsync: losing it to a machine failure only means the message is tried again sooner,
//! and a downstream that is down for hours then costs no fsync per queued message.

use std::collections::HashSet;

use tracing::info;

use super::{
    ENVELOPES, NewMessage, Queue, QueueError, QueueId, QueuedEnvelope, accept, decode, encode, keys,
};

/// What a change asks of the queue besides the envelope's new content.
#[derive(Debug, Default)]
pub struct Settle {
    /// Remove the message: its envelope, bytes and due entry.
    pub remove: bool,
    /// Messages to queue in the same batch (bounces), each with its raw bytes.
    pub enqueue: Vec<(NewMessage, Vec<u8>)>,
}

impl Queue {
    /// Reads the envelope of `id`, calls `change` on it, and writes what it asks in one
    /// fsynced batch: the changed envelope (if it changed), its due entry at the new
    /// `next_attempt_ms` (none while `held`), or its removal, and the new messages of
    /// [`Settle::enqueue`]. Returns `change`'s value and the new messages' ids, or `None`
    /// when no message `id` is queued (then `change` is not called).
    ///
    /// Blocks on disk I/O and on other updates: call it through `spawn_blocking` from async
    /// code.
    pub fn modify<T>(
        &self,
        id: &QueueId,
        change: impl FnOnce(&mut QueuedEnvelope) -> (Settle, T),
    ) -> Result<Option<(T, Vec<QueueId>)>, QueueError> {
        let keyspaces = &self.inner.keyspaces;
        let _guard = self.lock_updates();
        let Some(value) = self.get(&keyspaces.envelopes, ENVELOPES, id)? else {
            return Ok(None);
        };
        let before: QueuedEnvelope = decode(&value, ENVELOPES, id)?;
        let mut after = before.clone();
        let (settle, result) = change(&mut after);

        let key = keys::id_key(id);
        let old_due = (!before.held).then(|| keys::due_key(before.next_attempt_ms, id));
        let new_due =
            (!after.held && !settle.remove).then(|| keys::due_key(after.next_attempt_ms, id));
        if after == before && !settle.remove && settle.enqueue.is_empty() && old_due == new_due {
            return Ok(Some((result, Vec::new())));
        }

        let decides = settle.remove
            || !settle.enqueue.is_empty()
            || before.held != after.held
            || before
                .recipients
                .iter()
                .zip(&after.recipients)
                .any(|(old, new)| old.state.is_final() != new.state.is_final());
        let mut batch = if decides {
            self.inner.db.durable_batch()
        } else {
            self.inner.db.buffered_batch()
        };
        if settle.remove {
            batch.remove(&keyspaces.envelopes, key);
            batch.remove(&keyspaces.messages, key);
        } else {
            batch.insert(&keyspaces.envelopes, key, encode(&after)?);
        }
        if old_due != new_due {
            if let Some(old) = old_due {
                batch.remove(&keyspaces.due, old);
            }
            if let Some(new) = new_due {
                batch.insert(&keyspaces.due, new, Vec::new());
            }
        }
        let mut queued = Vec::with_capacity(settle.enqueue.len());
        let mut bounces = Vec::with_capacity(settle.enqueue.len());
        for (envelope, message) in settle.enqueue {
            let record = accept(envelope, &message)?;
            let new_key = keys::id_key(&record.id);
            batch.insert(&keyspaces.messages, new_key, message);
            batch.insert(
                &keyspaces.due,
                keys::due_key(record.next_attempt_ms, &record.id),
                Vec::new(),
            );
            batch.insert(&keyspaces.envelopes, new_key, encode(&record)?);
            queued.push(record.id);
            bounces.push(record);
        }
        batch
            .commit()
            .map_err(|source| QueueError::from_commit(std::sync::Arc::new(source)))?;
        let tally = &self.inner.tally;
        tally.changed(Some(&before), (!settle.remove).then_some(&after));
        for bounce in &bounces {
            tally.changed(None, Some(bounce));
        }
        if !queued.is_empty() || new_due.is_some() {
            self.wake();
        }
        for new_id in &queued {
            info!(queue_id = %new_id, about = %id, "bounce queued");
        }
        if settle.remove {
            info!(queue_id = %id, "message left the queue");
        }
        Ok(Some((result, queued)))
    }

    /// Holds `id`: it is not delivered until released (its due entry is dropped). `false`
    /// if there is no such message.
    pub fn hold(&self, id: &QueueId) -> Result<bool, QueueError> {
        let changed = self.modify(id, |envelope| {
            envelope.held = true;
            (Settle::default(), ())
        })?;
        Ok(changed.is_some())
    }

    /// Releases a held `id` and makes it due now. `false` if there is no such message.
    pub fn release(&self, id: &QueueId, now_ms: u64) -> Result<bool, QueueError> {
        self.count_flush();
        let changed = self.modify(id, |envelope| {
            if envelope.held {
                envelope.held = false;
                envelope.next_attempt_ms = now_ms;
            }
            (Settle::default(), ())
        })?;
        Ok(changed.is_some())
    }

    /// Makes `id` due now, unless it is held. `false` if there is no such message.
    pub fn flush(&self, id: &QueueId, now_ms: u64) -> Result<bool, QueueError> {
        self.count_flush();
        let changed = self.modify(id, |envelope| {
            envelope.next_attempt_ms = envelope.next_attempt_ms.min(now_ms);
            (Settle::default(), ())
        })?;
        Ok(changed.is_some())
    }

    /// Makes every queued message that is not held due now; returns how many there were.
    /// Reads every envelope.
    pub fn flush_all(&self, now_ms: u64) -> Result<usize, QueueError> {
        let mut flushed = 0;
        for id in self.ids()? {
            if self.flush(&id, now_ms)? {
                flushed += 1;
            }
        }
        Ok(flushed)
    }

    /// Deletes `id` (an operator's decision: no bounce is sent). `false` if there is no
    /// such message. A delivery in progress may still complete.
    pub fn delete(&self, id: &QueueId) -> Result<bool, QueueError> {
        let changed = self.modify(id, |_| {
            (
                Settle {
                    remove: true,
                    ..Settle::default()
                },
                (),
            )
        })?;
        if changed.is_some() {
            info!(queue_id = %id, "message deleted by the operator");
        }
        Ok(changed.is_some())
    }

    /// Due messages not in `skip`, up to `limit`, soonest first (the scheduler's view of
    /// [`Queue::due`]: messages already being delivered are passed over).
    pub fn due_except(
        &self,
        now_ms: u64,
        skip: &HashSet<QueueId>,
        limit: usize,
    ) -> Result<Vec<QueueId>, QueueError> {
        let mut due = self.due(now_ms, limit + skip.len())?;
        due.retain(|id| !skip.contains(id));
        due.truncate(limit);
        Ok(due)
    }
}
