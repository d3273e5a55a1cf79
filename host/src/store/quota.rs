//! Quotas on a plugin's kv namespace: key size, value size, number of keys, enforced over
//! any backend by [`QuotaNamespace`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::kv::{EntryChange, KvError, KvNamespace, QuotaLimit, ScanLimit};

/// The counter's size: what `increment` stores.
const COUNTER_BYTES: usize = 8;

/// The bounds one plugin's namespace is held to (`[kv]` in the config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    /// The longest key, in bytes.
    pub max_key_bytes: usize,
    /// The largest value, in bytes.
    pub max_value_bytes: usize,
    /// The most keys the namespace may hold.
    pub max_entries: u64,
}

impl Default for KvQuota {
    /// 256-byte keys, 64 KiB values, a million keys.
    fn default() -> Self {
        Self {
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
            max_entries: 1_000_000,
        }
    }
}

/// A namespace held to a [`KvQuota`], over any backend's namespace.
///
/// Writes that create or replace a value check the key and value sizes; writes that would
/// add a key check the count. The count of keys is read from the backend once, when the
/// wrapper is made, then kept in memory: adjusted when a write adds a key or a delete
/// removes one. It is exact as long as this wrapper is the only writer, that is within one
/// process, with one wrapper per namespace (keep it and share it; do not make a second).
/// A backend shared by several gateways ([`QuotaNamespace::shared`]) is written by the
/// others too: there the count is read from the backend again when it is older than
/// [`SHARED_COUNT_AGE`], so the limit holds for the whole cluster, give or take what the
/// other gateways add within that time.
///
/// Keys over the key-size limit can still be read and deleted (the quota may have been
/// lowered since they were written).
pub struct QuotaNamespace {
    inner: Arc<dyn KvNamespace>,
    quota: KvQuota,
    entries: AtomicU64,
    /// Held while a write checks whether its key exists and then writes, so the count
    /// follows the writes exactly.
    writes: Mutex<()>,
    /// For a shared backend: when the count was last read from it (`None`: never).
    counted_at: Option<Mutex<Option<Instant>>>,
    /// When expired keys were last removed (`None`: never).
    swept_at: Mutex<Option<Instant>>,
}

/// How often a namespace's writes remove the keys whose expiry passed (and always first
/// when the namespace is full).
pub(super) const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// The most expired keys one sweep removes, bounding how long it holds the write lock.
pub(super) const SWEEP_BATCH: usize = 5_000;

/// How old the count of a shared namespace may be before a write reads it again.
pub(super) const SHARED_COUNT_AGE: Duration = Duration::from_secs(1);

impl QuotaNamespace {
    /// Holds `inner` to `quota`, counting its keys now (which may scan the namespace).
    pub fn new(inner: Arc<dyn KvNamespace>, quota: KvQuota) -> Result<Self, KvError> {
        let entries = inner.len()?;
        Ok(Self {
            inner,
            quota,
            entries: AtomicU64::new(entries),
            writes: Mutex::new(()),
            counted_at: None,
            swept_at: Mutex::new(None),
        })
    }

    /// Holds `inner`, a namespace other gateways write too, to `quota`. Nothing is read
    /// now (the backend may not answer yet): the first write counts the keys.
    pub fn shared(inner: Arc<dyn KvNamespace>, quota: KvQuota) -> Self {
        Self {
            inner,
            quota,
            entries: AtomicU64::new(0),
            writes: Mutex::new(()),
            counted_at: Some(Mutex::new(None)),
            swept_at: Mutex::new(None),
        }
    }

    /// Removes the keys whose expiry passed, when the last sweep is older than
    /// [`SWEEP_INTERVAL`] or `now` is asked for, and counts them out. Call with `writes`
    /// held. A failure is logged: the write that triggered it goes on.
    fn sweep(&self, now: bool) {
        {
            let mut at = self.swept_at.lock().unwrap_or_else(PoisonError::into_inner);
            if !now && at.is_some_and(|at| at.elapsed() < SWEEP_INTERVAL) {
                return;
            }
            *at = Some(Instant::now());
        }
        match self
            .inner
            .remove_expired(crate::time::now_ms(), SWEEP_BATCH)
        {
            Ok(0) => {}
            Ok(removed) => {
                self.count_removed(removed);
                tracing::debug!(removed, "expired kv keys removed");
            }
            Err(error) => tracing::warn!(%error, "cannot remove expired kv keys"),
        }
    }

