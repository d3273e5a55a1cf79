//! What the gateway counts, and its Prometheus text exposition (`GET /metrics` on the admin
//! endpoint).
//!
//! Counters are atomics bumped where things happen: [`Metrics`] for the server as a whole
//! (sessions, decisions), [`PluginCallStats`] inside each loaded plugin (calls, failures,
//! call time). Gauges (the queue) are read when scraped. The exposition is written by hand:
//! a few dozen series in the text format (version 0.0.4) need no registry crate.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::filter::plugin::LoadedPlugin;
use crate::filter::verdict::Action;
use crate::queue::QueueSummary;

/// The decisions, in the order of [`Metrics::messages`].
const ACTIONS: [Action; 5] = [
    Action::Accept,
    Action::Tag,
    Action::Quarantine,
    Action::Reject,
    Action::Tempfail,
];

/// Upper bounds of the call-time histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The server-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// SMTP connections accepted (before the per-listener and per-client caps).
    connections: AtomicU64,
    /// Messages decided at the end of DATA, by action (see [`ACTIONS`]).
    messages: [AtomicU64; 5],
    /// Delivery outcomes per recipient: delivered, deferred, failed.
    delivery: [AtomicU64; 3],
    /// Messages whose recipients expired in the queue.
    expired: AtomicU64,
    /// Logins on the submission listeners: succeeded, failed, refused while locked out.
    logins: [AtomicU64; 3],
}

/// How a login on a submission listener ended, for [`Metrics::login`].
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    /// 235.
    Succeeded,
    /// 535: wrong account or password.
    Failed,
    /// 454: the address or account is locked out.
    LockedOut,
}

/// A recipient's delivery outcome, for [`Metrics::delivery`].
#[derive(Debug, Clone, Copy)]
pub enum DeliveryOutcome {
    /// Accepted by the next hop.
    Delivered,
    /// To be tried again.
    Deferred,
    /// Refused for good (or expired).
    Failed,
}

/// What the plugins' services report at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct ServiceGauges {
    /// DNS answer-cache (hits, misses), when there is a resolver.
    pub dns_cache: Option<(u64, u64)>,
    /// The OCR engine's pool, when it has one.
    pub ocr: Option<crate::ocr::PoolUse>,
}

