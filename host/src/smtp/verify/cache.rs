//! What the protected server said about each address, kept on the gateway's clock: "known"
//! for the positive TTL, "unknown" for the negative one, each kind in its own map of at
//! most `capacity` entries.
//!
//! Two maps, so that a stranger trying a million made-up addresses only pushes out other
//! unknown addresses, never the real users the cache knows. When a map is full, the
//! entry that expires soonest goes (expired ones first). An expired "known" stays until
//! it is pushed out: it is probed again, and if that probe fails for the time being the
//! user is still taken as known (Postfix's optimistic caching), so mail for real users
//! keeps coming in while the server is down for an hour.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::time::Clock;

/// What the cache holds for an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cached {
    /// Known, and not expired.
    Known,
    /// Unknown, and not expired.
    Unknown,
    /// Known once, expired: probe again, and keep believing it if the probe fails.
    Stale,
    /// Nothing.
    Miss,
}

/// The cache key of `address`: lower case, without a trailing dot.
pub(super) fn key(address: &str) -> String {
    address.trim_end_matches('.').to_lowercase()
}

/// When an entry expires (Unix ms), and a sequence number that makes stamps unique.
type Stamp = (u64, u64);

/// One kind of answer: at most `capacity` addresses, indexed by expiry for eviction.
#[derive(Debug, Default)]
struct Answers {
    by_key: HashMap<Arc<str>, Stamp>,
    by_expiry: BTreeMap<Stamp, Arc<str>>,
}

impl Answers {
    fn get(&self, key: &str) -> Option<u64> {
        self.by_key.get(key).map(|stamp| stamp.0)
    }

    fn remove(&mut self, key: &str) {
        if let Some(stamp) = self.by_key.remove(key) {
            self.by_expiry.remove(&stamp);
        }
    }

    /// Keeps `key` with `stamp`, pushing out the soonest to expire while full.
    fn insert(&mut self, key: &str, stamp: Stamp, capacity: usize) {
        self.remove(key);
        while self.by_key.len() >= capacity {
            let Some((_, victim)) = self.by_expiry.pop_first() else {
                break;
            };
            self.by_key.remove(&victim);
        }
        let key: Arc<str> = Arc::from(key);
        self.by_key.insert(Arc::clone(&key), stamp);
        self.by_expiry.insert(stamp, key);
    }
}

#[derive(Debug, Default)]
struct Kinds {
    known: Answers,
    unknown: Answers,
    sequence: u64,
}

/// The answers of the protected server, by [`key`].
#[derive(Debug)]
pub(super) struct AnswerCache {
    clock: Clock,
    positive_ttl_ms: u64,
    negative_ttl_ms: u64,
    /// The most entries of each kind.
    capacity: usize,
    kinds: Mutex<Kinds>,
}

