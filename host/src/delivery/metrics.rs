//! What delivery counts: each recipient's outcome per attempt, and messages given up on.

use crate::metrics::{Counter, Registry};

/// A recipient's delivery outcome, for [`DeliveryMetrics::delivery`].
#[derive(Debug, Clone, Copy)]
pub enum DeliveryOutcome {
    /// Accepted by the next hop.
    Delivered,
    /// To be tried again.
    Deferred,
    /// Refused for good (or expired).
    Failed,
}

/// The delivery counters of a server.
#[derive(Debug, Clone, Default)]
pub struct DeliveryMetrics {
    /// Per [`DeliveryOutcome`], in its order.
    recipients: [Counter; 3],
    expired: Counter,
}

impl DeliveryMetrics {
    /// Registers the delivery counters in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let recipients = registry.counter_family(
            "moat_delivery_recipients_total",
            "Delivery outcomes per recipient and attempt.",
            "outcome",
        );
        Self {
            recipients: ["delivered", "deferred", "failed"].map(|name| recipients.get(name)),
            expired: registry.counter(
                "moat_delivery_expired_total",
                "Messages given up on after the queue's maximum age.",
            ),
        }
    }

    /// Counts a recipient's delivery outcome.
    pub fn delivery(&self, outcome: DeliveryOutcome) {
        self.recipients[outcome as usize].inc();
    }

    /// Counts a message whose remaining recipients expired.
    pub fn expired(&self) {
        self.expired.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_are_counted_under_their_label() {
        let registry = Registry::new();
        let metrics = DeliveryMetrics::register(&registry);
        metrics.delivery(DeliveryOutcome::Deferred);
        metrics.expired();
        let text = registry.render();
        assert!(text.contains("\nmoat_delivery_recipients_total{outcome=\"deferred\"} 1\n"));
        assert!(text.contains("\nmoat_delivery_recipients_total{outcome=\"delivered\"} 0\n"));
        assert!(text.contains("\nmoat_delivery_expired_total 1\n"), "{text}");
    }
}
