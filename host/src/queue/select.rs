//! Choosing messages by sender or recipient: every message from an address or a domain,
//! or for one, as an operator cleaning up after a compromised account or a dead
//! destination needs (Postfix's `postsuper -d` fed by a `mailq` filter). The server
//! selects, so a cleanup of many messages sends their ids over the admin API once.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Queue, QueueError, QueueId, QueuedEnvelope};

/// The messages of one sender and/or for one recipient. Each is an address (compared
/// case-insensitively), `@domain` for every address at a domain, and for `from` also `<>`
/// for the null sender (bounces).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl Selection {
    /// Whether a sender or a recipient is given at all; an empty selection selects nothing.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Whether `envelope` passes every part given.
    #[must_use]
    pub fn matches(&self, envelope: &QueuedEnvelope) -> bool {
        let from_ok = self.from.as_deref().is_none_or(|pattern| {
            if pattern == "<>" {
                envelope.mail_from.is_empty()
            } else {
                address_matches(pattern, &envelope.mail_from)
            }
        });
        let to_ok = self.to.as_deref().is_none_or(|pattern| {
            envelope
                .recipients
                .iter()
                .any(|r| address_matches(pattern, &r.address))
        });
        from_ok && to_ok
    }
}

impl Queue {
    /// The messages to act on: `ids` as given, then every queued message `selection`
    /// matches, each once, in queue order. Ids not in the queue stay in the list (the
    /// action reports them missing). Blocks on disk reads when a selection is set.
    pub fn select(
        &self,
        ids: &[QueueId],
        selection: &Selection,
    ) -> Result<Vec<QueueId>, QueueError> {
        let mut seen: HashSet<QueueId> = HashSet::with_capacity(ids.len());
        let mut chosen: Vec<QueueId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        if selection.is_set() {
            for id in self.ids()? {
                if seen.contains(&id) {
                    continue;
                }
                if self.envelope(&id)?.is_some_and(|e| selection.matches(&e)) {
                    seen.insert(id);
                    chosen.push(id);
                }
            }
        }
        Ok(chosen)
    }
}

/// `pattern` is the address (case-insensitive), or `@domain` and the address is at it.
fn address_matches(pattern: &str, address: &str) -> bool {
    let pattern = pattern.trim().trim_start_matches('<').trim_end_matches('>');
    match pattern.strip_prefix('@') {
        Some(domain) => address
            .rsplit_once('@')
            .is_some_and(|(_, at)| at.trim_end_matches('.').eq_ignore_ascii_case(domain)),
        None => !pattern.is_empty() && address.eq_ignore_ascii_case(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{RecipientRecord, RecipientState};

    fn envelope(from: &str, to: &[&str]) -> QueuedEnvelope {
        let recipients: Vec<RecipientRecord> = to
            .iter()
            .map(|r| RecipientRecord {
                address: (*r).to_owned(),
                state: RecipientState::Pending,
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": QueueId::generate(),
            "received_at_ms": 1_000_000,
            "mail_from": from,
            "recipients": recipients,
            "client_ip": "192.0.2.1",
            "helo": "client.example",
            "authenticated_user": null,
            "size": 10,
            "next_attempt_ms": 1_000_000,
            "attempts": 0,
        }))
        .unwrap()
    }

    fn selection(from: Option<&str>, to: Option<&str>) -> Selection {
        Selection {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    #[test]
    fn senders_and_recipients_match_by_address_or_domain_whatever_the_case() {
        let mail = envelope(
            "Spammer@Example.ORG",
            &["bob@example.test", "carol@other.test"],
        );
        assert!(selection(Some("spammer@example.org"), None).matches(&mail));
        assert!(selection(Some("<spammer@example.org>"), None).matches(&mail));
        assert!(selection(Some("@example.org"), None).matches(&mail));
        assert!(!selection(Some("pammer@example.org"), None).matches(&mail));
        assert!(!selection(Some("@ample.org"), None).matches(&mail));
        assert!(!selection(Some("<>"), None).matches(&mail));
        assert!(selection(None, Some("@OTHER.test")).matches(&mail));
        assert!(selection(Some("@example.org"), Some("bob@example.test")).matches(&mail));
        assert!(!selection(Some("@example.org"), Some("dave@example.test")).matches(&mail));
        assert!(selection(Some("<>"), None).matches(&envelope("", &["x@example.test"])));
        assert!(!selection(Some(""), None).matches(&envelope("", &["x@example.test"])));
    }

    #[tokio::test]
    async fn named_ids_come_first_then_the_selected_each_once_in_queue_order() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = crate::queue::tests::open(tmp.path());
        let mut ids = Vec::new();
        for (from, to) in [
            ("a@example.org", "x@example.test"),
            ("b@example.org", "x@example.test"),
            ("a@example.org", "y@example.test"),
        ] {
            let mut message = crate::queue::tests::new_message(&[to]);
            message.mail_from = from.into();
            ids.push(
                queue
                    .enqueue(message, b"m\r\n".to_vec())
                    .await
                    .expect("enqueue"),
            );
        }
        let (a1, b, a2) = (ids[0], ids[1], ids[2]);
        let unknown = QueueId::generate();
        let from_a = selection(Some("a@example.org"), None);
        let chosen = queue.select(&[a2, unknown, b, b], &from_a).expect("select");
        assert_eq!(chosen, [a2, unknown, b, a1]);
        let to_x = selection(None, Some("X@EXAMPLE.test"));
        assert_eq!(queue.select(&[], &to_x).expect("select"), [a1, b]);
        let none = Selection::default();
        assert!(queue.select(&[], &none).expect("select").is_empty());
        assert_eq!(queue.select(&[b], &none).expect("select"), [b]);
    }
}
