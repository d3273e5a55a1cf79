//! Relay control: which recipients Moat accepts mail for. Only the protected domains, and
//! at those, only the listed local parts where the operator gave a list. Anything else is
//! refused: Moat is never an open relay.
//!
//! A recipient is first put in the one spelling Moat keeps ([`RelayPolicy::recipient`]):
//! `<postmaster>` without a domain becomes the configured postmaster (`[relay]
//! postmaster`), and the domain is normalized by `crate::domain` (UTS 46, lowercase
//! A-label), the spelling delivery routes by. The check, the filters, the queue and
//! delivery all see that one [`Recipient`], so no spelling can be accepted as protected
//! and then routed as another domain.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::proto::{ForwardPath, Mailbox};
use crate::config::RelayConfig;
use crate::domain::{Domain, DomainError, split_address};

/// A recipient as Moat keeps it: the local part as the client sent it (its meaning is the
/// receiving host's, RFC 5321 §2.4), the domain in its one spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The local part, unquoted, as sent.
    pub local: String,
    /// The domain, normalized.
    pub domain: Domain,
}

impl fmt::Display for Recipient {
    /// `local@domain` as queued, routed and shown to the filters; the local part quoted
    /// when it is not a dot-string, as in a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mailbox = Mailbox {
            local: self.local.clone(),
            domain: self.domain.to_string(),
        };
        mailbox.fmt(f)
    }
}

/// Why a forward path has no recipient to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecipientError {
    /// `<postmaster>` with no protected domain, so no postmaster to give it to.
    #[error("no postmaster is configured")]
    NoPostmaster,
    /// The domain does not survive normalization (UTS 46).
    #[error("invalid recipient domain: {0}")]
    InvalidDomain(DomainError),
}

/// The verdict on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientCheck {
    /// A protected domain, and a known local part (or no list).
    Accept,
    /// Not a protected domain.
    RelayDenied {
        /// The domain asked for, normalized.
        domain: String,
    },
    /// A protected domain whose list does not have this local part.
    UnknownUser,
    /// The local part routes elsewhere (`%`, `!`, or an `@` inside quotes).
    RoutingInLocalPart,
}

/// The protected domains and their recipient lists (domains normalized, local parts
/// lower-cased for lookup), and the postmaster.
#[derive(Debug, Clone, Default)]
pub struct RelayPolicy {
    domains: HashSet<Domain>,
    recipients: HashMap<Domain, HashSet<String>>,
    postmaster: Option<Recipient>,
}

impl RelayPolicy {
    /// The policy of `[relay]`, validated at load: a domain that does not normalize is a
    /// configuration problem, so none is dropped here (it could match no recipient).
    pub fn from_config(config: &RelayConfig) -> Self {
        let postmaster = config.postmaster_address().and_then(|address| {
            let (local, domain) = split_address(&address)?;
            Some(Recipient {
                local: local.to_owned(),
                domain: Domain::parse_name(domain).ok()?,
            })
        });
        Self {
            domains: config
                .domains
                .iter()
                .filter_map(|d| Domain::parse_name(d).ok())
                .collect(),
            recipients: config
                .recipients
                .iter()
                .filter_map(|(domain, locals)| {
                    let domain = Domain::parse_name(domain).ok()?;
                    Some((domain, locals.iter().map(|l| l.to_lowercase()).collect()))
                })
                .collect(),
            postmaster,
        }
    }

    /// Whether `domain` is a protected domain, in any of its spellings.
    pub fn protects(&self, domain: &str) -> bool {
        Domain::parse(domain).is_ok_and(|domain| self.domains.contains(&domain))
    }

    /// The recipient `to` names, in the one spelling it is checked, filtered, queued and
    /// routed by: `<postmaster>` (any case) is the configured postmaster; a mailbox keeps
    /// its local part and has its domain normalized.
    pub fn recipient(&self, to: &ForwardPath) -> Result<Recipient, RecipientError> {
        match to {
            ForwardPath::Postmaster => self.postmaster.clone().ok_or(RecipientError::NoPostmaster),
            ForwardPath::Address(mailbox) => Ok(Recipient {
                local: mailbox.local.clone(),
                domain: Domain::parse(&mailbox.domain).map_err(RecipientError::InvalidDomain)?,
            }),
        }
    }

