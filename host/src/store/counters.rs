//! Id counters: a namespace's counters keyed by 64-bit ids (the hashed tokens of a
//! Bayesian filter, hashed addresses), held in memory in full.
//!
//! A Bayesian filter reads about 1,500 counters per message, most of them for tokens it
//! has never seen. Through string keys each one costs a cache lookup, and each unseen one a
//! walk of the storage's memtable and table filters: microseconds per key, milliseconds
//! per message. Here a read is one hash lookup under a read lock, and an unseen id costs
//! the same as a known one. The price is memory: about 32 bytes per counter, bounded by
//! the namespace's `max_entries` quota (a million counters: about 32 MiB).
//!
//! The table is the in-memory image of the entries stored under the counter tag; the
//! backend changes both under its write lock, the storage first. A counter that returns to
//! 0 is removed, so the table holds only what a read would find non-zero.

use std::collections::HashMap;

/// The hasher: ids are hashes already, so a fast fixed one is enough.
type IdHasher = foldhash::fast::FixedState;

/// What a batch of id deltas does to the stored entries, worked out before writing.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CounterChanges {
    /// Ids whose new value is non-zero, with that value: written.
    pub(super) set: Vec<(u64, i64)>,
    /// Ids that were stored and are now 0: removed.
    pub(super) removed: Vec<u64>,
    /// How many of `set` were not stored before.
    pub(super) added: u64,
}

/// A namespace's id counters, in memory.
#[derive(Debug, Default)]
pub(super) struct CounterTable {
    values: HashMap<u64, i64, IdHasher>,
}

impl CounterTable {
    /// A table of the stored `(id, value)` entries.
    pub(super) fn from_entries(entries: impl IntoIterator<Item = (u64, i64)>) -> Self {
        let mut values = HashMap::with_hasher(IdHasher::default());
        values.extend(entries.into_iter().filter(|&(_, value)| value != 0));
        Self { values }
    }

    /// The value of each id, in order; 0 for an id not stored.
    pub(super) fn get_many(&self, ids: &[u64]) -> Vec<i64> {
        ids.iter()
            .map(|id| self.values.get(id).copied().unwrap_or(0))
            .collect()
    }

    /// What adding `deltas` would write (an id given twice gets both deltas; values
    /// saturate instead of wrapping, as string-key counters do).
    pub(super) fn plan(&self, deltas: &[(u64, i64)]) -> CounterChanges {
        let mut totals: HashMap<u64, i64, IdHasher> =
            HashMap::with_capacity_and_hasher(deltas.len(), IdHasher::default());
        for &(id, delta) in deltas {
            let current = match totals.get(&id) {
                Some(total) => *total,
                None => self.values.get(&id).copied().unwrap_or(0),
            };
            totals.insert(id, current.saturating_add(delta));
        }
        let mut changes = CounterChanges::default();
        for (id, value) in totals {
            let stored = self.values.contains_key(&id);
            match (value, stored) {
                (0, true) => changes.removed.push(id),
                (0, false) => {}
                (value, stored) => {
                    changes.added += u64::from(!stored);
                    changes.set.push((id, value));
                }
            }
        }
        changes
    }

    /// Applies changes that were written to storage.
    pub(super) fn apply(&mut self, changes: &CounterChanges) {
        for id in &changes.removed {
            self.values.remove(id);
        }
        self.values.extend(changes.set.iter().copied());
    }

    /// How many counters are stored.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// Every counter, in no particular order.
    pub(super) fn all(&self) -> Vec<(u64, i64)> {
        self.values
            .iter()
            .map(|(&id, &value)| (id, value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ids_read_zero_and_zeroes_are_not_kept() {
        let table = CounterTable::from_entries([(1, 5), (2, 0)]);
        assert_eq!(table.get_many(&[1, 2, 3]), vec![5, 0, 0]);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_plan_adds_sets_and_removes() {
        let mut table = CounterTable::from_entries([(1, 5), (2, 1)]);
        let mut changes = table.plan(&[(1, 2), (2, -1), (3, 4), (3, 1), (4, 0), (1, -1)]);
        changes.set.sort_unstable();
        assert_eq!(changes.set, vec![(1, 6), (3, 5)]);
        assert_eq!(changes.removed, vec![2]);
        assert_eq!(changes.added, 1);
        table.apply(&changes);
        assert_eq!(table.get_many(&[1, 2, 3, 4]), vec![6, 0, 5, 0]);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn counters_saturate() {
        let table = CounterTable::from_entries([(1, i64::MAX - 1)]);
        let changes = table.plan(&[(1, 5), (2, i64::MIN), (2, -1)]);
        let mut set = changes.set;
        set.sort_unstable();
        assert_eq!(set, vec![(1, i64::MAX), (2, i64::MIN)]);
    }
}
