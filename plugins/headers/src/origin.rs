//! Evidence for the message rather than against it: the client that handed it over is
//! the sender's own mail server.

use moat_sdk::domain::registrable;

use crate::address::domain;
use crate::rules::{Facts, Finding, first_address_domain};
use crate::symbols::CLIENT_IN_SENDER_DOMAIN;

/// CLIENT_IN_SENDER_DOMAIN: the client's verified reverse name has the registrable domain
/// of the envelope sender or of the `From` address. Newsletters and mailing lists send
/// from their own named servers; spam mostly comes from hosts unrelated to the domain it
/// claims. Neither address is authenticated, so any client with a reverse name can claim
/// its domain: a name made from the client's address (`c-73-1-2-3.hsd1.isp.example`, a
/// home connection of a provider whose domain anyone can put in From) does not count,
/// and the score is a small weight for `moat tune` to balance, never an allow-list.
pub(crate) fn client_in_sender_domain(facts: &Facts) -> Option<Finding> {
    let client = facts.client_reverse_dns.as_deref()?;
    if facts
        .client_ip
        .is_some_and(|ip| names_the_address(client, ip))
    {
        return None;
    }
    let client_domain = registrable(client)?;
    let envelope = facts.mail_from.as_deref().and_then(domain);
    let from = facts.first("From").and_then(first_address_domain);
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

/// Whether `name` spells out `ip`: two or more of an IPv4 address's numbers as numbers
/// of the name (`c-73-1-2-3`, `dsl-203-0-113-5`, `host5.113.0.203.in-addr`), the mark
/// of names a provider generates for its customers' connections.
fn names_the_address(name: &str, ip: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(ip) = ip else {
        return false;
    };
    let numbers = name
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty());
    let mut octets: Vec<String> = ip.octets().iter().map(u8::to_string).collect();
    let mut found = 0;
    for number in numbers {
        if let Some(at) = octets.iter().position(|octet| octet == number) {
            octets.swap_remove(at);
            found += 1;
        }
    }
    found >= 2
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
    fn a_name_made_from_the_clients_address_does_not() {
        let mut home = facts(
            Some("c-73-1-2-3.hsd1.ca.isp.example"),
            Some("anyone@isp.example"),
            "anyone@isp.example",
        );
        home.client_ip = Some("73.1.2.3".parse().unwrap());
        assert_eq!(client_in_sender_domain(&home), None);
        let mut server = facts(
            Some("smtp1.isp.example"),
            Some("anyone@isp.example"),
            "anyone@isp.example",
        );
        server.client_ip = Some("73.1.2.3".parse().unwrap());
        assert!(client_in_sender_domain(&server).is_some());
        assert!(names_the_address(
            "host5.113.0.203.in-addr.example",
            "203.0.113.5".parse().unwrap()
        ));
        assert!(!names_the_address(
            "mx2.example.org",
            "192.0.2.2".parse().unwrap()
        ));
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
