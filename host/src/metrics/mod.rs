//! What the gateway counts, as a registry each subsystem adds its own metrics to, and the
//! Prometheus text exposition of it (`GET /metrics` on the admin endpoint, format 0.0.4).
//!
//! A subsystem registers a metric where it sets itself up and keeps the handle where it
//! counts: `let rejected = registry.counter_family(...).get("reject")` once, then
//! `rejected.inc()` on the hot path (a relaxed atomic add, no lock, no lookup). Values
//! that are read rather than counted (the queue's size, the DNS cache, the OCR pool) are
//! registered as collectors, closures run at scrape time. This module knows no subsystem:
//! smtp, delivery, filter, queue, dns and ocr depend on it, never the other way.
//!
//! Why not the `prometheus-client` crate: it writes OpenMetrics (`# EOF`, counters typed
//! without their `_total`), which would change what operators' scrapers already read, and
//! the few dozen series here need only counters, labelled counters, one histogram family
//! and scrape-time gauges.

mod exposition;
mod family;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

pub use exposition::Exposition;
pub use family::{CounterFamily, HistogramFamily};

/// A closure that writes some families at scrape time.
type Collector = Box<dyn Fn(&mut Exposition) + Send + Sync>;

/// Every metric of a running server, in the order registered. Cheap to share
/// (`Arc<Registry>`); registering takes a short lock, counting takes none.
#[derive(Default)]
pub struct Registry {
    collectors: RwLock<Vec<Collector>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry. Commands without a server (`moat check`) use a throw-away one.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Registers `collect`, run at every scrape to write its families.
    pub fn collect(&self, collect: impl Fn(&mut Exposition) + Send + Sync + 'static) {
        self.collectors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(collect));
    }

    /// A counter without labels, `name` (ending in `_total`) described by `help`.
    pub fn counter(&self, name: &'static str, help: &'static str) -> Counter {
        let counter = Counter::default();
        let read = counter.clone();
        self.collect(move |out| {
            out.family(name, "counter", help);
            out.sample(name, &[], read.get());
        });
        counter
    }

    /// A counter per value of the label `label`; values appear in the exposition once
    /// [`CounterFamily::get`] created them (at 0).
    pub fn counter_family(
        &self,
        name: &'static str,
        help: &'static str,
        label: &'static str,
    ) -> CounterFamily {
        let family = CounterFamily::new(label);
        let read = family.clone();
        self.collect(move |out| {
            out.family(name, "counter", help);
            read.write(out, name);
        });
        family
    }

    /// A histogram of durations per value of the label `label`, over [`BUCKETS`].
    pub fn histogram_family(
        &self,
        name: &'static str,
        help: &'static str,
        label: &'static str,
    ) -> HistogramFamily {
        let family = HistogramFamily::new(label);
        let read = family.clone();
        self.collect(move |out| {
            out.family(name, "histogram", help);
            read.write(out, name);
        });
        family
    }

    /// The exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        for collect in self
            .collectors
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            collect(&mut out);
        }
        out.into_text()
    }
}

/// A monotonically increasing count, shared by its clones.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the histogram buckets, in seconds.
pub const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram of durations over [`BUCKETS`], shared by its clones; lock-free.
#[derive(Debug, Clone, Default)]
pub struct Histogram(Arc<HistogramCells>);

#[derive(Debug, Default)]
struct HistogramCells {
    /// Observations per bucket (not cumulative), and the ones above the last bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Their sum, in microseconds.
    micros: AtomicU64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.0.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.0.micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// The cumulative counts per bound (the last is `+Inf`, the total) and the sum in
    /// seconds.
    fn snapshot(&self) -> ([u64; BUCKETS.len() + 1], f64) {
        let mut cumulative = [0; BUCKETS.len() + 1];
        let mut total = 0;
        for (cell, count) in cumulative.iter_mut().zip(&self.0.buckets) {
            total += count.load(Ordering::Relaxed);
            *cell = total;
        }
        let sum = self.0.micros.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_metrics_render_in_the_text_format_in_registration_order() {
        let registry = Registry::new();
        let connections = registry.counter("moat_smtp_connections_total", "Connections.");
        let actions = registry.counter_family("moat_messages_total", "Decisions.", "action");
        let reject = actions.get("reject");
        actions.get("accept");
        registry.collect(|out| {
            out.family("moat_queue_messages", "gauge", "Queued.");
            out.sample("moat_queue_messages", &[], 7);
        });
        connections.inc();
        reject.add(2);
        let text = registry.render();
        assert!(text.starts_with(
            "# HELP moat_smtp_connections_total Connections.\n\
             # TYPE moat_smtp_connections_total counter\n\
             moat_smtp_connections_total 1\n"
        ));
        assert!(text.contains("\nmoat_messages_total{action=\"reject\"} 2\n"));
        assert!(text.contains("\nmoat_messages_total{action=\"accept\"} 0\n"));
        assert!(text.ends_with("# TYPE moat_queue_messages gauge\nmoat_queue_messages 7\n"));
    }

    #[test]
    fn a_histogram_counts_each_duration_in_its_bucket_and_renders_cumulative() {
        let registry = Registry::new();
        let family = registry.histogram_family("moat_call_seconds", "Calls.", "plugin");
        let calls = family.get("a\"b");
        calls.observe(Duration::from_micros(300));
        calls.observe(Duration::from_millis(30));
        calls.observe(Duration::from_secs(9));
        let (cumulative, sum) = calls.snapshot();
        assert_eq!(cumulative[0], 1);
        assert_eq!(cumulative[5], 1, "30 ms is above 25 ms");
        assert_eq!(cumulative[6], 2, "and within 50 ms");
        assert_eq!(cumulative[BUCKETS.len()], 3);
        assert!((sum - 9.0303).abs() < 1e-9, "{sum}");
        let text = registry.render();
        assert!(
            text.contains("moat_call_seconds_bucket{plugin=\"a\\\"b\",le=\"0.0005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("moat_call_seconds_bucket{plugin=\"a\\\"b\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("moat_call_seconds_count{plugin=\"a\\\"b\"} 3\n"));
        assert!(text.contains("moat_call_seconds_sum{plugin=\"a\\\"b\"} 9.0303\n"));
    }
}
