//! The plugins' metrics: calls, failures and call time per plugin, registered once per
//! server ([`PluginMetrics`]) and handed to each plugin as it loads ([`PluginCallStats`]).
//! A plugin reloaded under the same name keeps counting where it was.

use std::time::Duration;

use crate::metrics::{Counter, CounterFamily, Histogram, HistogramFamily, Registry};

/// The plugin families of a server's registry.
#[derive(Debug, Clone)]
pub struct PluginMetrics {
    calls: CounterFamily,
    failures: CounterFamily,
    seconds: HistogramFamily,
}

impl PluginMetrics {
    /// Registers the plugin families in `registry`.
    pub fn register(registry: &Registry) -> Self {
        Self {
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
}
