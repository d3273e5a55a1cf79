//! The gateway's one clock: wall-clock time in Unix milliseconds, as the queue's schedule,
//! delivery's retries, the quarantine's expiry, the admin API and the plugins' `clock`
//! capability read it.
//!
//! Code whose behaviour depends on the time takes a [`Clock`] (cheap to clone), so a test
//! can hand it a [`Clock::manual`] one and move it by hand instead of sleeping. Code that
//! only prints the time (the CLI's "3h ago") calls [`now_ms`]. Timeouts and intervals are
//! not wall-clock time: they use `tokio::time` and `std::time::Instant`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix milliseconds now, by the system clock (0 before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A source of wall-clock time: the system clock (optionally shifted), or a manual clock
/// that only moves when told to (tests).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    source: Source,
}

#[derive(Debug, Clone)]
enum Source {
    /// The system clock plus a fixed offset in milliseconds.
    System { offset_ms: i64 },
    /// A time set by hand, shared by every clone.
    Manual(Arc<AtomicU64>),
}

impl Default for Source {
    fn default() -> Self {
        Self::System { offset_ms: 0 }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock running `offset_ms` ahead (behind when negative): a test of time
    /// decay in a plugin starts the gateway in the future.
    pub fn with_offset_ms(offset_ms: i64) -> Self {
        Self {
            source: Source::System { offset_ms },
        }
    }

    /// A clock standing at `start_ms` until [`Clock::advance`] or [`Clock::set_ms`] moves
    /// it; every clone sees the same time.
    pub fn manual(start_ms: u64) -> Self {
        Self {
            source: Source::Manual(Arc::new(AtomicU64::new(start_ms))),
        }
    }

    /// Unix milliseconds now.
    pub fn now_ms(&self) -> u64 {
        match &self.source {
            Source::System { offset_ms } => {
                let system = i64::try_from(now_ms()).unwrap_or(i64::MAX);
                u64::try_from(system.saturating_add(*offset_ms).max(0)).unwrap_or(0)
            }
            Source::Manual(ms) => ms.load(Ordering::Relaxed),
        }
    }

    /// Unix seconds now (for header dates).
    pub fn now_secs(&self) -> i64 {
        i64::try_from(self.now_ms() / 1000).unwrap_or(i64::MAX)
    }

    /// Moves a manual clock forward by `by`; the system clock cannot be moved (no-op).
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(ms) = &self.source {
            let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
            ms.fetch_add(by, Ordering::Relaxed);
        }
    }

    /// Sets a manual clock to `ms`; the system clock cannot be set (no-op).
    pub fn set_ms(&self, ms: u64) {
        if let Source::Manual(now) = &self.source {
            now.store(ms, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_now_and_an_offset_shifts_it() {
        let before = now_ms();
        let read = Clock::system().now_ms();
        assert!(
            read >= before && read - before < 60_000,
            "{read} vs {before}"
        );
        let ahead = Clock::with_offset_ms(86_400_000).now_ms();
        assert!(ahead >= before + 86_400_000, "{ahead}");
        assert_eq!(Clock::with_offset_ms(-i64::MAX).now_ms(), 0);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_every_clone_sees_it() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        assert_eq!(clone.now_ms(), 1_000);
        clock.advance(Duration::from_secs(2));
        assert_eq!(clone.now_ms(), 3_000);
        assert_eq!(clone.now_secs(), 3);
        clone.set_ms(10);
        assert_eq!(clock.now_ms(), 10);
        let system = Clock::system();
        system.advance(Duration::from_secs(3600));
        assert!(system.now_ms() < now_ms() + 60_000);
    }
}
