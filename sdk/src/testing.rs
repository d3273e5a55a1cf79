//! For a plugin's native unit tests (`cargo test`): an in-memory [`kv`](crate::kv) store
//! with the gateway's semantics, so code that calls `moat_sdk::kv` runs unchanged outside
//! the gateway.
//!
//! Built natively, every `moat_sdk::kv` function works on a [`MemoryKv`] of the calling
//! thread (each test runs on its own thread, so tests do not see each other's keys);
//! built for WebAssembly they reach the gateway and this store is never used. Look inside
//! or change it with [`with_kv`]; start afresh with [`reset_kv`].
//!
//! ```
//! use moat_sdk::{kv, testing};
//!
//! /// The code under test: counts a sender domain's messages.
//! fn count(domain: &str) -> Result<i64, kv::KvError> {
//!     kv::increment(&format!("seen:{domain}"), 1)
//! }
//!
//! testing::reset_kv();
//! assert_eq!(count("example.org"), Ok(1));
//! assert_eq!(count("example.org"), Ok(2));
//! assert_eq!(kv::get_i64("seen:example.org"), Ok(Some(2)));
//! // A plugin must cope with the operator not granting kv:
//! testing::with_kv(|store| store.set_fault(Some(kv::KvError::Denied)));
//! assert_eq!(count("example.org"), Err(kv::KvError::Denied));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::kv::KvError;

/// The most entries one `scan_prefix` call returns, as in the gateway.
pub const SCAN_MAX_ENTRIES: usize = 1000;
/// The most bytes of keys and values one `scan_prefix` call returns (an entry larger than
/// this comes alone), as in the gateway.
pub const SCAN_MAX_BYTES: usize = 1 << 20;

/// The bounds a namespace is held to: the gateway's defaults unless a test sets others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The longest key, in bytes.
    pub max_key_bytes: usize,
    /// The largest value, in bytes.
    pub max_value_bytes: usize,
    /// The most keys (string keys and id counters together).
    pub max_entries: usize,
}

impl Default for Quota {
    /// The gateway's defaults: 256-byte keys, 64 KiB values, a million keys.
    fn default() -> Self {
        Self {
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
            max_entries: 1_000_000,
        }
    }
}

/// An in-memory kv namespace with the gateway's semantics: atomic batches (a failed one
/// changes nothing), 8-byte little-endian counters that saturate, id counters removed at
/// 0, ordered and bounded scans, the default quotas, expiry deadlines recorded (they do
/// not pass by themselves: a test asks [`MemoryKv::expiry`] what a key was given).
#[derive(Clone, Debug, Default)]
pub struct MemoryKv {
    entries: BTreeMap<String, Vec<u8>>,
    counters: BTreeMap<u64, i64>,
    expiries: BTreeMap<String, u32>,
    quota: Quota,
    fault: Option<KvError>,
}

impl MemoryKv {
    /// An empty store with the gateway's default quotas.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The string keys and their values.
    #[must_use]
    pub fn entries(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.entries
    }

    /// The id counters (none at 0).
    #[must_use]
    pub fn counters(&self) -> &BTreeMap<u64, i64> {
        &self.counters
    }

    /// The seconds the last `expire` of `key` gave it, while it has an expiry.
    #[must_use]
    pub fn expiry(&self, key: &str) -> Option<u32> {
        self.expiries.get(key).copied()
    }

    /// Holds the store to `quota` from now on.
    pub fn set_quota(&mut self, quota: Quota) {
        self.quota = quota;
    }

    /// Makes every call fail with `fault` (`Denied`: the capability is not granted;
    /// `Storage`: the store is down), or, with `None`, work again.
    pub fn set_fault(&mut self, fault: Option<KvError>) {
        self.fault = fault;
    }

    fn ready(&self) -> Result<(), KvError> {
        self.fault.map_or(Ok(()), Err)
    }

    fn len(&self) -> usize {
        self.entries.len() + self.counters.len()
    }

    /// Refuses a write of `key` = `value` the quotas do not allow (`adds`: keys it adds).
    fn check(&self, key: &str, value_len: usize, adds: usize) -> Result<(), KvError> {
        let too_big =
            key.len() > self.quota.max_key_bytes || value_len > self.quota.max_value_bytes;
        if too_big || (adds > 0 && self.len() + adds > self.quota.max_entries) {
            return Err(KvError::QuotaExceeded);
        }
        Ok(())
    }

