//! What recipient verification counts: probes by result, answers taken from the cache
//! by answer, and the cache's size.

use std::sync::Arc;

use super::cache::AnswerCache;
use crate::metrics::{Counter, Registry};

/// How a probe ended, for [`VerifyMetrics::probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ProbeResult {
    /// The server took the recipient.
    Known,
    /// The server refused it for good.
    Unknown,
    /// No answer: connection, 4xx, timeout, or no probe slot in time.
    Failed,
}

/// The verification counters of a server.
#[derive(Debug, Clone)]
pub(super) struct VerifyMetrics {
    /// Per [`ProbeResult`], in its order.
    probes: [Counter; 3],
    /// Known, unknown.
    hits: [Counter; 2],
}

impl VerifyMetrics {
    /// Registers the counters in `registry`, and the size of `cache` as a gauge.
    pub(super) fn register(registry: &Registry, cache: &Arc<AnswerCache>) -> Self {
        let probes = registry.counter_family(
            "moat_recipient_verify_probes_total",
            "Recipient verification probes to the protected server, by result.",
            "result",
        );
        let hits = registry.counter_family(
            "moat_recipient_verify_cache_hits_total",
            "Recipients answered from the verification cache, by answer.",
            "answer",
        );
        let cache = Arc::clone(cache);
        registry.collect(move |out| {
            let name = "moat_recipient_verify_cache_entries";
            out.family(
                name,
                "gauge",
                "Answers in the verification cache (expired known ones included), by answer.",
            );
            let (known, unknown) = cache.len();
            out.sample(name, &[("answer", "known")], known);
            out.sample(name, &[("answer", "unknown")], unknown);
        });
        Self {
            probes: ["known", "unknown", "failed"].map(|result| probes.get(result)),
            hits: ["known", "unknown"].map(|answer| hits.get(answer)),
        }
    }

    /// Counts a probe's result.
    pub(super) fn probe(&self, result: ProbeResult) {
        self.probes[result as usize].inc();
    }

    /// Counts an answer taken from the cache.
    pub(super) fn hit(&self, known: bool) {
        self.hits[usize::from(!known)].inc();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::time::Clock;

    #[test]
    fn probes_hits_and_the_cache_size_are_exposed_under_their_labels() {
        let registry = Registry::new();
        let cache = Arc::new(AnswerCache::new(
            Clock::manual(0),
            Duration::from_secs(60),
            Duration::from_secs(60),
            10,
        ));
        let metrics = VerifyMetrics::register(&registry, &cache);
        metrics.probe(ProbeResult::Failed);
        metrics.hit(false);
        metrics.hit(false);
        cache.record("a@example.test", true);
        let text = registry.render();
        assert!(
            text.contains("\nmoat_recipient_verify_probes_total{result=\"failed\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("\nmoat_recipient_verify_probes_total{result=\"known\"} 0\n"));
        assert!(text.contains("\nmoat_recipient_verify_cache_hits_total{answer=\"unknown\"} 2\n"));
        assert!(text.contains("\nmoat_recipient_verify_cache_entries{answer=\"known\"} 1\n"));
        assert!(text.contains("\nmoat_recipient_verify_cache_entries{answer=\"unknown\"} 0\n"));
    }
}
