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

/// The most messages one operator command changes per batch (and per fsync).
pub const OPERATOR_BATCH: usize = 1000;

/// What an operator does to queued messages (`moat queue …`, the admin API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorAction {
    /// Due now, unless held.
    Flush,
    /// Not delivered until released: the due entry is dropped.
    Hold,
    /// Released and due now.
    Release,
    /// Removed, without a bounce.
    Delete,
}

impl OperatorAction {
    /// The lower-case name, as the CLI and the admin API spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Flush => "flush",
            Self::Hold => "hold",
            Self::Release => "release",
            Self::Delete => "delete",
        }
    }

    /// The action named `name` (as [`OperatorAction::name`] spells it).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Flush, Self::Hold, Self::Release, Self::Delete]
            .into_iter()
            .find(|action| action.name() == name)
    }

    fn change(self, envelope: &mut QueuedEnvelope, now_ms: u64) -> (Settle, ()) {
        let mut settle = Settle::default();
        match self {
            Self::Flush => envelope.next_attempt_ms = envelope.next_attempt_ms.min(now_ms),
            Self::Hold => envelope.held = true,
            Self::Release => {
                if envelope.held {
                    envelope.held = false;
                    envelope.next_attempt_ms = now_ms;
                }
            }
            Self::Delete => settle.remove = true,
        }
        (settle, ())
    }
}

/// One message's change, worked out before anything is written.
pub(super) struct Plan {
    id: QueueId,
    before: QueuedEnvelope,
    after: QueuedEnvelope,
    remove: bool,
    /// New messages (bounces) with their bytes.
    pub(super) bounces: Vec<(QueuedEnvelope, Vec<u8>)>,
}

impl Plan {
    fn old_due(&self) -> Option<[u8; keys::DUE_KEY_LEN]> {
        (!self.before.held).then(|| keys::due_key(self.before.next_attempt_ms, &self.id))
    }

    fn new_due(&self) -> Option<[u8; keys::DUE_KEY_LEN]> {
        (!self.after.held && !self.remove)
            .then(|| keys::due_key(self.after.next_attempt_ms, &self.id))
    }

    /// Whether anything is to be written.
    fn changes(&self) -> bool {
        self.after != self.before
            || self.remove
            || !self.bounces.is_empty()
            || self.old_due() != self.new_due()
    }