    /// The count a write checks against: for a shared backend, read again from it when
    /// older than [`SHARED_COUNT_AGE`]. Expired keys are swept first when due.
    fn counted(&self) -> Result<u64, KvError> {
        self.sweep(false);
        if let Some(counted_at) = &self.counted_at {
            let mut at = counted_at.lock().unwrap_or_else(PoisonError::into_inner);
            if at.is_none_or(|at| at.elapsed() >= SHARED_COUNT_AGE) {
                self.entries.store(self.inner.len()?, Ordering::Release);
                *at = Some(Instant::now());
            }
        }
        Ok(self.entries())
    }

    /// The number of keys as this wrapper counts them.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Acquire)
    }

    fn check_key(&self, key: &str) -> Result<(), KvError> {
        check(QuotaLimit::KeyBytes, key.len(), self.quota.max_key_bytes)
    }

    fn check_value(&self, len: usize) -> Result<(), KvError> {
        check(QuotaLimit::ValueBytes, len, self.quota.max_value_bytes)
    }

    /// Refuses adding a key when the namespace is full (of keys that have not expired).
    fn check_room(&self) -> Result<(), KvError> {
        let mut entries = self.counted()?;
        if entries >= self.quota.max_entries {
            self.sweep(true);
            entries = self.entries();
        }
        if entries >= self.quota.max_entries {
            return Err(KvError::QuotaExceeded {
                limit: QuotaLimit::Entries,
                actual: entries.saturating_add(1),
                max: self.quota.max_entries,
            });
        }
        Ok(())
    }

    /// Counts `removed` keys fewer: never below zero, even if the backend changed behind
    /// our back.
    fn count_removed(&self, removed: u64) {
        let _ = self
            .entries
            .try_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(removed))
            });
    }

    /// Runs `write`, which adds `key` if it is missing, keeping the count: refused when
    /// the key is new and the namespace is full.
    fn write_counted<T>(
        &self,
        key: &str,
        write: impl FnOnce(&dyn KvNamespace) -> Result<T, KvError>,
    ) -> Result<T, KvError> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let is_new = !self.inner.contains(key)?;
        if is_new {
            self.check_room()?;
        }
        let result = write(self.inner.as_ref())?;
        if is_new {
            self.entries.fetch_add(1, Ordering::AcqRel);
        }
        Ok(result)
    }
}