impl Metrics {
    /// A new set of counters at zero.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Counts an accepted SMTP connection.
    pub fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message decided at the end of DATA.
    pub fn message(&self, action: Action) {
        if let Some(i) = ACTIONS.iter().position(|a| *a == action) {
            self.messages[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a recipient's delivery outcome.
    pub fn delivery(&self, outcome: DeliveryOutcome) {
        self.delivery[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a login attempt's outcome.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message whose remaining recipients expired.
    pub fn expired(&self) {
        self.expired.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition: these counters, each plugin's, the services' and the queue's
    /// gauges when given.
    pub fn render(
        &self,
        plugins: &[Arc<LoadedPlugin>],
        services: ServiceGauges,
        queue: Option<&QueueSummary>,
        now_ms: u64,
    ) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "moat_smtp_connections_total",
            "counter",
            "SMTP connections accepted.",
        );
        sample(
            &mut out,
            "moat_smtp_connections_total",
            "",
            load(&self.connections),
        );
        family(
            &mut out,
            "moat_messages_total",
            "counter",
            "Messages decided at the end of DATA, by action.",
        );
        for (action, count) in ACTIONS.iter().zip(&self.messages) {
            let labels = format!("action=\"{}\"", action.as_str());
            sample(&mut out, "moat_messages_total", &labels, load(count));
        }
        family(
            &mut out,
            "moat_delivery_recipients_total",
            "counter",
            "Delivery outcomes per recipient and attempt.",
        );
        for (name, count) in ["delivered", "deferred", "failed"]
            .iter()
            .zip(&self.delivery)
        {
            let labels = format!("outcome=\"{name}\"");
            sample(
                &mut out,
                "moat_delivery_recipients_total",
                &labels,
                load(count),
            );
        }
        family(
            &mut out,
            "moat_delivery_expired_total",
            "counter",
            "Messages given up on after the queue's maximum age.",
        );
        sample(
            &mut out,
            "moat_delivery_expired_total",
            "",
            load(&self.expired),
        );
        family(
            &mut out,
            "moat_smtp_auth_total",
            "counter",
            "SMTP AUTH attempts on the submission listeners, by result.",
        );
        for (name, count) in ["succeeded", "failed", "locked_out"]
            .iter()
            .zip(&self.logins)
        {
            let labels = format!("result=\"{name}\"");
            sample(&mut out, "moat_smtp_auth_total", &labels, load(count));
        }
        render_plugins(&mut out, plugins);
        render_services(&mut out, services);
        if let Some(summary) = queue {
            render_queue(&mut out, summary, now_ms);
        }
        out
    }
}

/// One plugin's calls: how many, how many failed, and how long they took.
#[derive(Debug, Default)]
pub struct PluginCallStats {
    calls: AtomicU64,
    failures: AtomicU64,
    /// Calls per bucket of [`BUCKETS`] (not cumulative), and the ones above the last.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Total call time, in microseconds.
    micros: AtomicU64,
}

impl PluginCallStats {
    /// Counts one call that took `elapsed` and failed or not.
    pub fn record(&self, elapsed: Duration, failed: bool) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

fn render_plugins(out: &mut String, plugins: &[Arc<LoadedPlugin>]) {
    family(
        out,
        "moat_plugin_calls_total",
        "counter",
        "Plugin calls (every stage, learning included).",
    );
    for plugin in plugins {
        let labels = plugin_label(plugin);
        sample(
            out,
            "moat_plugin_calls_total",
            &labels,
            load(&plugin.stats.calls),
        );
    }
    family(
        out,
        "moat_plugin_failures_total",
        "counter",
        "Plugin calls that failed (timeout, memory, trap, invalid verdict, disabled).",
    );
    for plugin in plugins {
        let labels = plugin_label(plugin);
        sample(
            out,
            "moat_plugin_failures_total",
            &labels,
            load(&plugin.stats.failures),
        );
    }
    family(
        out,
        "moat_plugin_call_seconds",
        "histogram",
        "Wall-clock time of plugin calls, waiting for a pool slot included.",
    );
    for plugin in plugins {
        let name = plugin_label(plugin);
        let stats = &plugin.stats;
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&stats.buckets) {
            cumulative += load(count);
            sample(
                out,
                "moat_plugin_call_seconds_bucket",
                &format!("{name},le=\"{bound}\""),
                cumulative,
            );
        }
        cumulative += load(&stats.buckets[BUCKETS.len()]);
        sample(
            out,
            "moat_plugin_call_seconds_bucket",
            &format!("{name},le=\"+Inf\""),
            cumulative,
        );
        let _ = writeln!(
            out,
            "moat_plugin_call_seconds_sum{{{name}}} {}",
            load(&stats.micros) as f64 / 1e6
        );
        sample(out, "moat_plugin_call_seconds_count", &name, cumulative);
    }
}

fn render_services(out: &mut String, services: ServiceGauges) {
    if let Some((hits, misses)) = services.dns_cache {
        family(
            out,
            "moat_dns_cache_lookups_total",
            "counter",
            "DNS lookups by whether the answer cache had them.",
        );
        sample(out, "moat_dns_cache_lookups_total", "result=\"hit\"", hits);
        sample(
            out,
            "moat_dns_cache_lookups_total",
            "result=\"miss\"",
            misses,
        );
    }
    if let Some(pool) = services.ocr {
        family(
            out,
            "moat_ocr_slots",
            "gauge",
            "OCR pool slots (images read at once).",
        );
        sample(out, "moat_ocr_slots", "", pool.slots as u64);
        family(
            out,
            "moat_ocr_slots_busy",
            "gauge",
            "OCR pool slots in use.",
        );
        sample(out, "moat_ocr_slots_busy", "", pool.busy as u64);
        family(out, "moat_ocr_cache_entries", "gauge", "OCR texts cached.");
        sample(out, "moat_ocr_cache_entries", "", pool.cached as u64);
    }
}

fn render_queue(out: &mut String, summary: &QueueSummary, now_ms: u64) {
    family(
        out,
        "moat_queue_messages",
        "gauge",
        "Messages in the delivery queue.",
    );
    sample(out, "moat_queue_messages", "", summary.messages);
    family(
        out,
        "moat_queue_recipients",
        "gauge",
        "Recipients of queued messages, by state.",
    );
    for (state, count) in [
        ("pending", summary.pending),
        ("deferred", summary.deferred),
        ("delivered", summary.delivered),
        ("failed", summary.failed),
    ] {
        sample(
            out,
            "moat_queue_recipients",
            &format!("state=\"{state}\""),
            count,
        );
    }
    family(
        out,
        "moat_queue_oldest_age_seconds",
        "gauge",
        "Age of the oldest queued message (0 when the queue is empty).",
    );
    let age_ms = summary
        .oldest_received_at_ms
        .map_or(0, |t| now_ms.saturating_sub(t));
    let _ = writeln!(
        out,
        "moat_queue_oldest_age_seconds {}",
        age_ms as f64 / 1000.0
    );
}

fn plugin_label(plugin: &LoadedPlugin) -> String {
    format!("plugin=\"{}\"", escape(&plugin.name))
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: u64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.connection();
        metrics.message(Action::Reject);
        metrics.message(Action::Reject);
        metrics.delivery(DeliveryOutcome::Deferred);
        let text = metrics.render(&[], ServiceGauges::default(), None, 0);
        assert!(text.contains("\nmoat_delivery_recipients_total{outcome=\"deferred\"} 1\n"));
        assert!(text.contains("# TYPE moat_smtp_connections_total counter\n"));
        assert!(text.contains("\nmoat_smtp_connections_total 1\n"));
        assert!(text.contains("\nmoat_messages_total{action=\"reject\"} 2\n"));
        assert!(text.contains("\nmoat_messages_total{action=\"accept\"} 0\n"));

        let stats = PluginCallStats::default();
        stats.record(Duration::from_micros(300), false);
        stats.record(Duration::from_millis(30), true);
        stats.record(Duration::from_secs(9), false);
        assert_eq!(load(&stats.calls), 3);
        assert_eq!(load(&stats.failures), 1);
        assert_eq!(load(&stats.buckets[0]), 1);
        assert_eq!(load(&stats.buckets[6]), 1, "30 ms is in the 50 ms bucket");
        assert_eq!(load(&stats.buckets[BUCKETS.len()]), 1);
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
