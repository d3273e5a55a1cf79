//! The answer cache in front of hickory's: a hit costs one hash lookup under a sharded
//! lock, instead of a trip through the resolver's lookup machinery (a DNSBL plugin asks
//! three lists per connection; with this cache a warm connection stays in the tens of
//! microseconds). Entries live as long as their TTL says; negative answers only when the
//! server gave a negative TTL (RFC 2308), bounded by `negative_ttl_max`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::LookupError;
use super::kind::RecordKind;

const SHARDS: usize = 16;

type Key = (RecordKind, Box<str>);

struct Entry {
    answer: Result<Vec<String>, LookupError>,
    expires: Instant,
}

/// A bounded, TTL-honouring cache of formatted answers.
pub(crate) struct AnswerCache {
    shards: Vec<Mutex<HashMap<Key, Entry>>>,
    per_shard: usize,
    hasher: std::collections::hash_map::RandomState,
    /// Lookups answered from the cache, and not.
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

impl AnswerCache {
    /// A cache of about `capacity` answers.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: std::collections::hash_map::RandomState::new(),
            hits: std::sync::atomic::AtomicU64::new(0),
            misses: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// (hits, misses) so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.hits.load(Relaxed), self.misses.load(Relaxed))
    }

    fn shard(&self, key: &Key) -> &Mutex<HashMap<Key, Entry>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// The cached answer for `name`/`kind`, if it has not expired at `now`.
    pub(crate) fn get(
        &self,
        name: &str,
        kind: RecordKind,
        now: Instant,
    ) -> Option<Result<Vec<String>, LookupError>> {
        let key = (kind, Box::from(name));
        let shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = shard
            .get(&key)
            .filter(|e| e.expires > now)
            .map(|e| e.answer.clone());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        found
    }

    /// Keeps `answer` until `expires`. When the shard is full, expired entries go first,
    /// then an arbitrary one.
    pub(crate) fn put(
        &self,
        name: &str,
        kind: RecordKind,
        answer: Result<Vec<String>, LookupError>,
        expires: Instant,
        now: Instant,
    ) {
        let key = (kind, Box::from(name));
        let mut shard = self
            .shard(&key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.len() >= self.per_shard && !shard.contains_key(&key) {
            shard.retain(|_, e| e.expires > now);
            if shard.len() >= self.per_shard
                && let Some(victim) = shard.keys().next().cloned()
            {
                shard.remove(&victim);
            }
        }
        shard.insert(key, Entry { answer, expires });
    }
}

/// How long a negative answer may be kept: the server's negative TTL, at most `max`;
/// `None` (do not cache) when the server gave none.
pub(crate) fn negative_lifetime(negative_ttl: Option<u32>, max: Duration) -> Option<Duration> {
    negative_ttl.map(|ttl| Duration::from_secs(u64::from(ttl)).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_served_until_they_expire() {
        let cache = AnswerCache::new(100);
        let now = Instant::now();
        cache.put(
            "2.0.0.127.bl.test",
            RecordKind::A,
            Ok(vec!["127.0.0.2".into()]),
            now + Duration::from_secs(10),
            now,
        );
        assert_eq!(
            cache.get("2.0.0.127.bl.test", RecordKind::A, now),
            Some(Ok(vec!["127.0.0.2".into()]))
        );
        assert_eq!(
            cache.get("2.0.0.127.bl.test", RecordKind::Txt, now),
            None,
            "the kind is part of the key"
        );
        assert_eq!(
            cache.get(
                "2.0.0.127.bl.test",
                RecordKind::A,
                now + Duration::from_secs(11)
            ),
            None
        );
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = AnswerCache::new(32);
        let now = Instant::now();
        for i in 0..1000 {
            cache.put(
                &format!("n{i}.test"),
                RecordKind::A,
                Err(LookupError::NotFound),
                now + Duration::from_secs(60),
                now,
            );
        }
        let total: usize = cache.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= 32, "{total}");
        assert_eq!(
            cache.get("n999.test", RecordKind::A, now),
            Some(Err(LookupError::NotFound))
        );
    }

    #[test]
    fn negative_answers_are_kept_only_with_a_negative_ttl() {
        assert_eq!(negative_lifetime(None, Duration::from_secs(300)), None);
        assert_eq!(
            negative_lifetime(Some(3600), Duration::from_secs(300)),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            negative_lifetime(Some(60), Duration::from_secs(300)),
            Some(Duration::from_secs(60))
        );
    }
}
