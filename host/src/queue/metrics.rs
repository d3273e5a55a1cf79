//! The queue's gauges for `/metrics`: messages, recipients by state and the oldest
//! message's age, read from the writers' counts ([`Queue::summary`]) at each scrape.

use super::Queue;
use crate::metrics::Registry;
use crate::time::Clock;

impl Queue {
    /// Registers the queue's gauges in `registry`; ages are measured by `clock`.
    pub fn register_metrics(&self, registry: &Registry, clock: Clock) {
        let queue = self.clone();
        registry.collect(move |out| {
            let summary = queue.summary();
            out.family(
                "moat_queue_messages",
                "gauge",
                "Messages in the delivery queue.",
            );
            out.sample("moat_queue_messages", &[], summary.messages);
            out.family(
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
                out.sample("moat_queue_recipients", &[("state", state)], count);
            }
            out.family(
                "moat_queue_oldest_age_seconds",
                "gauge",
                "Age of the oldest queued message (0 when the queue is empty).",
            );
            let age_ms = summary
                .oldest_received_at_ms
                .map_or(0, |t| clock.now_ms().saturating_sub(t));
            out.sample("moat_queue_oldest_age_seconds", &[], age_ms as f64 / 1000.0);
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::Registry;
    use crate::queue::{NewMessage, Queue};
    use crate::store::Database;
    use crate::time::Clock;

    #[tokio::test]
    async fn the_gauges_show_the_queue_and_its_oldest_message_by_the_clock() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = Queue::open(Database::open(tmp.path()).expect("db")).expect("queue");
        let registry = Registry::new();
        let clock = Clock::manual(0);
        queue.register_metrics(&registry, clock.clone());
        assert!(
            registry
                .render()
                .contains("\nmoat_queue_oldest_age_seconds 0\n")
        );
        let id = queue
            .enqueue(
                NewMessage {
                    mail_from: "a@example.org".into(),
                    recipients: vec!["b@example.test".into()],
                    client_ip: "192.0.2.1".into(),
                    helo: "h".into(),
                    authenticated_user: None,
                    smtputf8: false,
                    eight_bit_mime: false,
                    spam: false,
                },
                b"Subject: x\r\n\r\nx\r\n".to_vec(),
            )
            .await
            .expect("queued");
        clock.set_ms(id.timestamp_ms() + 2_500);
        let text = registry.render();
        assert!(text.contains("\nmoat_queue_messages 1\n"), "{text}");
        assert!(text.contains("\nmoat_queue_recipients{state=\"pending\"} 1\n"));
        assert!(
            text.contains("\nmoat_queue_oldest_age_seconds 2.5\n"),
            "{text}"
        );
    }
}
