//! Choosing messages by sender or recipient: every message from an address or a domain,
//! or for one, as an operator cleaning up after a compromised account or a dead
//! destination needs (Postfix's `postsuper -d` fed by a `mailq` filter). The server
//! selects, so a cleanup of many messages sends their ids over the admin API once.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::{Queue, QueueError, QueueId, QueuedEnvelope};
use crate::domain::{Domain, split_address};

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
/// Domains compare in their one spelling (recipients are queued with the normalized
/// domain, so `@bücher.test` must find `xn--bcher-kva.test`).
fn address_matches(pattern: &str, address: &str) -> bool {
    let pattern = pattern.trim().trim_start_matches('<').trim_end_matches('>');
    if let Some(domain) = pattern.strip_prefix('@') {
        return split_address(address).is_some_and(|(_, at)| same_domain(at, domain));
    }
    if pattern.is_empty() {
        return false;
    }
    if address.eq_ignore_ascii_case(pattern) {
        return true;
    }
    match (split_address(pattern), split_address(address)) {
        (Some((local, domain)), Some((at_local, at))) => {
            local.eq_ignore_ascii_case(at_local) && same_domain(domain, at)
        }
        _ => false,
    }
}

/// Whether `a` and `b` are one domain: in their one spelling, or (where either does not
/// normalize) as written, ASCII case-insensitively, without a trailing dot.
fn same_domain(a: &str, b: &str) -> bool {
    match (Domain::parse(a), Domain::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a
            .trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.')),
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

    #[test]
    fn domains_match_in_their_one_spelling() {
        let mail = envelope(
            "alice@ban\u{212A}.test",
            &["info@xn--bcher-kva.test", "\"a b\"@example.test"],
        );
        assert!(selection(None, Some("@b\u{FC}cher.test")).matches(&mail));
        assert!(selection(None, Some("@B\u{DC}CHER.test.")).matches(&mail));
        assert!(selection(None, Some("INFO@b\u{FC}cher.test")).matches(&mail));
        assert!(!selection(None, Some("bob@b\u{FC}cher.test")).matches(&mail));
        assert!(!selection(None, Some("@bucher.test")).matches(&mail));
        assert!(selection(None, Some("\"a b\"@EXAMPLE.test")).matches(&mail));
        assert!(selection(Some("@bank.test"), None).matches(&mail));
        assert!(selection(Some("alice@BANK.test"), None).matches(&mail));
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