    /// Whether the change decides anything (and must be fsynced): a removal, a bounce, a
    /// hold or release, a recipient reaching a final state.
    fn decides(&self) -> bool {
        self.remove
            || !self.bounces.is_empty()
            || self.before.held != self.after.held
            || self
                .before
                .recipients
                .iter()
                .zip(&self.after.recipients)
                .any(|(old, new)| old.state.is_final() != new.state.is_final())
    }
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
        let _guard = self.lock_updates();
        let Some((plan, result)) = self.plan(id, change)? else {
            return Ok(None);
        };
        let queued = plan.bounces.iter().map(|(record, _)| record.id).collect();
        self.write(vec![plan])?;
        Ok(Some((result, queued)))
    }

    /// Applies an operator's `action` to every message of `ids` (see
    /// [`Queue::modify_many`]). Returns the ids that were queued; the others are not there.
    pub fn apply(
        &self,
        action: OperatorAction,
        ids: &[QueueId],
        now_ms: u64,
    ) -> Result<Vec<QueueId>, QueueError> {
        if matches!(action, OperatorAction::Flush | OperatorAction::Release) {
            self.count_flush();
        }
        let found = self.modify_many(ids, |envelope| Ok(action.change(envelope, now_ms).0))?;
        if action == OperatorAction::Delete {
            for id in &found {
                info!(queue_id = %id, "message deleted by the operator");
            }
        }
        Ok(found)
    }

    /// [`Queue::modify`] for each message of `ids` (each once), in batches of at most
    /// [`OPERATOR_BATCH`] messages: one fsync per batch, and other updates wait for one
    /// batch at most. Returns the ids that were queued, in order; the others are not there.
    /// A `change` that fails stops there: its batch is not written (earlier ones are).
    pub fn modify_many(
        &self,
        ids: &[QueueId],
        mut change: impl FnMut(&mut QueuedEnvelope) -> Result<Settle, QueueError>,
    ) -> Result<Vec<QueueId>, QueueError> {
        let mut seen = HashSet::with_capacity(ids.len());
        let ids: Vec<QueueId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(OPERATOR_BATCH) {
            let _guard = self.lock_updates();
            let mut plans = Vec::with_capacity(chunk.len());
            for id in chunk {
                let planned = self.plan(id, |envelope| match change(envelope) {
                    Ok(settle) => (settle, Ok(())),
                    Err(error) => (Settle::default(), Err(error)),
                })?;
                if let Some((plan, outcome)) = planned {
                    outcome?;
                    plans.push(plan);
                }
            }
            let ids: Vec<QueueId> = plans.iter().map(|plan| plan.id).collect();
            self.write(plans)?;
            found.extend(ids);
        }
        Ok(found)
    }

    /// Holds `id`: it is not delivered until released (its due entry is dropped). `false`
    /// if there is no such message.
    pub fn hold(&self, id: &QueueId) -> Result<bool, QueueError> {
        self.apply_one(OperatorAction::Hold, id, 0)
    }

    /// Releases a held `id` and makes it due now. `false` if there is no such message.
    pub fn release(&self, id: &QueueId, now_ms: u64) -> Result<bool, QueueError> {
        self.apply_one(OperatorAction::Release, id, now_ms)
    }

    /// Makes `id` due now, unless it is held. `false` if there is no such message.
    pub fn flush(&self, id: &QueueId, now_ms: u64) -> Result<bool, QueueError> {
        self.apply_one(OperatorAction::Flush, id, now_ms)
    }

    /// Makes every queued message that is not held due now; returns how many there were.
    /// Reads every envelope.
    pub fn flush_all(&self, now_ms: u64) -> Result<usize, QueueError> {
        Ok(self
            .apply(OperatorAction::Flush, &self.ids()?, now_ms)?
            .len())
    }

    /// Deletes `id` (an operator's decision: no bounce is sent). `false` if there is no
    /// such message. A delivery in progress may still complete.
    pub fn delete(&self, id: &QueueId) -> Result<bool, QueueError> {
        self.apply_one(OperatorAction::Delete, id, 0)
    }

    fn apply_one(
        &self,
        action: OperatorAction,
        id: &QueueId,
        now_ms: u64,
    ) -> Result<bool, QueueError> {
        Ok(!self.apply(action, &[*id], now_ms)?.is_empty())
    }

    /// Reads `id` and works out what `change` makes of it, writing nothing; `None` when
    /// no such message is queued.
    pub(super) fn plan<T>(
        &self,
        id: &QueueId,
        change: impl FnOnce(&mut QueuedEnvelope) -> (Settle, T),
    ) -> Result<Option<(Plan, T)>, QueueError> {
        let keyspaces = &self.inner.keyspaces;
        let Some(value) = self.get(&keyspaces.envelopes, ENVELOPES, id)? else {
            return Ok(None);
        };
        let before: QueuedEnvelope = decode(&value, ENVELOPES, id)?;
        let mut after = before.clone();
        let (settle, result) = change(&mut after);
        let bounces = settle
            .enqueue
            .into_iter()
            .map(|(envelope, message)| Ok((accept(envelope, &message)?, message)))
            .collect::<Result<Vec<_>, QueueError>>()?;
        let plan = Plan {
            id: *id,
            before,
            after,
            remove: settle.remove,
            bounces,
        };
        Ok(Some((plan, result)))
    }

    /// Writes `plans` in one batch, fsynced when any of them decides something, then
    /// keeps the counts and wakes delivery. Call with the update lock held.
    pub(super) fn write(&self, plans: Vec<Plan>) -> Result<(), QueueError> {
        let plans: Vec<Plan> = plans.into_iter().filter(Plan::changes).collect();
        if plans.is_empty() {
            return Ok(());
        }
        let keyspaces = &self.inner.keyspaces;
        let mut batch = if plans.iter().any(Plan::decides) {
            self.inner.db.durable_batch()
        } else {
            self.inner.db.buffered_batch()
        };
        let mut wake = false;
        for plan in &plans {
            let key = keys::id_key(&plan.id);
            if plan.remove {
                batch.remove(&keyspaces.envelopes, key);
                batch.remove(&keyspaces.messages, key);
            } else {
                batch.insert(&keyspaces.envelopes, key, encode(&plan.after)?);
            }
            let (old_due, new_due) = (plan.old_due(), plan.new_due());
            if old_due != new_due {
                if let Some(old) = old_due {
                    batch.remove(&keyspaces.due, old);
                }
                if let Some(new) = new_due {
                    batch.insert(&keyspaces.due, new, Vec::new());
                }
            }
            for (record, message) in &plan.bounces {
                let new_key = keys::id_key(&record.id);
                batch.insert(&keyspaces.messages, new_key, message.clone());
                batch.insert(
                    &keyspaces.due,
                    keys::due_key(record.next_attempt_ms, &record.id),
                    Vec::new(),
                );
                batch.insert(&keyspaces.envelopes, new_key, encode(record)?);
            }
            wake |= !plan.bounces.is_empty() || new_due.is_some();
        }
        self.commit(batch)?;
        let books = &self.inner.books;
        for plan in &plans {
            books.changed(Some(&plan.before), (!plan.remove).then_some(&plan.after));
            for (bounce, _) in &plan.bounces {
                books.changed(None, Some(bounce));
                info!(queue_id = %bounce.id, about = %plan.id, "bounce queued");
            }
            if plan.remove {
                info!(queue_id = %plan.id, "message left the queue");
            }
        }
        if wake {
            self.wake();
        }
        Ok(())
    }

    /// Due messages not in `skip`, up to `limit`, soonest first (the scheduler's view of
    /// [`Queue::due`]: messages already being delivered are passed over).
    pub fn due_except(
        &self,
        now_ms: u64,
        skip: &HashSet<QueueId>,
        limit: usize,
    ) -> Result<Vec<QueueId>, QueueError> {
        Ok(self.inner.books.schedule.due(now_ms, skip, limit))
    }
}