    /// Whether mail for `recipient` is accepted.
    pub fn check(&self, recipient: &Recipient) -> RecipientCheck {
        let Recipient { local, domain } = recipient;
        if !self.domains.contains(domain) {
            return RecipientCheck::RelayDenied {
                domain: domain.to_string(),
            };
        }
        if local.contains(['%', '!', '@']) {
            return RecipientCheck::RoutingInLocalPart;
        }
        match self.recipients.get(domain) {
            Some(list) if !list.contains(&local.to_lowercase()) => RecipientCheck::UnknownUser,
            _ => RecipientCheck::Accept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RelayPolicy {
        let mut config = RelayConfig {
            domains: vec![
                "Example.test".into(),
                "other.test".into(),
                "B\u{DC}CHER.test".into(),
                "bank.test".into(),
            ],
            ..RelayConfig::default()
        };
        config
            .recipients
            .insert("OTHER.test".into(), vec!["Alice".into()]);
        RelayPolicy::from_config(&config)
    }

    fn rcpt(local: &str, domain: &str) -> Result<Recipient, RecipientError> {
        policy().recipient(&ForwardPath::Address(Mailbox {
            local: local.into(),
            domain: domain.into(),
        }))
    }

    fn check(local: &str, domain: &str) -> RecipientCheck {
        policy().check(&rcpt(local, domain).expect("a valid domain"))
    }

    #[test]
    fn protected_domains_are_accepted_in_any_spelling() {
        for domain in [
            "EXAMPLE.TEST.",
            "ExAmPlE.test",
            "\u{FF45}xample.test",
            "ban\u{212A}.test",
            "example\u{3002}test",
            "b\u{FC}cher.test",
            "xn--bcher-kva.test",
            "XN--BCHER-KVA.test",
        ] {
            assert_eq!(check("anyone", domain), RecipientCheck::Accept, "{domain}");
        }
    }

    #[test]
    fn the_recipient_keeps_its_local_part_and_gets_the_normalized_domain() {
        let recipient = rcpt("J\u{FC}rgen", "B\u{DC}CHER.test").unwrap();
        assert_eq!(recipient.to_string(), "J\u{FC}rgen@xn--bcher-kva.test");
        let kelvin = rcpt("info", "BAN\u{212A}.test").unwrap();
        assert_eq!(kelvin.to_string(), "info@bank.test");
        let quoted = rcpt("john doe", "EXAMPLE.test").unwrap();
        assert_eq!(quoted.to_string(), "\"john doe\"@example.test");
        assert_eq!(
            rcpt("a", "ban\u{200D}k.test"),
            Err(RecipientError::InvalidDomain(DomainError::InvalidName))
        );
    }

    #[test]
    fn postmaster_without_a_domain_is_the_configured_postmaster() {
        let postmaster = policy().recipient(&ForwardPath::Postmaster).unwrap();
        assert_eq!(postmaster.to_string(), "postmaster@example.test");
        assert_eq!(policy().check(&postmaster), RecipientCheck::Accept);
        let config = RelayConfig {
            domains: vec!["example.test".into()],
            postmaster: Some("abuse@EXAMPLE.test".into()),
            ..RelayConfig::default()
        };
        let set = RelayPolicy::from_config(&config)
            .recipient(&ForwardPath::Postmaster)
            .unwrap();
        assert_eq!(set.to_string(), "abuse@example.test");
        assert_eq!(
            RelayPolicy::from_config(&RelayConfig::default()).recipient(&ForwardPath::Postmaster),
            Err(RecipientError::NoPostmaster)
        );
    }

    #[test]
    fn any_other_domain_is_relay_denied_including_lookalikes() {
        for (domain, normalized) in [
            ("example.org", "example.org"),
            ("example.test.evil.org", "example.test.evil.org"),
            ("evilexample.test", "evilexample.test"),
            ("sub.example.test", "sub.example.test"),
            ("[127.0.0.1]", "[127.0.0.1]"),
            ("\u{435}xample.test", "xn--xample-2of.test"),
            ("bucher.test", "bucher.test"),
        ] {
            assert_eq!(
                check("a", domain),
                RecipientCheck::RelayDenied {
                    domain: normalized.into()
                },
                "{domain}"
            );
        }
    }

    #[test]
    fn routing_tricks_in_the_local_part_are_refused() {
        for local in ["victim%evil.org", "evil.org!victim", "victim@evil.org"] {
            assert_eq!(
                check(local, "example.test"),
                RecipientCheck::RoutingInLocalPart,
                "{local}"
            );
        }
    }

    #[test]
    fn a_protected_domain_is_one_of_the_list_in_any_case() {
        assert!(policy().protects("EXAMPLE.test."));
        assert!(!policy().protects("sub.example.test"));
    }

    #[test]
    fn recipient_lists_are_enforced_where_given() {
        assert_eq!(check("alice", "other.test"), RecipientCheck::Accept);
        assert_eq!(check("alice", "OTHER.TEST"), RecipientCheck::Accept);
        assert_eq!(check("mallory", "other.test"), RecipientCheck::UnknownUser);
    }
}
