//! The plugins' metrics: calls, failures and call time per plugin, registered once per
//! server ([`PluginMetrics`]) and handed to each plugin as it loads ([`PluginCallStats`]).
//! A plugin reloaded under the same name keeps counting where it was. Whether each plugin
//! is switched off (`moat_plugin_disabled`) is read from its circuit breaker at scrape
//! time: the plugin of that name loaded last, 0 once it is gone.

use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use super::plugin::PluginHealth;
use crate::metrics::{Counter, CounterFamily, Histogram, HistogramFamily, Registry};

/// The name of the gauge that says which plugins are switched off.
const DISABLED: &str = "moat_plugin_disabled";

/// Each plugin's circuit breaker, by name, in load order.
type Breakers = Arc<RwLock<Vec<(String, Weak<PluginHealth>)>>>;

/// The plugin families of a server's registry.
#[derive(Debug, Clone)]
pub struct PluginMetrics {
    calls: CounterFamily,
    failures: CounterFamily,
    seconds: HistogramFamily,
    breakers: Breakers,
    kv_calls: CounterFamily,
    kv_errors: CounterFamily,
    kv_seconds: HistogramFamily,
}

impl PluginMetrics {
    /// Registers the plugin families in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let breakers = Breakers::default();
        let read = Arc::clone(&breakers);
        registry.collect(move |out| {
            out.family(
                DISABLED,
                "gauge",
                "1 while the plugin is switched off after repeated failures (failure_threshold), else 0.",
            );
            let now = Instant::now();
            for (name, health) in read.read().unwrap_or_else(PoisonError::into_inner).iter() {
                let off = health.upgrade().is_some_and(|h| h.is_disabled(now));
                out.sample(DISABLED, &[("plugin", name)], u8::from(off));
            }
        });
        Self {
            breakers,
            calls: registry.counter_family(
                "moat_plugin_calls_total",
                "Plugin calls (every stage, learning included).",
                "plugin",
            ),
            failures: registry.counter_family(
                "moat_plugin_failures_total",
                "Plugin calls that failed (timeout, memory, trap, invalid verdict, disabled).",
                "plugin",
            ),
            seconds: registry.histogram_family(
                "moat_plugin_call_seconds",
                "Wall-clock time of plugin calls, waiting for a pool slot included.",
                "plugin",
            ),
            kv_calls: registry.counter_family(
                "moat_kv_calls_total",
                "Calls of the plugin's kv namespace on the kv backend.",
                "plugin",
            ),
            kv_errors: registry.counter_family(
                "moat_kv_errors_total",
                "kv calls the backend failed (down, slower than its timeout, broken).",
                "plugin",
            ),
            kv_seconds: registry.histogram_family(
                "moat_kv_call_seconds",
                "Time of kv calls on the backend (Redis: the round trip).",
                "plugin",
            ),
        }
    }

    /// Reports the circuit breaker `health` as that of the plugin named `name` (replacing
    /// the one of a plugin of that name loaded before).
    pub fn watch(&self, name: &str, health: &Arc<PluginHealth>) {
        let mut breakers = self
            .breakers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let health = Arc::downgrade(health);
        match breakers.iter_mut().find(|(n, _)| n == name) {
            Some((_, watched)) => *watched = health,
            None => breakers.push((name.to_owned(), health)),
        }
    }

    /// The counters of the plugin named `name`.
    pub fn for_plugin(&self, name: &str) -> PluginCallStats {
        PluginCallStats {
            calls: self.calls.get(name),
            failures: self.failures.get(name),
            seconds: self.seconds.get(name),
        }
    }
}

impl PluginMetrics {
    /// The kv counters of the plugin named `name`.
    pub fn kv_for_plugin(&self, name: &str) -> super::kv_metrics::KvCallStats {
        super::kv_metrics::KvCallStats {
            calls: self.kv_calls.get(name),
            errors: self.kv_errors.get(name),
            seconds: self.kv_seconds.get(name),
        }
    }
}

/// One plugin's calls: how many, how many failed, and how long they took.
#[derive(Debug, Clone, Default)]
pub struct PluginCallStats {
    calls: Counter,
    failures: Counter,
    seconds: Histogram,
}

impl PluginCallStats {
    /// Counts one call that took `elapsed` and failed or not.
    pub fn record(&self, elapsed: Duration, failed: bool) {
        self.calls.inc();
        if failed {
            self.failures.inc();
        }
        self.seconds.observe(elapsed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plugin_counts_under_its_name_and_a_reload_continues_the_count() {
        let registry = Registry::new();
        let metrics = PluginMetrics::register(&registry);
        metrics
            .for_plugin("bayes")
            .record(Duration::from_millis(1), false);
        metrics
            .for_plugin("bayes")
            .record(Duration::from_millis(2), true);
        metrics.for_plugin("dnsbl");
        let text = registry.render();
        assert!(
            text.contains("\nmoat_plugin_calls_total{plugin=\"bayes\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("\nmoat_plugin_failures_total{plugin=\"bayes\"} 1\n"));
        assert!(text.contains("\nmoat_plugin_calls_total{plugin=\"dnsbl\"} 0\n"));
        assert!(text.contains("\nmoat_plugin_call_seconds_count{plugin=\"bayes\"} 2\n"));
    }

    #[test]
    fn the_disabled_gauge_follows_the_breaker_of_the_plugin_loaded_last() {
        let registry = Registry::new();
        let metrics = PluginMetrics::register(&registry);
        let breaker = || {
            Arc::new(PluginHealth::new(
                1,
                Duration::from_secs(60),
                Duration::from_secs(300),
            ))
        };
        let (old, ok) = (breaker(), breaker());
        metrics.watch("bayes", &old);
        metrics.watch("dnsbl", &ok);
        old.record_failure(Instant::now());
        let text = registry.render();
        assert!(
            text.contains("# TYPE moat_plugin_disabled gauge\n"),
            "{text}"
        );
        assert!(
            text.contains("\nmoat_plugin_disabled{plugin=\"bayes\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("\nmoat_plugin_disabled{plugin=\"dnsbl\"} 0\n"),
            "{text}"
        );
        // A reload: the new bayes starts switched on; the old one's state no longer shows.
        let new = breaker();
        metrics.watch("bayes", &new);
        assert!(
            registry
                .render()
                .contains("\nmoat_plugin_disabled{plugin=\"bayes\"} 0\n")
        );
        drop(ok);
        assert!(
            registry
                .render()
                .contains("\nmoat_plugin_disabled{plugin=\"dnsbl\"} 0\n")
        );
    }
}