    /// `kv::get`.
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.ready()?;
        Ok(self.entries.get(key).cloned())
    }

    /// `kv::set`.
    pub fn set(&mut self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.ready()?;
        self.check(
            key,
            value.len(),
            usize::from(!self.entries.contains_key(key)),
        )?;
        self.entries.insert(key.to_owned(), value.to_vec());
        Ok(())
    }

    /// `kv::delete`.
    pub fn delete(&mut self, key: &str) -> Result<(), KvError> {
        self.ready()?;
        self.entries.remove(key);
        self.expiries.remove(key);
        Ok(())
    }

    /// `kv::compare_and_swap`.
    pub fn compare_and_swap(
        &mut self,
        key: &str,
        expected: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, KvError> {
        self.ready()?;
        if self.entries.get(key).map(Vec::as_slice) != expected {
            return Ok(false);
        }
        match value {
            Some(value) => self.set(key, value)?,
            None => self.delete(key)?,
        }
        Ok(true)
    }

    /// `kv::expire`.
    pub fn expire(&mut self, key: &str, seconds: u32) -> Result<bool, KvError> {
        self.ready()?;
        if !self.entries.contains_key(key) {
            return Ok(false);
        }
        if seconds == 0 {
            self.expiries.remove(key);
        } else {
            self.expiries.insert(key.to_owned(), seconds);
        }
        Ok(true)
    }

    /// `kv::increment`.
    pub fn increment(&mut self, key: &str, delta: i64) -> Result<i64, KvError> {
        Ok(self.increment_many(&[(key.to_owned(), delta)])?[0])
    }

    /// `kv::get_many`.
    pub fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        self.ready()?;
        Ok(keys
            .iter()
            .map(|key| self.entries.get(key).cloned())
            .collect())
    }

    /// `kv::increment_many`: all or nothing.
    pub fn increment_many(&mut self, deltas: &[(String, i64)]) -> Result<Vec<i64>, KvError> {
        self.ready()?;
        let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
        let mut after_each = Vec::with_capacity(deltas.len());
        for (key, delta) in deltas {
            let current = match totals.get(key.as_str()) {
                Some(&total) => total,
                None => self.counter(key)?,
            };
            let total = current.saturating_add(*delta);
            totals.insert(key, total);
            after_each.push(total);
        }
        let adds = totals
            .keys()
            .filter(|key| !self.entries.contains_key(**key))
            .count();
        for key in totals.keys() {
            self.check(key, 8, adds)?;
        }
        for (key, total) in totals {
            self.entries
                .insert(key.to_owned(), total.to_le_bytes().to_vec());
        }
        Ok(after_each)
    }

    /// The counter under `key`: 0 when missing, `NotACounter` unless 8 bytes.
    fn counter(&self, key: &str) -> Result<i64, KvError> {
        match self.entries.get(key) {
            None => Ok(0),
            Some(value) => <[u8; 8]>::try_from(value.as_slice())
                .map(i64::from_le_bytes)
                .map_err(|_| KvError::NotACounter),
        }
    }

    /// `kv::counters_get`.
    pub fn counters_get(&mut self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        self.ready()?;
        Ok(ids
            .iter()
            .map(|id| self.counters.get(id).copied().unwrap_or(0))
            .collect())
    }

    /// `kv::counters_add`: all or nothing.
    pub fn counters_add(
        &mut self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError> {
        self.ready()?;
        let mut ids: BTreeMap<u64, i64> = BTreeMap::new();
        for &(id, delta) in deltas {
            let current = ids
                .get(&id)
                .copied()
                .unwrap_or_else(|| self.counters.get(&id).copied().unwrap_or(0));
            ids.insert(id, current.saturating_add(delta));
        }
        let added = ids
            .iter()
            .filter(|(id, total)| **total != 0 && !self.counters.contains_key(id))
            .count();
        let removed = ids
            .iter()
            .filter(|(id, total)| **total == 0 && self.counters.contains_key(id))
            .count();
        let new_keys: std::collections::BTreeSet<&str> = keyed
            .iter()
            .map(|(key, _)| key.as_str())
            .filter(|key| !self.entries.contains_key(*key))
            .collect();
        if self.len() + added + new_keys.len() > self.quota.max_entries + removed {
            return Err(KvError::QuotaExceeded);
        }
        // All or nothing: `increment_many` writes nothing when it fails, and the id
        // counters cannot fail once the quota is checked.
        self.increment_many(keyed)?;
        for (id, total) in ids {
            if total == 0 {
                self.counters.remove(&id);
            } else {
                self.counters.insert(id, total);
            }
        }
        Ok(())
    }

    /// `kv::scan_prefix`, with the gateway's bounds per call.
    pub fn scan_prefix(
        &mut self,
        prefix: &str,
        start_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.ready()?;
        let limit = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .min(SCAN_MAX_ENTRIES);
        let mut page = Vec::new();
        let mut bytes = 0;
        let after = |key: &String| start_after.is_none_or(|after| key.as_str() > after);
        let matching = self
            .entries
            .iter()
            .filter(|(key, _)| key.starts_with(prefix));
        for (key, value) in matching.filter(|(key, _)| after(key)).take(limit) {
            let size = key.len() + value.len();
            if !page.is_empty() && bytes + size > SCAN_MAX_BYTES {
                break;
            }
            bytes += size;
            page.push((key.clone(), value.clone()));
        }
        Ok(page)
    }
}

