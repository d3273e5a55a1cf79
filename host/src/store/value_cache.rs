//! A bounded in-memory cache of one kv namespace's values, in front of fjall: a plugin that
//! reads hundreds of keys per message (bayes's token counts) gets them from a hash map
//! instead of walking the memtable's skip list and the tables for each.
//!
//! Coherence: entries are filled and updated only while the namespace's write lock is held
//! (by the writes themselves, and by reads that missed), so a value read before a write
//! can never be put in the cache after it. Hits take no lock.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::{Cache, DefaultLifecycle};

/// The cache's hasher: seeded per process, much faster than SipHash on short keys.
type Hasher = foldhash::fast::RandomState;

/// A cached answer: the value, or that the key is absent.
pub(super) type Cached = Option<Arc<[u8]>>;

/// Bytes counted for an entry besides its key and value.
const ENTRY_OVERHEAD: u64 = 64;

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Cached> for ByBytes {
    fn weight(&self, key: &String, value: &Cached) -> u64 {
        key.len() as u64 + value.as_ref().map_or(0, |v| v.len() as u64) + ENTRY_OVERHEAD
    }
}

/// Values (and absences) of one namespace, at most `capacity` bytes of them.
pub(super) struct ValueCache {
    entries: Cache<String, Cached, ByBytes, Hasher>,
}

impl ValueCache {
    /// A cache of at most `capacity_bytes`; `None` for 0 (no cache).
    pub(super) fn new(capacity_bytes: u64) -> Option<Self> {
        if capacity_bytes == 0 {
            return None;
        }
        let estimated_items = (capacity_bytes / 128).clamp(16, 1 << 22) as usize;
        Some(Self {
            entries: Cache::with(
                estimated_items,
                capacity_bytes,
                ByBytes,
                Hasher::default(),
                DefaultLifecycle::default(),
            ),
        })
    }

    /// What is cached for `key`: `None` if nothing is.
    pub(super) fn get(&self, key: &str) -> Option<Cached> {
        self.entries.get(key)
    }

    /// Records `value` for `key`. Call with the namespace's write lock held.
    pub(super) fn put(&self, key: &str, value: Cached) {
        self.entries.insert(key.to_owned(), value);
    }
}

impl std::fmt::Debug for ValueCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueCache")
            .field("entries", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_keys_are_cached_too_and_capacity_bounds_the_bytes() {
        let cache = ValueCache::new(4096).unwrap();
        assert_eq!(cache.get("k"), None);
        cache.put("k", None);
        assert_eq!(cache.get("k"), Some(None));
        cache.put("k", Some(Arc::from(&b"v"[..])));
        assert_eq!(cache.get("k"), Some(Some(Arc::from(&b"v"[..]))));
        for i in 0..1000 {
            cache.put(&format!("key{i}"), Some(Arc::from(&[0u8; 32][..])));
        }
        assert!(cache.entries.weight() <= 4096);
        assert!(ValueCache::new(0).is_none());
    }
}
