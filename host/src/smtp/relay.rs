//! Relay control: which recipients Moat accepts mail for. Only the protected domains, and
//! at those, only the listed local parts where the operator gave a list. Anything else is
//! refused: Moat is never an open relay.

use std::collections::{HashMap, HashSet};

use crate::config::RelayConfig;

/// The verdict on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientCheck {
    /// A protected domain, and a known local part (or no list).
    Accept,
    /// Not a protected domain.
    RelayDenied {
        /// The domain asked for.
        domain: String,
    },
    /// A protected domain whose list does not have this local part.
    UnknownUser,
    /// The local part routes elsewhere (`%`, `!`, or an `@` inside quotes).
    RoutingInLocalPart,
}

/// The protected domains and their recipient lists, lower-cased for lookup.
#[derive(Debug, Clone, Default)]
pub struct RelayPolicy {
    domains: HashSet<String>,
    recipients: HashMap<String, HashSet<String>>,
}

impl RelayPolicy {
    /// The policy of `[relay]`.
    pub fn from_config(config: &RelayConfig) -> Self {
        Self {
            domains: config.domains.iter().map(|d| normalize_domain(d)).collect(),
            recipients: config
                .recipients
                .iter()
                .map(|(domain, locals)| {
                    (
                        normalize_domain(domain),
                        locals.iter().map(|l| l.to_lowercase()).collect(),
                    )
                })
                .collect(),
        }
    }

    /// Whether `domain` (as given by the client) is a protected domain.
    pub fn protects(&self, domain: &str) -> bool {
        self.domains.contains(&normalize_domain(domain))
    }

    /// Whether mail for `local@domain` is accepted. `domain` as given by the client.
    pub fn check(&self, local: &str, domain: &str) -> RecipientCheck {
        let domain = normalize_domain(domain);
        if !self.domains.contains(&domain) {
            return RecipientCheck::RelayDenied { domain };
        }
        if local.contains(['%', '!', '@']) {
            return RecipientCheck::RoutingInLocalPart;
        }
        match self.recipients.get(&domain) {
            Some(list) if !list.contains(&local.to_lowercase()) => RecipientCheck::UnknownUser,
            _ => RecipientCheck::Accept,
        }
    }
}

/// Lower case, without a trailing dot.
fn normalize_domain(domain: &str) -> String {
    domain.trim_end_matches('.').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RelayPolicy {
        let mut config = RelayConfig {
            domains: vec!["Example.test".into(), "other.test".into()],
            ..RelayConfig::default()
        };
        config
            .recipients
            .insert("other.test".into(), vec!["Alice".into()]);
        RelayPolicy::from_config(&config)
    }

    #[test]
    fn protected_domains_are_accepted_case_insensitively() {
        assert_eq!(
            policy().check("anyone", "EXAMPLE.TEST."),
            RecipientCheck::Accept
        );
    }

    #[test]
    fn any_other_domain_is_relay_denied_including_lookalikes() {
        for domain in [
            "example.org",
            "example.test.evil.org",
            "evilexample.test",
            "sub.example.test",
            "[127.0.0.1]",
        ] {
            assert!(
                matches!(
                    policy().check("a", domain),
                    RecipientCheck::RelayDenied { .. }
                ),
                "{domain}"
            );
        }
    }

    #[test]
    fn routing_tricks_in_the_local_part_are_refused() {
        for local in ["victim%evil.org", "evil.org!victim", "victim@evil.org"] {
            assert_eq!(
                policy().check(local, "example.test"),
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
        assert_eq!(
            policy().check("alice", "other.test"),
            RecipientCheck::Accept
        );
        assert_eq!(
            policy().check("mallory", "other.test"),
            RecipientCheck::UnknownUser
        );
    }
}
