//! A throw-away layer over a kv backend, for `moat check`: plugins read the live state
//! (Bayes tokens, reputation history) and their writes land in memory and vanish with the
//! check, so checking a corpus teaches the live gateway nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::kv::{EntryChange, KvBackend, KvError, KvNamespace, ScanLimit, decode_counter};

/// A backend whose namespaces read through to `live` and keep their writes in memory.
pub struct OverlayKv {
    live: Arc<dyn KvBackend>,
}

impl OverlayKv {
    /// An overlay over `live`.
    pub fn new(live: Arc<dyn KvBackend>) -> Self {
        Self { live }
    }
}

impl KvBackend for OverlayKv {
    fn namespaces(&self) -> Result<Vec<String>, KvError> {
        self.live.namespaces()
    }

    fn namespace(&self, name: &str) -> Result<Arc<dyn KvNamespace>, KvError> {
        Ok(Arc::new(OverlayNamespace {
            live: self.live.namespace(name)?,
            changes: Mutex::new(Changes::default()),
        }))
    }
}

/// What the plugins wrote: values (`None`: deleted) and id counters, as they now stand.
#[derive(Default)]
struct Changes {
    values: BTreeMap<String, Option<Vec<u8>>>,
    counters: HashMap<u64, i64>,
}

struct OverlayNamespace {
    live: Arc<dyn KvNamespace>,
    changes: Mutex<Changes>,
}

impl OverlayNamespace {
    fn changes(&self) -> std::sync::MutexGuard<'_, Changes> {
        self.changes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn value(&self, changes: &Changes, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match changes.values.get(key) {
            Some(value) => Ok(value.clone()),
            None => self.live.get(key),
        }
    }

    fn counter(&self, changes: &Changes, id: u64) -> Result<i64, KvError> {
        match changes.counters.get(&id) {
            Some(value) => Ok(*value),
            None => Ok(self.live.counters_get(&[id])?.first().copied().unwrap_or(0)),
        }
    }

    fn add_keyed(&self, changes: &mut Changes, key: &str, delta: i64) -> Result<i64, KvError> {
        let now = decode_counter(key, self.value(changes, key)?.as_deref())?.saturating_add(delta);
        changes
            .values
            .insert(key.to_owned(), Some(now.to_le_bytes().to_vec()));
        Ok(now)
    }
}

