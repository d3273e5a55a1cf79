//! Failed logins, counted per client (IPv4 address, IPv6 /64) and per account name: the `max_failures`-th
//! failure within `window` locks that address (or account) out for `lockout`, during
//! which every login from it (or as it) is refused without looking at the password. Kept
//! in memory: a restart forgets them, as Postfix's anvil does.
//!
//! A login takes its slot before its password is verified ([`FailureLimiter::begin`]):
//! logins in progress count as failures-to-be, so twenty sessions guessing at once get
//! the same `max_failures` guesses as one session guessing in turn; the rest are refused
//! as busy until the guesses in progress are decided.

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

/// Why a login may not be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address or the account is locked out.
    Locked(Locked),
    /// Every guess left before a lockout is being verified already.
    Busy,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    /// Logins being verified now: each may become a failure.
    pending: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn fresh(now: Instant) -> Self {
        Self {
            count: 0,
            pending: 0,
            window_start: now,
            locked_until: None,
        }
    }
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

    /// Takes a guess for `key`: its time left when locked out, `Busy` when every guess
    /// left is in progress, else a pending guess is counted.
    fn reserve(&self, key: K, limits: &Limits, now: Instant) -> Result<(), Option<Duration>> {
        let mut entries = self.lock();
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, f| !f.expired(limits, now) || f.pending > 0);
        }
        let entry = entries.entry(key).or_insert(Failures::fresh(now));
        if let Some(until) = entry.locked_until.filter(|until| *until > now) {
            return Err(Some(until - now));
        }
        if entry.expired(limits, now) {
            *entry = Failures {
                pending: entry.pending,
                ..Failures::fresh(now)
            };
        }
        if entry.count + entry.pending >= limits.max_failures {
            return Err(None);
        }
        entry.pending += 1;
        Ok(())
    }

    /// Gives back a pending guess.
    fn release(&self, key: &K) {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.pending = entry.pending.saturating_sub(1);
        }
    }

    /// Counts a failure; true if it locks the key out.
    fn fail(&self, key: K, limits: &Limits, now: Instant) -> bool {
        let mut entries = self.lock();
        if entries.len() >= SWEEP_AT {
            entries.retain(|_, f| !f.expired(limits, now) || f.pending > 0);
        }
        let entry = entries.entry(key).or_insert(Failures::fresh(now));
        if entry.expired(limits, now) {
            *entry = Failures {
                pending: entry.pending,
                ..Failures::fresh(now)
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
        let mut entries = self.lock();
        let pending = entries.get(key).map_or(0, |f| f.pending);
        if pending == 0 {
            entries.remove(key);
        } else if let Some(entry) = entries.get_mut(key) {
            *entry = Failures {
                pending,
                ..Failures::fresh(Instant::now())
            };
        }
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
            .locked(&crate::net::client_key(ip), Instant::now())
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
        let ip = crate::net::client_key(ip);
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

    /// Takes a guess from `ip` as `login` before its password is verified, or says why
    /// not. The guess is decided with [`LoginAttempt::succeeded`] or
    /// [`LoginAttempt::failed`]; dropped undecided, it is given back.
    pub fn begin(&self, ip: IpAddr, login: &str) -> Result<LoginAttempt<'_>, Refusal> {
        let ip = crate::net::client_key(ip);
        let now = Instant::now();
        let login = login.to_lowercase();
        let locked = |account, remaining| Refusal::Locked(Locked { account, remaining });
        if let Err(remaining) = self.by_address.reserve(ip, &self.limits, now) {
            return Err(remaining.map_or(Refusal::Busy, |r| locked(false, r)));
        }
        if let Err(remaining) = self.by_account.reserve(login.clone(), &self.limits, now) {
            self.by_address.release(&ip);
            return Err(remaining.map_or(Refusal::Busy, |r| locked(true, r)));
        }
        Ok(LoginAttempt {
            limiter: self,
            ip,
            login,
            decided: false,
        })
    }
}

/// A login whose password is being verified: it holds one of the guesses its address and
/// account have left.
#[derive(Debug)]
pub struct LoginAttempt<'a> {
    limiter: &'a FailureLimiter,
    ip: IpAddr,
    login: String,
    decided: bool,
}

impl LoginAttempt<'_> {
    /// The password was right.
    pub fn succeeded(mut self) {
        self.give_back();
        self.limiter.succeeded(&self.login);
    }

    /// The password was wrong; true if that locked the address or the account out.
    pub fn failed(mut self) -> bool {
        self.give_back();
        self.limiter.failed(self.ip, &self.login)
    }

    fn give_back(&mut self) {
        if !self.decided {
            self.decided = true;
            self.limiter.by_address.release(&self.ip);
            self.limiter.by_account.release(&self.login);
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        self.give_back();
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

    #[test]
    fn guesses_in_progress_count_so_parallel_logins_get_no_more_guesses() {
        let limiter = FailureLimiter::new(5, Duration::from_secs(60), Duration::from_secs(60));
        let attempts: Vec<_> = (0..5)
            .map(|n| {
                limiter
                    .begin(IP, &format!("user{n}@b.org"))
                    .expect("a guess")
            })
            .collect();
        assert_eq!(
            limiter.begin(IP, "user9@b.org").err(),
            Some(Refusal::Busy),
            "five guesses are in progress"
        );
        let locked: Vec<bool> = attempts.into_iter().map(LoginAttempt::failed).collect();
        assert_eq!(locked, [false, false, false, false, true]);
        assert!(matches!(
            limiter.begin(IP, "user9@b.org"),
            Err(Refusal::Locked(Locked { account: false, .. }))
        ));
    }

    #[test]
    fn an_undecided_guess_is_given_back_and_a_success_frees_its_slot() {
        let limiter = FailureLimiter::new(1, Duration::from_secs(60), Duration::from_secs(60));
        drop(limiter.begin(IP, "a@b.org").expect("a guess"));
        let attempt = limiter.begin(IP, "a@b.org").expect("given back");
        assert_eq!(
            limiter.begin(OTHER_IP, "a@b.org").err(),
            Some(Refusal::Busy)
        );
        attempt.succeeded();
        limiter.begin(OTHER_IP, "a@b.org").expect("free again");
    }
}