thread_local! {
    static KV: RefCell<MemoryKv> = RefCell::new(MemoryKv::new());
}

/// Runs `f` on this thread's store: what `moat_sdk::kv` works on in a native build.
pub fn with_kv<T>(f: impl FnOnce(&mut MemoryKv) -> T) -> T {
    KV.with(|kv| f(&mut kv.borrow_mut()))
}

/// Empties this thread's store and clears its quota and fault settings.
pub fn reset_kv() {
    with_kv(|kv| *kv = MemoryKv::new());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_atomic_and_counters_saturate() {
        let mut kv = MemoryKv::new();
        kv.set("text", b"hello").unwrap();
        let mixed = [("a".to_owned(), 1), ("text".to_owned(), 1)];
        assert_eq!(kv.increment_many(&mixed), Err(KvError::NotACounter));
        assert_eq!(kv.get("a"), Ok(None), "nothing changed");
        assert_eq!(kv.increment("max", i64::MAX), Ok(i64::MAX));
        assert_eq!(kv.increment("max", 1), Ok(i64::MAX));
        let twice = [("b".to_owned(), 2), ("b".to_owned(), 3)];
        assert_eq!(kv.increment_many(&twice), Ok(vec![2, 5]));
        assert_eq!(
            kv.counters_add(&[(1, 4)], &[("text".to_owned(), 1)]),
            Err(KvError::NotACounter)
        );
        assert_eq!(kv.counters_get(&[1]), Ok(vec![0]), "nothing changed");
        kv.counters_add(&[(1, 4), (2, 1), (1, -1)], &[("n".to_owned(), 1)])
            .unwrap();
        assert_eq!(kv.counters_get(&[1, 2, 3]), Ok(vec![3, 1, 0]));
        kv.counters_add(&[(2, -1)], &[]).unwrap();
        assert!(!kv.counters().contains_key(&2), "a counter at 0 is removed");
    }

    #[test]
    fn quotas_compare_and_swap_and_expiry_behave_as_in_the_gateway() {
        let mut kv = MemoryKv::new();
        kv.set_quota(Quota {
            max_key_bytes: 4,
            max_value_bytes: 4,
            max_entries: 2,
        });
        assert_eq!(kv.set("long key", b"v"), Err(KvError::QuotaExceeded));
        assert_eq!(kv.set("k", b"too long"), Err(KvError::QuotaExceeded));
        kv.set("a", b"1").unwrap();
        kv.counters_add(&[(9, 1)], &[]).unwrap();
        assert_eq!(kv.set("b", b"1"), Err(KvError::QuotaExceeded), "full");
        kv.set("a", b"2").unwrap();
        assert_eq!(kv.compare_and_swap("a", Some(b"1"), Some(b"3")), Ok(false));
        assert_eq!(kv.compare_and_swap("a", Some(b"2"), Some(b"3")), Ok(true));
        assert!(!kv.expire("missing", 60).unwrap());
        assert!(kv.expire("a", 60).unwrap());
        assert_eq!(kv.expiry("a"), Some(60));
        kv.set("a", b"4").unwrap();
        assert_eq!(kv.expiry("a"), Some(60), "writes keep it");
        assert_eq!(kv.compare_and_swap("a", Some(b"4"), None), Ok(true));
        assert_eq!(kv.expiry("a"), None, "deleting ends it");
        kv.set_fault(Some(KvError::Storage));
        assert_eq!(kv.get("a"), Err(KvError::Storage));
    }

    #[test]
    fn scans_are_ordered_and_page_within_the_bounds() {
        let mut kv = MemoryKv::new();
        for i in 0..1_500 {
            kv.set(&format!("t:{i:04}"), b"x").unwrap();
        }
        kv.set("u:0", b"x").unwrap();
        let first = kv.scan_prefix("t:", None, 5_000).unwrap();
        assert_eq!(first.len(), SCAN_MAX_ENTRIES);
        assert_eq!(first[0].0, "t:0000");
        let last = first.last().map(|(key, _)| key.clone());
        let rest = kv.scan_prefix("t:", last.as_deref(), 5_000).unwrap();
        assert_eq!(rest.len(), 500);
        assert_eq!(rest.last().unwrap().0, "t:1499");
        let big = vec![0u8; 60 << 10];
        for i in 0..20 {
            kv.set(&format!("b:{i:02}"), &big).unwrap();
        }
        let page = kv.scan_prefix("b:", None, 100).unwrap();
        assert_eq!(page.len(), 17, "1 MiB of 60 KiB values");
    }
}
