//! Failed logins, counted per client address and per account name: the `max_failures`-th
//! failure within `window` locks that address (or account) out for `lockout`, during
//! which every login from it (or as it) is refused without looking at the password. Kept
//! in memory: a restart forgets them, as Postfix's anvil does.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept per table before expired ones are swept (a spray of made-up account
/// names must not grow memory without bound).
const SWEEP_AT: usize = 10_000;

/// A refused login: what is locked out and for how much longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Whether it is the account (rather than the client address) that is locked.
    pub account: bool,
    /// Time left.
    pub remaining: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
struct Table<K> {
    entries: Mutex<HashMap<K, Failures>>,
}

impl<K: Eq + Hash> Table<K> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Failures>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn locked(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.lock().get(key)?.locked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure; true if it locks the key out.
    fn fail(&self, key: K, limits: &Limits, now: Instant) -> bool {
        let mut entries = self.lock();
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, f| !f.expired(limits, now));
        }
        let entry = entries.entry(key).or_insert(Failures {
            count: 0,
            window_start: now,
            locked_until: None,
        });
        if entry.expired(limits, now) {
            *entry = Failures {
                count: 0,
                window_start: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= limits.max_failures {
            entry.locked_until = Some(now + limits.lockout);
            entry.count = 0;
            entry.window_start = now;
            return true;
        }
        false
    }

    fn forget(&self, key: &K) {
        self.lock().remove(key);
    }
}

impl Failures {
    /// Nothing left to remember: the window has passed and no lockout runs.
    fn expired(&self, limits: &Limits, now: Instant) -> bool {
        now.duration_since(self.window_start) >= limits.window
            && self.locked_until.is_none_or(|until| until <= now)
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
}

/// The failure counts of every client address and account name.
#[derive(Debug)]
pub struct FailureLimiter {
    limits: Limits,
    by_address: Table<IpAddr>,
    by_account: Table<String>,
}

impl FailureLimiter {
    /// Locks out after `max_failures` failures within `window`, for `lockout`.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            limits: Limits {
                max_failures: max_failures.max(1),
                window,
                lockout,
            },
            by_address: Table::new(),
            by_account: Table::new(),
        }
    }

    /// Whether logins from `ip` are locked out now.
    pub fn address_locked(&self, ip: IpAddr) -> Option<Locked> {
        self.by_address
            .locked(&ip, Instant::now())
            .map(|remaining| Locked {
                account: false,
                remaining,
            })
    }

    /// Whether logins from `ip`, or as `login`, are locked out now.
    pub fn locked(&self, ip: IpAddr, login: &str) -> Option<Locked> {
        self.address_locked(ip).or_else(|| {
            self.by_account
                .locked(&login.to_lowercase(), Instant::now())
                .map(|remaining| Locked {
                    account: true,
                    remaining,
                })
        })
    }

    /// Counts a failed login from `ip` as `login`; true if that locked either out.
    pub fn failed(&self, ip: IpAddr, login: &str) -> bool {
        let now = Instant::now();
        let address = self.by_address.fail(ip, &self.limits, now);
        let account = self
            .by_account
            .fail(login.to_lowercase(), &self.limits, now);
        address || account
    }

    /// A successful login: the account's count starts over (the address's does not, so
    /// one good password does not buy an attacker more guesses at others).
    pub fn succeeded(&self, login: &str) {
        self.by_account.forget(&login.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn the_fifth_failure_locks_the_address_and_the_account_out() {
        let limiter = FailureLimiter::new(5, Duration::from_secs(60), Duration::from_secs(60));
        for n in 1..5 {
            assert!(!limiter.failed(IP, "alice@example.org"), "failure {n}");
            assert_eq!(limiter.locked(IP, "alice@example.org"), None);
        }
        assert!(limiter.failed(IP, "alice@example.org"));
        let locked = limiter.locked(IP, "bob@example.org").unwrap();
        assert!(!locked.account && locked.remaining > Duration::from_secs(50));
        // The account is locked from everywhere; other accounts elsewhere are not.
        assert!(
            limiter
                .locked(OTHER_IP, "ALICE@example.org")
                .unwrap()
                .account
        );
        assert_eq!(limiter.locked(OTHER_IP, "bob@example.org"), None);
    }

    #[test]
    fn a_lockout_ends_after_its_time() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(60), Duration::from_millis(50));
        limiter.failed(IP, "a@b.org");
        assert!(limiter.failed(IP, "a@b.org"));
        assert!(limiter.locked(IP, "a@b.org").is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(limiter.locked(IP, "a@b.org"), None);
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up() {
        let limiter = FailureLimiter::new(2, Duration::from_millis(30), Duration::from_secs(60));
        limiter.failed(IP, "a@b.org");
        std::thread::sleep(Duration::from_millis(50));
        assert!(!limiter.failed(IP, "a@b.org"));
        assert_eq!(limiter.locked(IP, "a@b.org"), None);
    }

    #[test]
    fn success_resets_the_account_but_not_the_address() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60), Duration::from_secs(60));
        limiter.failed(IP, "a@b.org");
        limiter.failed(IP, "a@b.org");
        limiter.succeeded("a@b.org");
        assert!(limiter.failed(IP, "c@b.org"), "the address's count went on");
        assert!(limiter.locked(OTHER_IP, "a@b.org").is_none());
    }
}
