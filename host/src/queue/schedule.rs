//! [`Schedule`]: the due index in memory, so that the delivery scheduler never scans the
//! `queue.due` keyspace.
//!
//! The keyspace stays the durable schedule: it is written in the same batch as each
//! envelope, and read once, when the queue is opened. But a message leaves the index as a
//! deleted key, and in an LSM tree deleted keys stay in the memtable until compaction: the
//! delivered messages' keys sort first (they were due earliest), so each scan from the
//! start walked past every message delivered since the last flush, and the scheduler scans
//! after every enqueue. The queue's writers apply each committed change here too, as they
//! do to the counts.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use fjall::Keyspace;

use super::{DUE, QueueError, QueueId, QueuedEnvelope, keys};

/// The due entries of every queued message that is not held: (next attempt, id).
#[derive(Debug, Default)]
pub(super) struct Schedule {
    entries: Mutex<BTreeSet<(u64, QueueId)>>,
}

impl Schedule {
    /// The schedule the `queue.due` keyspace holds (a key that is not a due key is logged
    /// and skipped).
    pub(super) fn load(due: &Keyspace) -> Result<Self, QueueError> {
        let mut entries = BTreeSet::new();
        for guard in due.iter() {
            let key = guard.key().map_err(|source| QueueError::Read {
                keyspace: DUE,
                source,
            })?;
            match keys::parse_due_key(&key) {
                Some(entry) => {
                    entries.insert(entry);
                }
                // Not a key Moat writes: the queue still opens (to be served and repaired),
                // and the scheduler passes it over as it did reading the keyspace.
                None => tracing::error!(
                    keyspace = DUE,
                    len = key.len(),
                    "a key of the due index is not a due key; skipped"
                ),
            }
        }
        Ok(Self {
            entries: Mutex::new(entries),
        })
    }

    fn entries(&self) -> MutexGuard<'_, BTreeSet<(u64, QueueId)>> {
        // Each change is one insert or removal: a panic elsewhere cannot leave it half done.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a committed change, as the due index got it: `before`'s entry (if it was
    /// not held) left, `after`'s (if it is not held) came.
    pub(super) fn changed(&self, before: Option<&QueuedEnvelope>, after: Option<&QueuedEnvelope>) {
        let entry = |envelope: &QueuedEnvelope| {
            (!envelope.held).then_some((envelope.next_attempt_ms, envelope.id))
        };
        let (old, new) = (before.and_then(entry), after.and_then(entry));
        if old == new {
            return;
        }
        let mut entries = self.entries();
        if let Some(old) = old {
            entries.remove(&old);
        }
        if let Some(new) = new {
            entries.insert(new);
        }
    }

    /// Up to `limit` ids due at or before `now_ms` and not in `skip`, soonest first, ties
    /// oldest first.
    pub(super) fn due(&self, now_ms: u64, skip: &HashSet<QueueId>, limit: usize) -> Vec<QueueId> {
        self.entries()
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .map(|(_, id)| *id)
            .filter(|id| !skip.contains(id))
            .take(limit)
            .collect()
    }

    /// When the soonest entry not in `skip` is due.
    pub(super) fn next(&self, skip: &HashSet<QueueId>) -> Option<u64> {
        self.entries()
            .iter()
            .find(|(_, id)| !skip.contains(id))
            .map(|(at, _)| *at)
    }
}