impl KvNamespace for OverlayNamespace {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let changes = self.changes();
        self.value(&changes, key)
    }

    fn get_now(&self, key: &str) -> Option<Option<Vec<u8>>> {
        if let Some(value) = self.changes().values.get(key) {
            return Some(value.clone());
        }
        self.live.get_now(key)
    }

    fn get_many_now(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        let changes = self.changes();
        let live = self.live.get_many_now(keys)?;
        Some(
            keys.iter()
                .zip(live)
                .map(|(key, live)| changes.values.get(key).cloned().unwrap_or(live))
                .collect(),
        )
    }

    fn counters_get_now(&self, ids: &[u64]) -> Option<Vec<i64>> {
        let changes = self.changes();
        let live = self.live.counters_get_now(ids)?;
        Some(
            ids.iter()
                .zip(live)
                .map(|(id, live)| changes.counters.get(id).copied().unwrap_or(live))
                .collect(),
        )
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.changes()
            .values
            .insert(key.to_owned(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        self.changes().values.insert(key.to_owned(), None);
        Ok(())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        let mut changes = self.changes();
        if self.value(&changes, key)?.as_deref() != expected {
            return Ok(false);
        }
        changes
            .values
            .insert(key.to_owned(), value.map(<[u8]>::to_vec));
        Ok(true)
    }

    /// Writes vanish here, so an expiry changes nothing: whether the key exists.
    fn expire(&self, key: &str, _seconds: u32) -> Result<bool, KvError> {
        let changes = self.changes();
        Ok(self.value(&changes, key)?.is_some())
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let mut changes = self.changes();
        self.add_keyed(&mut changes, key, delta)
    }

    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        let mut changes = self.changes();
        deltas
            .iter()
            .map(|(key, delta)| self.add_keyed(&mut changes, key, *delta))
            .collect()
    }

    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        let changes = self.changes();
        ids.iter().map(|id| self.counter(&changes, *id)).collect()
    }

    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        _room: u64,
    ) -> Result<EntryChange, KvError> {
        let mut changes = self.changes();
        let mut change = EntryChange::default();
        for (id, delta) in deltas {
            let before = self.counter(&changes, *id)?;
            let after = before.saturating_add(*delta);
            change.added += u64::from(before == 0 && after != 0);
            change.removed += u64::from(before != 0 && after == 0);
            changes.counters.insert(*id, after);
        }
        for (key, delta) in keyed {
            self.add_keyed(&mut changes, key, *delta)?;
        }
        Ok(change)
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let changes = self.changes();
        let in_range = |key: &str| key.starts_with(prefix) && start_after.is_none_or(|s| key > s);
        // Enough live entries that the ones this overlay deletes cannot shorten the page.
        let wanted = ScanLimit::entries(limit.entries.saturating_add(changes.values.len()));
        let mut merged: BTreeMap<String, Option<Vec<u8>>> = self
            .live
            .scan(prefix, start_after, wanted)?
            .into_iter()
            .map(|(key, value)| (key, Some(value)))
            .collect();
        for (key, value) in changes.values.iter().filter(|(key, _)| in_range(key)) {
            merged.insert(key.clone(), value.clone());
        }
        let mut page = Vec::new();
        let mut held = 0usize;
        for (key, value) in merged {
            let Some(value) = value else { continue };
            let size = key.len() + value.len();
            if !limit.has_room(page.len(), held, size) {
                break;
            }
            held += size;
            page.push((key, value));
        }
        Ok(page)
    }

    fn len(&self) -> Result<u64, KvError> {
        let changes = self.changes();
        let mut len = self.live.len()?;
        for (key, value) in &changes.values {
            match (self.live.contains(key)?, value.is_some()) {
                (false, true) => len += 1,
                (true, false) => len = len.saturating_sub(1),
                _ => {}
            }
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Database, FjallKv};

    fn live() -> (tempfile::TempDir, Arc<FjallKv>) {
        let dir = tempfile::tempdir().unwrap();
        let database = Database::open(dir.path()).unwrap();
        (dir, Arc::new(FjallKv::with_cache(database, 1 << 20)))
    }

    #[test]
    fn reads_see_live_state_and_writes_never_reach_it() {
        let (_dir, live) = live();
        let live_ns = live.namespace("bayes").unwrap();
        live_ns.set("seen", b"live").unwrap();
        live_ns.increment("total", 5).unwrap();
        live_ns.counters_add(&[(7, 3)], &[], 100).unwrap();

        let overlay = OverlayKv::new(live.clone()).namespace("bayes").unwrap();
        assert_eq!(overlay.get("seen").unwrap().as_deref(), Some(&b"live"[..]));
        assert_eq!(overlay.increment("total", 2).unwrap(), 7);
        assert_eq!(overlay.counters_get(&[7, 8]).unwrap(), [3, 0]);
        overlay.counters_add(&[(7, 1), (8, 2)], &[], 100).unwrap();
        assert_eq!(overlay.counters_get(&[7, 8]).unwrap(), [4, 2]);
        overlay.set("new", b"overlay").unwrap();
        overlay.delete("seen").unwrap();
        assert_eq!(overlay.get("seen").unwrap(), None);
        assert!(
            overlay
                .compare_and_swap("new", Some(b"overlay"), Some(b"swapped"))
                .unwrap()
        );
        assert!(
            !overlay
                .compare_and_swap("new", Some(b"overlay"), None)
                .unwrap()
        );
        let keys: Vec<String> = overlay
            .scan("", None, ScanLimit::entries(10))
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["new", "total"]);
        assert_eq!(overlay.len().unwrap(), live_ns.len().unwrap());

        // The live namespace is as it was.
        assert_eq!(live_ns.get("seen").unwrap().as_deref(), Some(&b"live"[..]));
        assert_eq!(live_ns.get("new").unwrap(), None);
        assert_eq!(live_ns.increment("total", 0).unwrap(), 5);
        assert_eq!(live_ns.counters_get(&[7, 8]).unwrap(), [3, 0]);
    }
}
