//! The retry schedule: how long to wait after each failed attempt, and when to give up.

use std::time::Duration;

use crate::config::DeliveryConfig;

/// When failed attempts are retried, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait after the first, second, … failed attempt; the last one repeats. Never
    /// empty.
    intervals: Vec<Duration>,
    /// How long after acceptance undelivered recipients are given up on; `None`: never.
    max_age: Option<Duration>,
}

impl RetryPolicy {
    /// The policy with these intervals (an empty list means every 15 minutes) and maximum
    /// age.
    pub fn new(intervals: Vec<Duration>, max_age: Option<Duration>) -> Self {
        let intervals = if intervals.is_empty() {
            vec![Duration::from_secs(15 * 60)]
        } else {
            intervals
        };
        Self { intervals, max_age }
    }

    /// The policy of `[delivery]`.
    pub fn from_config(config: &DeliveryConfig) -> Self {
        Self::new(
            config.retry_intervals.iter().map(|d| d.0).collect(),
            config.max_age.limit(),
        )
    }

    /// The wait after `attempts` attempts have failed (1 for the first).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let index = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.intervals
            .get(index)
            .or(self.intervals.last())
            .copied()
            .unwrap_or(Duration::from_secs(15 * 60))
    }

    /// How long a message may stay undelivered; `None`: forever.
    pub fn max_age(&self) -> Option<Duration> {
        self.max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_last_interval_repeats() {
        let policy = RetryPolicy::new(vec![MIN, 5 * MIN, 15 * MIN], Some(48 * 60 * MIN));
        let delays: Vec<_> = (1..=5).map(|n| policy.delay_after(n)).collect();
        assert_eq!(delays, [MIN, 5 * MIN, 15 * MIN, 15 * MIN, 15 * MIN]);
        assert_eq!(policy.delay_after(0), MIN);
        assert_eq!(policy.delay_after(u32::MAX), 15 * MIN);
    }

    #[test]
    fn the_default_is_every_15_minutes_for_48_hours() {
        let policy = RetryPolicy::from_config(&DeliveryConfig::default());
        assert_eq!(policy.delay_after(1), 15 * MIN);
        assert_eq!(policy.delay_after(100), 15 * MIN);
        assert_eq!(policy.max_age(), Some(48 * 60 * MIN));
        assert_eq!(RetryPolicy::new(vec![], None).delay_after(3), 15 * MIN);
    }
}
