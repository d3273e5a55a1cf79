//! Evidence for the message rather than against it: the client that handed it over is
//! the sender's own mail server.

use moat_sdk::domain::registrable;

use crate::address::{addresses, domain};
use crate::rules::{Facts, Finding};
use crate::symbols::CLIENT_IN_SENDER_DOMAIN;

/// CLIENT_IN_SENDER_DOMAIN: the client's verified reverse name has the registrable domain
/// of the envelope sender or of the `From` address. Newsletters and mailing lists send
/// from their own named servers; spam mostly comes from hosts unrelated to the domain it
/// claims. A spammer who owns both a domain and the reverse names of its servers gets
/// this too, so it is a small weight for `moat tune` to balance, not an allow-list.
pub(crate) fn client_in_sender_domain(facts: &Facts) -> Option<Finding> {
    let client = facts.client_reverse_dns.as_deref()?;
    let client_domain = registrable(client)?;
    let envelope = facts.mail_from.as_deref().and_then(domain);
    let from = facts
        .first("From")
        .and_then(|value| addresses(value).first().and_then(|address| domain(address)));
    let (which, sender) = [("envelope sender", envelope), ("From", from)]
        .into_iter()
        .find_map(|(which, sender)| {
            let sender = sender?;
            (registrable(&sender).as_deref() == Some(client_domain.as_str()))
                .then_some((which, sender))
        })?;
    Some(Finding::new(
        CLIENT_IN_SENDER_DOMAIN,
        format!("the client {client} is in the {which}'s domain {sender}"),
    ))
}

#[cfg(test)]
mod tests {
    use moat_sdk::Header;

    use super::*;

    fn facts(reverse_dns: Option<&str>, mail_from: Option<&str>, from: &str) -> Facts {
        Facts {
            headers: vec![Header {
                name: "From".into(),
                value: from.into(),
            }],
            client_reverse_dns: reverse_dns.map(str::to_owned),
            mail_from: mail_from.map(str::to_owned),
            ..Facts::default()
        }
    }

    #[test]
    fn a_client_in_the_from_domain_counts() {
        let found = client_in_sender_domain(&facts(
            Some("pebble.foxsports.com"),
            Some("flash-return@mailings.example.net"),
            "FOX Sports <flash@mailings.FoxSports.com>",
        ))
        .expect("aligned with From");
        assert_eq!(found.symbol, CLIENT_IN_SENDER_DOMAIN);
        assert!(found.detail.contains("From"), "{}", found.detail);
    }

    #[test]
    fn a_client_in_the_envelope_domain_counts() {
        let found = client_in_sender_domain(&facts(
            Some("lists.example.org"),
            Some("list-bounces@example.org"),
            "alice@example.com",
        ))
        .expect("aligned with the envelope");
        assert!(found.detail.contains("envelope"), "{}", found.detail);
    }

    #[test]
    fn an_unrelated_or_unnamed_client_does_not() {
        let unrelated = facts(
            Some("dsl-1-2-3-4.provider.example"),
            Some("offers@shop.example.com"),
            "offers@shop.example.com",
        );
        assert_eq!(client_in_sender_domain(&unrelated), None);
        let unnamed = facts(None, Some("a@example.org"), "a@example.org");
        assert_eq!(client_in_sender_domain(&unnamed), None);
        // Sharing a public suffix is not sharing a domain.
        let suffix_only = facts(Some("host.other.co.uk"), None, "a@example.co.uk");
        assert_eq!(client_in_sender_domain(&suffix_only), None);
        let null_sender = facts(Some("mx.example.org"), Some(""), "");
        assert_eq!(client_in_sender_domain(&null_sender), None);
    }
}