impl KvNamespace for QuotaNamespace {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.inner.get(key)
    }

    fn contains(&self, key: &str) -> Result<bool, KvError> {
        self.inner.contains(key)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        self.check_value(value.len())?;
        self.write_counted(key, |inner| inner.set(key, value))
    }

    fn delete(&self, key: &str) -> Result<(), KvError> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let existed = self.inner.contains(key)?;
        self.inner.delete(key)?;
        if existed {
            self.count_removed(1);
        }
        Ok(())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        self.check_key(key)?;
        if let Some(value) = value {
            self.check_value(value.len())?;
        }
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let existed = self.inner.contains(key)?;
        if !existed && value.is_some() && expected.is_none() {
            self.check_room()?;
        }
        let swapped = self.inner.compare_and_swap(key, expected, value)?;
        if swapped {
            match (existed, value.is_some()) {
                (false, true) => {
                    self.entries.fetch_add(1, Ordering::AcqRel);
                }
                (true, false) => self.count_removed(1),
                _ => {}
            }
        }
        Ok(swapped)
    }

    fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.check_key(key)?;
        self.check_value(COUNTER_BYTES)?;
        self.write_counted(key, |inner| inner.increment(key, delta))
    }

    fn expire(&self, key: &str, seconds: u32) -> Result<bool, KvError> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        self.sweep(false);
        self.inner.expire(key, seconds)
    }

    fn remove_expired(&self, now_ms: u64, limit: usize) -> Result<u64, KvError> {
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let removed = self.inner.remove_expired(now_ms, limit)?;
        self.count_removed(removed);
        Ok(removed)
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.inner.get_many(keys)
    }

    fn increment_many(&self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        for (key, _) in deltas {
            self.check_key(key)?;
        }
        self.check_value(COUNTER_BYTES)?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut new_keys = std::collections::HashSet::new();
        for (key, _) in deltas {
            if !new_keys.contains(key.as_str()) && !self.inner.contains(key)? {
                new_keys.insert(key.as_str());
            }
        }
        let added = new_keys.len() as u64;
        let entries = self.counted()?;
        if added > 0 && entries.saturating_add(added) > self.quota.max_entries {
            return Err(KvError::QuotaExceeded {
                limit: QuotaLimit::Entries,
                actual: entries.saturating_add(added),
                max: self.quota.max_entries,
            });
        }
        let values = self.inner.increment_many(deltas)?;
        self.entries.fetch_add(added, Ordering::AcqRel);
        Ok(values)
    }

    fn counters_get(&self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        self.inner.counters_get(ids)
    }

    fn counters_add(
        &self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
        room: u64,
    ) -> Result<EntryChange, KvError> {
        for (key, _) in keyed {
            self.check_key(key)?;
        }
        self.check_value(COUNTER_BYTES)?;
        let _writing = self.writes.lock().unwrap_or_else(PoisonError::into_inner);
        let entries = self.counted()?;
        let ours = self.quota.max_entries.saturating_sub(entries);
        let change = self
            .inner
            .counters_add(deltas, keyed, room.min(ours))
            .map_err(|error| match error {
                KvError::QuotaExceeded {
                    limit: QuotaLimit::Entries,
                    actual,
                    ..
                } => KvError::QuotaExceeded {
                    limit: QuotaLimit::Entries,
                    actual: entries.saturating_add(actual),
                    max: self.quota.max_entries,
                },
                other => other,
            })?;
        let entries = entries
            .saturating_add(change.added)
            .saturating_sub(change.removed);
        self.entries.store(entries, Ordering::Release);
        Ok(change)
    }

    fn get_now(&self, key: &str) -> Option<Option<Vec<u8>>> {
        self.inner.get_now(key)
    }

    fn get_many_now(&self, keys: &[String]) -> Option<Vec<Option<Vec<u8>>>> {
        self.inner.get_many_now(keys)
    }

    fn counters_get_now(&self, ids: &[u64]) -> Option<Vec<i64>> {
        self.inner.counters_get_now(ids)
    }

    fn scan(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: ScanLimit,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.inner.scan(prefix, start_after, limit)
    }

    fn len(&self) -> Result<u64, KvError> {
        if self.counted_at.is_some() {
            return self.inner.len();
        }
        Ok(self.entries())
    }
}

impl std::fmt::Debug for QuotaNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaNamespace")
            .field("quota", &self.quota)
            .field("entries", &self.entries())
            .finish_non_exhaustive()
    }
}

