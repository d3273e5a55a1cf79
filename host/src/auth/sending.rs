//! Each account's sending allowance: messages and recipients per hour, as token buckets
//! that refill continuously (a burst up to the hourly figure, then the hourly rate). A
//! compromised account can then send only so much before an operator notices. In memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn take(&mut self, n: f64, per_hour: f64, now: Instant) -> bool {
        let elapsed = now.duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * per_hour / HOUR.as_secs_f64()).min(per_hour);
        self.refilled = now;
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

/// What ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// `max_messages_per_hour`.
    Messages(u32),
    /// `max_recipients_per_hour`.
    Recipients(u32),
}

/// Per-account buckets; a limit of 0 means unlimited.
#[derive(Debug)]
pub struct SendingLimiter {
    messages_per_hour: u32,
    recipients_per_hour: u32,
    buckets: Mutex<HashMap<String, (Bucket, Bucket)>>,
}

impl SendingLimiter {
    /// Allows each account `messages_per_hour` messages and `recipients_per_hour`
    /// recipients (0: no limit).
    pub fn new(messages_per_hour: u32, recipients_per_hour: u32) -> Self {
        Self {
            messages_per_hour,
            recipients_per_hour,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one message from `account`'s allowance.
    pub fn message(&self, account: &str) -> Result<(), Exceeded> {
        self.take(account, true)
            .then_some(())
            .ok_or(Exceeded::Messages(self.messages_per_hour))
    }

    /// Takes one recipient from `account`'s allowance.
    pub fn recipient(&self, account: &str) -> Result<(), Exceeded> {
        self.take(account, false)
            .then_some(())
            .ok_or(Exceeded::Recipients(self.recipients_per_hour))
    }

    fn take(&self, account: &str, message: bool) -> bool {
        let limit = if message {
            self.messages_per_hour
        } else {
            self.recipients_per_hour
        };
        if limit == 0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (messages, recipients) = buckets.entry(account.to_lowercase()).or_insert_with(|| {
            let full = |n: u32| Bucket {
                tokens: f64::from(n),
                refilled: now,
            };
            (full(self.messages_per_hour), full(self.recipients_per_hour))
        });
        let bucket = if message { messages } else { recipients };
        bucket.take(1.0, f64::from(limit), now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_may_send_its_hourly_allowance_and_no_more() {
        let limiter = SendingLimiter::new(3, 5);
        for _ in 0..3 {
            limiter.message("alice@example.org").unwrap();
        }
        assert_eq!(
            limiter.message("Alice@example.org"),
            Err(Exceeded::Messages(3))
        );
        limiter.message("bob@example.org").unwrap();
        for _ in 0..5 {
            limiter.recipient("alice@example.org").unwrap();
        }
        assert_eq!(
            limiter.recipient("alice@example.org"),
            Err(Exceeded::Recipients(5))
        );
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = SendingLimiter::new(0, 0);
        for _ in 0..10_000 {
            limiter.message("a@b.org").unwrap();
            limiter.recipient("a@b.org").unwrap();
        }
    }

    #[test]
    fn the_allowance_refills_over_the_hour() {
        let mut bucket = Bucket {
            tokens: 0.0,
            refilled: Instant::now(),
        };
        let later = bucket.refilled + Duration::from_secs(60);
        // 60 per hour: one a minute.
        assert!(bucket.take(1.0, 60.0, later));
        assert!(!bucket.take(1.0, 60.0, later));
    }
}
