//! Which queued messages a `moat queue` command acts on: ids, or every message from a
//! sender or to a recipient (an address, or `@domain` for a whole domain), as an operator
//! cleaning up after a compromised account or a dead destination needs (Postfix's
//! `postsuper -d` fed by a `mailq` filter).

use std::collections::HashSet;

use crate::queue::{QueueId, QueuedEnvelope};

/// `--from` / `--to`: the messages of one sender or for one recipient.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    /// Only messages from this sender: an address, `@domain`, or `<>` for bounces.
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// Only messages with a recipient at this address, or at `@domain`.
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
}

impl Filter {
    /// Whether a filter is given at all.
    pub fn is_set(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// Whether `envelope` passes every filter given.
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

/// The messages to act on: the `ids` given, then those of `envelopes` the filter selects
/// (each once, in queue order).
pub(super) fn selected(
    ids: &[QueueId],
    filter: &Filter,
    envelopes: &[QueuedEnvelope],
) -> Vec<QueueId> {
    let mut seen = HashSet::new();
    let from_filter = envelopes
        .iter()
        .filter(|e| filter.is_set() && filter.matches(e))
        .map(|e| e.id);
    ids.iter()
        .copied()
        .chain(from_filter)
        .filter(|id| seen.insert(*id))
        .collect()
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

    #[test]
    fn senders_and_recipients_match_by_address_or_domain_whatever_the_case() {
        let mail = envelope(
            "Spammer@Example.ORG",
            &["bob@example.test", "carol@other.test"],
        );
        let filter = |from: Option<&str>, to: Option<&str>| Filter {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        };
        assert!(filter(Some("spammer@example.org"), None).matches(&mail));
        assert!(filter(Some("<spammer@example.org>"), None).matches(&mail));
        assert!(filter(Some("@example.org"), None).matches(&mail));
        assert!(!filter(Some("pammer@example.org"), None).matches(&mail));
        assert!(!filter(Some("@ample.org"), None).matches(&mail));
        assert!(!filter(Some("<>"), None).matches(&mail));
        assert!(filter(None, Some("@OTHER.test")).matches(&mail));
        assert!(filter(Some("@example.org"), Some("bob@example.test")).matches(&mail));
        assert!(!filter(Some("@example.org"), Some("dave@example.test")).matches(&mail));
        assert!(filter(Some("<>"), None).matches(&envelope("", &["x@example.test"])));
        assert!(!filter(Some(""), None).matches(&envelope("", &["x@example.test"])));
    }

    #[test]
    fn ids_come_first_and_each_message_is_selected_once() {
        let (a, b, c) = (
            envelope("a@example.org", &["x@example.test"]),
            envelope("b@example.org", &["x@example.test"]),
            envelope("a@example.org", &["y@example.test"]),
        );
        let all = [a.clone(), b.clone(), c.clone()];
        let from_a = Filter {
            from: Some("a@example.org".into()),
            to: None,
        };
        assert_eq!(selected(&[c.id, b.id], &from_a, &all), [c.id, b.id, a.id]);
        assert_eq!(selected(&[b.id, b.id], &Filter::default(), &all), [b.id]);
        assert!(selected(&[], &Filter::default(), &all).is_empty());
    }
}