/// Refuses `actual` over `max`.
fn check(limit: QuotaLimit, actual: usize, max: usize) -> Result<(), KvError> {
    if actual > max {
        return Err(KvError::QuotaExceeded {
            limit,
            actual: actual as u64,
            max: max as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Database, FjallKv, KvBackend};

    struct Fixture {
        _tmp: tempfile::TempDir,
        backend: FjallKv,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().expect("temp dir");
        let db = Database::open(tmp.path()).expect("open database");
        Fixture {
            _tmp: tmp,
            backend: FjallKv::new(db),
        }
    }

    fn small_quota() -> KvQuota {
        KvQuota {
            max_key_bytes: 8,
            max_value_bytes: 16,
            max_entries: 3,
        }
    }

    #[test]
    fn expired_keys_make_room_in_a_full_namespace() {
        let fixture = fixture();
        let inner = fixture.backend.namespace("p").expect("namespace");
        let ns = QuotaNamespace::new(inner, small_quota()).expect("quota wrapper");
        for key in ["a", "b", "c"] {
            ns.set(key, b"v").expect("set");
        }
        assert!(ns.set("d", b"v").is_err(), "full");
        assert!(ns.expire("a", 1).expect("expire"));
        assert!(ns.expire("b", 1).expect("expire"));
        std::thread::sleep(Duration::from_millis(1_300));
        ns.set("d", b"v").expect("room made by the expired keys");
        assert_eq!(ns.entries(), 2);
        assert_eq!(ns.len().ok(), Some(2));
        assert_eq!(ns.get("a").ok(), Some(None));
    }

    fn limited(fixture: &Fixture, quota: KvQuota) -> QuotaNamespace {
        let inner = fixture.backend.namespace("plugin").expect("namespace");
        QuotaNamespace::new(inner, quota).expect("quota wrapper")
    }

    fn exceeded(result: Result<impl std::fmt::Debug, KvError>) -> (QuotaLimit, u64, u64) {
        match result {
            Err(KvError::QuotaExceeded { limit, actual, max }) => (limit, actual, max),
            other => panic!("expected a quota error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_256_bytes_64_kib_a_million_keys() {
        let quota = KvQuota::default();
        assert_eq!(quota.max_key_bytes, 256);
        assert_eq!(quota.max_value_bytes, 65536);
        assert_eq!(quota.max_entries, 1_000_000);
    }

    #[test]
    fn a_key_too_long_is_refused() {
        let fixture = fixture();
        let ns = limited(&fixture, small_quota());
        assert_eq!(
            exceeded(ns.set("123456789", b"v")),
            (QuotaLimit::KeyBytes, 9, 8)
        );
        assert_eq!(
            exceeded(ns.increment("123456789", 1)),
            (QuotaLimit::KeyBytes, 9, 8)
        );
        ns.set("12345678", b"v")
            .expect("a key of exactly the limit fits");
        assert_eq!(ns.len().ok(), Some(1));
    }

    #[test]
    fn a_value_too_big_is_refused_and_nothing_is_written() {
        let fixture = fixture();
        let ns = limited(&fixture, small_quota());
        ns.set("k", b"old").expect("set");
        assert_eq!(
            exceeded(ns.set("k", &[0u8; 17])),
            (QuotaLimit::ValueBytes, 17, 16)
        );
        assert_eq!(ns.get("k").expect("get").as_deref(), Some(&b"old"[..]));
        ns.set("k", &[0u8; 16])
            .expect("a value of exactly the limit fits");
    }

    #[test]
    fn a_full_namespace_refuses_new_keys_but_not_replacements() {
        let fixture = fixture();
        let ns = limited(&fixture, small_quota());
        for key in ["a", "b", "c"] {
            ns.set(key, b"v").expect("room for three");
        }
        assert_eq!(exceeded(ns.set("d", b"v")), (QuotaLimit::Entries, 4, 3));
        assert_eq!(exceeded(ns.increment("d", 1)), (QuotaLimit::Entries, 4, 3));
        assert_eq!(ns.get("d").expect("get"), None);
        ns.set("a", b"replaced").expect("replacing takes no room");
        ns.delete("missing").expect("deleting a missing key");
        assert_eq!(ns.len().ok(), Some(3));
        ns.delete("b").expect("delete");
        assert_eq!(ns.len().ok(), Some(2));
        ns.increment("d", 1).expect("room again after a delete");
        assert_eq!(ns.len().ok(), Some(3));
    }

    #[test]
    fn compare_and_swap_keeps_the_key_count_and_the_limits() {
        let fixture = fixture();
        let ns = limited(&fixture, small_quota());
        for key in ["a", "b", "c"] {
            assert!(ns.compare_and_swap(key, None, Some(b"v")).unwrap());
        }
        assert_eq!(ns.entries(), 3);
        // Full: a new key is refused, a replacement is not.
        let (limit, ..) = exceeded(ns.compare_and_swap("d", None, Some(b"v")));
        assert_eq!(limit, QuotaLimit::Entries);
        assert!(ns.compare_and_swap("a", Some(b"v"), Some(b"w")).unwrap());
        // A lost swap changes no count; a removal frees a key.
        assert!(!ns.compare_and_swap("b", Some(b"stale"), None).unwrap());
        assert_eq!(ns.entries(), 3);
        assert!(ns.compare_and_swap("b", Some(b"v"), None).unwrap());
        assert_eq!(ns.entries(), 2);
        let (limit, ..) = exceeded(ns.compare_and_swap("c", Some(b"v"), Some(&[0; 17])));
        assert_eq!(limit, QuotaLimit::ValueBytes);
        let (limit, ..) = exceeded(ns.compare_and_swap("too-long-key", None, Some(b"v")));
        assert_eq!(limit, QuotaLimit::KeyBytes);
    }

    #[test]
    fn a_batch_that_would_overfill_the_namespace_changes_nothing() {
        let fixture = fixture();
        let kv = limited(
            &fixture,
            KvQuota {
                max_entries: 3,
                ..small_quota()
            },
        );
        kv.increment("a", 1).unwrap();
        let batch = |keys: &[&str]| -> Vec<(String, i64)> {
            keys.iter().map(|k| ((*k).to_owned(), 1)).collect()
        };
        let (limit, actual, max) = exceeded(kv.increment_many(&batch(&["a", "b", "c", "d"])));
        assert_eq!((limit, actual, max), (QuotaLimit::Entries, 4, 3));
        assert_eq!(kv.get_many(&["a".into(), "b".into()]).unwrap()[1], None);
        assert_eq!(kv.entries(), 1);
        // The same key twice is one new key, and gets both deltas.
        assert_eq!(
            kv.increment_many(&batch(&["a", "b", "b"])).unwrap(),
            [2, 1, 2]
        );
        assert_eq!(kv.entries(), 2);
    }

    #[test]
    fn id_counters_count_as_keys() {
        let fixture = fixture();
        let kv = limited(
            &fixture,
            KvQuota {
                max_entries: 3,
                ..small_quota()
            },
        );
        kv.increment("total", 1).unwrap();
        let (limit, actual, max) =
            exceeded(kv.counters_add(&[(1, 1), (2, 1), (3, 1)], &[], u64::MAX));
        assert_eq!((limit, actual, max), (QuotaLimit::Entries, 4, 3));
        assert_eq!(kv.counters_get(&[1, 2, 3]).unwrap(), [0, 0, 0]);
        kv.counters_add(&[(1, 1), (2, 1)], &[("total".into(), 1)], u64::MAX)
            .unwrap();
        assert_eq!(kv.entries(), 3);
        // Removing one makes room for another in the same write.
        kv.counters_add(&[(1, -1), (3, 5)], &[], u64::MAX).unwrap();
        assert_eq!(kv.counters_get(&[1, 2, 3]).unwrap(), [0, 1, 5]);
        assert_eq!(kv.entries(), 3);
        assert_eq!(kv.inner.len().unwrap(), 3);
    }

    #[test]
    fn the_count_starts_from_what_is_stored() {
        let fixture = fixture();
        {
            let ns = limited(&fixture, small_quota());
            ns.set("a", b"v").expect("set");
            ns.set("b", b"v").expect("set");
        }
        let ns = limited(&fixture, small_quota());
        assert_eq!(ns.entries(), 2);
        ns.set("c", b"v").expect("set");
        assert!(ns.set("d", b"v").is_err());
    }

    #[test]
    fn keys_over_a_lowered_limit_can_be_read_and_deleted() {
        let fixture = fixture();
        let roomy = limited(&fixture, KvQuota::default());
        roomy.set("a-long-key", b"v").expect("set");
        drop(roomy);
        let strict = limited(&fixture, small_quota());
        assert_eq!(
            strict.get("a-long-key").expect("get").as_deref(),
            Some(&b"v"[..])
        );
        strict.delete("a-long-key").expect("delete");
        assert_eq!(strict.entries(), 0);
    }

    #[test]
    fn concurrent_writers_keep_the_count_exact() {
        let fixture = fixture();
        let ns = Arc::new(limited(
            &fixture,
            KvQuota {
                max_entries: 50,
                ..KvQuota::default()
            },
        ));
        std::thread::scope(|scope| {
            for thread in 0..8 {
                let ns = Arc::clone(&ns);
                scope.spawn(move || {
                    for i in 0..20 {
                        // Every thread writes the same 40 keys, so most writes replace.
                        let key = format!("key-{}", (i + thread) % 40);
                        // Either may find the namespace full: only the count matters.
                        let _ = ns.increment(&key, 1);
                        let _ = ns.set(&format!("t{thread}-{i}"), b"v");
                    }
                });
            }
        });
        let stored = ns.inner.len().expect("count stored keys");
        assert_eq!(ns.entries(), stored);
        assert_eq!(stored, 50);
    }

    #[test]
    fn gateways_sharing_a_namespace_share_its_limit() {
        let fixture = fixture();
        let shared = || {
            let inner = fixture.backend.namespace("plugin").expect("namespace");
            QuotaNamespace::shared(inner, small_quota())
        };
        let (primary, backup) = (shared(), shared());
        primary.set("a", b"1").expect("set");
        primary.set("b", b"2").expect("set");
        backup
            .set("c", b"3")
            .expect("the backup counts what the primary added");
        assert_eq!(backup.len().ok(), Some(3));
        std::thread::sleep(SHARED_COUNT_AGE);
        let (limit, actual, max) = exceeded(primary.set("d", b"4"));
        assert_eq!((limit, actual, max), (QuotaLimit::Entries, 4, 3));
        primary
            .set("a", b"replaced")
            .expect("a replacement adds no key");
    }
}