impl AnswerCache {
    /// A cache keeping known answers for `positive_ttl` and unknown ones for
    /// `negative_ttl` by `clock` (0: not kept), at most `capacity` of each kind.
    pub(super) fn new(
        clock: Clock,
        positive_ttl: Duration,
        negative_ttl: Duration,
        capacity: usize,
    ) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            clock,
            positive_ttl_ms: ms(positive_ttl),
            negative_ttl_ms: ms(negative_ttl),
            capacity: capacity.max(1),
            kinds: Mutex::new(Kinds::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kinds> {
        // Every change leaves both indexes consistent before anything can panic.
        self.kinds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What is known of `key` now.
    pub(super) fn lookup(&self, key: &str) -> Cached {
        let now = self.clock.now_ms();
        let mut kinds = self.lock();
        match kinds.known.get(key) {
            Some(expires) if expires > now => return Cached::Known,
            Some(_) => return Cached::Stale,
            None => {}
        }
        match kinds.unknown.get(key) {
            Some(expires) if expires > now => Cached::Unknown,
            Some(_) => {
                kinds.unknown.remove(key);
                Cached::Miss
            }
            None => Cached::Miss,
        }
    }

    /// Keeps the server's answer about `key` (`known` or not) for its TTL; it replaces
    /// whatever was kept.
    pub(super) fn record(&self, key: &str, known: bool) {
        let now = self.clock.now_ms();
        let ttl = if known {
            self.positive_ttl_ms
        } else {
            self.negative_ttl_ms
        };
        let mut kinds = self.lock();
        kinds.known.remove(key);
        kinds.unknown.remove(key);
        if ttl == 0 {
            return;
        }
        kinds.sequence += 1;
        let stamp = (now.saturating_add(ttl), kinds.sequence);
        let answers = if known {
            &mut kinds.known
        } else {
            &mut kinds.unknown
        };
        answers.insert(key, stamp, self.capacity);
    }

    /// How many known and unknown answers are kept (expired ones included).
    pub(super) fn len(&self) -> (usize, usize) {
        let kinds = self.lock();
        (kinds.known.by_key.len(), kinds.unknown.by_key.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn cache(clock: &Clock, capacity: usize) -> AnswerCache {
        AnswerCache::new(clock.clone(), 7 * 24 * HOUR, 3 * HOUR, capacity)
    }

    #[test]
    fn keys_ignore_case_and_a_trailing_dot() {
        assert_eq!(key("Bob@Example.TEST."), "bob@example.test");
        assert_eq!(key("bob@example.test"), "bob@example.test");
    }

    #[test]
    fn known_and_unknown_answers_expire_after_their_own_ttl() {
        let clock = Clock::manual(1_000_000);
        let cache = cache(&clock, 10);
        cache.record("alice@example.test", true);
        cache.record("mallory@example.test", false);
        assert_eq!(cache.lookup("alice@example.test"), Cached::Known);
        assert_eq!(cache.lookup("mallory@example.test"), Cached::Unknown);
        assert_eq!(cache.lookup("bob@example.test"), Cached::Miss);

        clock.advance(3 * HOUR - Duration::from_millis(1));
        assert_eq!(cache.lookup("mallory@example.test"), Cached::Unknown);
        clock.advance(Duration::from_millis(1));
        assert_eq!(cache.lookup("mallory@example.test"), Cached::Miss);
        assert_eq!(cache.len(), (1, 0), "an expired unknown answer is dropped");
        assert_eq!(cache.lookup("alice@example.test"), Cached::Known);

        clock.advance(7 * 24 * HOUR);
        assert_eq!(
            cache.lookup("alice@example.test"),
            Cached::Stale,
            "an expired known answer is kept to fall back on"
        );
        cache.record("alice@example.test", true);
        assert_eq!(cache.lookup("alice@example.test"), Cached::Known);
    }

    #[test]
    fn a_new_answer_replaces_the_old_one_of_either_kind() {
        let clock = Clock::manual(0);
        let cache = cache(&clock, 10);
        cache.record("carol@example.test", false);
        cache.record("carol@example.test", true);
        assert_eq!(cache.lookup("carol@example.test"), Cached::Known);
        cache.record("carol@example.test", false);
        assert_eq!(cache.lookup("carol@example.test"), Cached::Unknown);
        assert_eq!(cache.len(), (0, 1));
    }

    #[test]
    fn a_ttl_of_zero_keeps_nothing_of_that_kind() {
        let clock = Clock::manual(0);
        let cache = AnswerCache::new(clock, HOUR, Duration::ZERO, 10);
        cache.record("dave@example.test", true);
        cache.record("dave@example.test", false);
        assert_eq!(cache.lookup("dave@example.test"), Cached::Miss);
        assert_eq!(cache.len(), (0, 0));
    }

    #[test]
    fn a_flood_of_unknown_addresses_takes_no_more_room_than_the_bound_and_spares_known_ones() {
        let clock = Clock::manual(0);
        let cache = cache(&clock, 1_000);
        for user in 0..1_000 {
            cache.record(&format!("user{user}@example.test"), true);
        }
        for guess in 0..100_000 {
            cache.record(&format!("guess{guess}@example.test"), false);
            if guess % 1_000 == 0 {
                clock.advance(Duration::from_millis(1));
            }
        }
        assert_eq!(cache.len(), (1_000, 1_000));
        assert_eq!(cache.lookup("user0@example.test"), Cached::Known);
        assert_eq!(cache.lookup("user999@example.test"), Cached::Known);
        assert_eq!(
            cache.lookup("guess99999@example.test"),
            Cached::Unknown,
            "the newest stay"
        );
        assert_eq!(
            cache.lookup("guess0@example.test"),
            Cached::Miss,
            "the oldest went"
        );
    }

    #[test]
    fn when_full_the_entry_expiring_soonest_goes_first() {
        let clock = Clock::manual(0);
        let cache = cache(&clock, 2);
        cache.record("a@example.test", true);
        clock.advance(HOUR);
        cache.record("b@example.test", true);
        clock.advance(8 * 24 * HOUR);
        cache.record("a@example.test", true);
        assert_eq!(cache.lookup("b@example.test"), Cached::Stale);
        cache.record("c@example.test", true);
        assert_eq!(
            cache.lookup("b@example.test"),
            Cached::Miss,
            "expired: first out"
        );
        assert_eq!(cache.lookup("a@example.test"), Cached::Known);
        assert_eq!(cache.lookup("c@example.test"), Cached::Known);
    }
}
