//! Latency quantiles, shared by the benchmarks.

use std::time::Duration;

/// The `q` quantile (0.0 to 1.0) of `sorted`, nearest rank; zero for no samples.
pub(super) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ms: Vec<Duration> = (1..=101).map(Duration::from_millis).collect();
        assert_eq!(quantile(&ms, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&ms, 0.99), Duration::from_millis(100));
        assert_eq!(quantile(&ms, 1.0), Duration::from_millis(101));
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
    }
}
