//! `[relay]`: the domains Moat is the MX for, their recipient lists, and where mail for
//! the domainless `<postmaster>` goes. Every domain here is checked with the one
//! normalization of `crate::domain` (UTS 46, lowercase A-labels), the one relay control
//! and routing compare by, so a key that is not a domain name is a problem naming it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::HumanDuration;
use super::verify::{self, UnverifiedRecipientAction, VerifyRecipients};
use crate::domain::{Domain, split_address};

/// RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
const MAX_LOCAL_PART: usize = 64;

/// `[relay]`: the domains Moat is the MX for. Mail to any other domain is refused
/// (550 5.7.1): Moat is never an open relay.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// `domains = ["example.org"]`: the protected domains (compared in their one
    /// spelling: any case, U-labels or A-labels; exact, no subdomains).
    #[serde(default)]
    pub domains: Vec<String>,
    /// `[relay.recipients] "example.org" = ["alice", "bob"]`: where a domain has a list,
    /// only these local parts are accepted (550 5.1.1 otherwise); domains without a list
    /// accept any local part.
    #[serde(default)]
    pub recipients: BTreeMap<String, Vec<String>>,
    /// `postmaster = "postmaster@example.org"`: where `RCPT TO:<postmaster>` goes, the
    /// recipient without a domain every SMTP server must accept (RFC 5321 §4.5.1). An
    /// address at a protected domain, on its list if it has one; delivered by that
    /// domain's route. Default: `postmaster@` the first of `domains` (checked at RCPT
    /// like any address there: refused 550 5.1.1 if that domain's list lacks it).
    #[serde(default)]
    pub postmaster: Option<String>,
    /// `verify_recipients = "off"`: `"downstream"` asks a protected domain's route
    /// whether a recipient exists before answering RCPT (550 5.1.1 if not), so mail for
    /// unknown users is refused at once instead of bounced later (backscatter).
    #[serde(default)]
    pub verify_recipients: VerifyRecipients,
    /// `verify_positive_ttl = "7d"`: how long "this user exists" is believed.
    #[serde(default = "verify::default_positive_ttl")]
    pub verify_positive_ttl: HumanDuration,
    /// `verify_negative_ttl = "3h"`: how long "no such user" is believed.
    #[serde(default = "verify::default_negative_ttl")]
    pub verify_negative_ttl: HumanDuration,
    /// `verify_timeout = "10s"`: the longest a RCPT waits for its probe (a slot, the
    /// connection, every reply); then the recipient is unverified.
    #[serde(default = "verify::default_timeout")]
    pub verify_timeout: HumanDuration,
    /// `verify_cache_size = 20000`: answers kept of each kind (known, unknown).
    #[serde(default = "verify::default_cache_size")]
    pub verify_cache_size: usize,
    /// `verify_max_probes = 10`: probes under way at once, for all addresses.
    #[serde(default = "verify::default_max_probes")]
    pub verify_max_probes: usize,
    /// `unverified_recipient_action = "tempfail"`: what a recipient whose probe failed
    /// (downstream down, 4xx, timeout) gets: `tempfail` (450 4.1.1) or `accept`.
    #[serde(default)]
    pub unverified_recipient_action: UnverifiedRecipientAction,
    /// `trusted_relays = ["192.0.2.0/24"]`: relays in front of Moat (a backup MX that
    /// forwards, an inbound relay) whose `Received` fields are believed, as
    /// SpamAssassin's `trusted_networks`: mail they hand in is judged by the first hop
    /// outside them (SPF of that host). Addresses or networks.
    #[serde(default)]
    pub trusted_relays: Vec<String>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            recipients: BTreeMap::new(),
            postmaster: None,
            verify_recipients: VerifyRecipients::default(),
            verify_positive_ttl: verify::default_positive_ttl(),
            verify_negative_ttl: verify::default_negative_ttl(),
            verify_timeout: verify::default_timeout(),
            verify_cache_size: verify::default_cache_size(),
            verify_max_probes: verify::default_max_probes(),
            unverified_recipient_action: UnverifiedRecipientAction::default(),
            trusted_relays: Vec::new(),
        }
    }
}

impl RelayConfig {
    /// The address `<postmaster>` stands for, as written: `postmaster`, or else
    /// `postmaster@` the first protected domain; `None` when nothing is protected.
    pub fn postmaster_address(&self) -> Option<String> {
        self.postmaster.clone().or_else(|| {
            self.domains
                .first()
                .map(|domain| format!("postmaster@{domain}"))
        })
    }

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, entry) in self.trusted_relays.iter().enumerate() {
            if let Err(error) = crate::sender_auth::Network::parse(entry) {
                problems.push(Problem {
                    key: format!("relay.trusted_relays[{i}]"),
                    reason: error.to_string(),
                });
            }
        }
        let mut protected = Vec::new();
        for (i, domain) in self.domains.iter().enumerate() {
            match Domain::parse_name(domain) {
                Ok(name) => protected.push(name),
                Err(error) => problems.push(Problem {
                    key: format!("relay.domains[{i}]"),
                    reason: format!("`{}` is not a domain name: {error}", domain.escape_debug()),
                }),
            }
        }
        for domain in self.recipients.keys() {
            let reason = match Domain::parse_name(domain) {
                Err(error) => format!("`{}` is not a domain name: {error}", domain.escape_debug()),
                Ok(name) if !protected.contains(&name) => {
                    "lists recipients of a domain that is not in relay.domains".into()
                }
                Ok(_) => continue,
            };
            problems.push(Problem {
                key: format!("relay.recipients.{domain}"),
                reason,
            });
        }
        if let Some(address) = &self.postmaster
            && let Err(reason) = self.postmaster_problem(address, &protected)
        {
            problems.push(Problem {
                key: "relay.postmaster".into(),
                reason,
            });
        }
        problems.extend(verify::problems(self));
        problems
    }

    /// Why `address` cannot be the postmaster, if it cannot: it must be a plain address
    /// at a protected domain, and on that domain's list if it has one.
    fn postmaster_problem(&self, address: &str, protected: &[Domain]) -> Result<(), String> {
        let (local, domain) = split_address(address)
            .ok_or_else(|| format!("`{}` is not local@domain", address.escape_debug()))?;
        if !is_plain_local_part(local) {
            return Err(format!(
                "`{}` is not a plain local part (a dot-string of at most 64 octets, \
                 without %, ! or @)",
                local.escape_debug()
            ));
        }
        let name = Domain::parse_name(domain).map_err(|error| {
            format!("`{}` is not a domain name: {error}", domain.escape_debug())
        })?;
        if !protected.contains(&name) {
            return Err(format!(
                "`{}` is not at a protected domain (relay.domains)",
                address.escape_debug()
            ));
        }
        let list = self
            .recipients
            .iter()
            .find(|(key, _)| Domain::parse_name(key).is_ok_and(|key| key == name));
        match list {
            Some((key, locals))
                if !locals
                    .iter()
                    .any(|l| l.to_lowercase() == local.to_lowercase()) =>
            {
                Err(format!("`{local}` is not on relay.recipients.{key}"))
            }
            _ => Ok(()),
        }
    }
}

/// A dot-string local part (RFC 5321 §4.1.2, UTF-8 allowed as RFC 6531 does) without the
/// routing characters relay control refuses, at most 64 octets.
fn is_plain_local_part(local: &str) -> bool {
    let atext = |c: char| c.is_ascii_alphanumeric() || "#$&'*+-/=?^_`{|}~".contains(c);
    local.len() <= MAX_LOCAL_PART
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(|c| atext(c) || !c.is_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(domains: &[&str], postmaster: Option<&str>) -> RelayConfig {
        RelayConfig {
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
            postmaster: postmaster.map(str::to_owned),
            ..RelayConfig::default()
        }
    }

    fn keys(config: &RelayConfig) -> Vec<String> {
        config.problems().into_iter().map(|p| p.key).collect()
    }

    #[test]
    fn the_postmaster_defaults_to_the_first_protected_domain() {
        let config = relay(&["Example.test", "other.test"], None);
        assert_eq!(
            config.postmaster_address().as_deref(),
            Some("postmaster@Example.test")
        );
        assert!(config.problems().is_empty());
        assert_eq!(relay(&[], None).postmaster_address(), None);
        let set = relay(&["example.test"], Some("abuse@EXAMPLE.test"));
        assert_eq!(
            set.postmaster_address().as_deref(),
            Some("abuse@EXAMPLE.test")
        );
        assert!(set.problems().is_empty());
    }

    #[test]
    fn a_postmaster_must_be_a_plain_address_at_a_protected_domain_on_its_list() {
        for bad in [
            "postmaster",
            "postmaster@",
            "@example.test",
            "post master@example.test",
            "a%b@example.test",
            "a!b@example.test",
            "\"a@b\"@example.test",
            ".a@example.test",
            "postmaster@example.org",
            "postmaster@[192.0.2.1]",
            "postmaster@exa_mple.test",
        ] {
            assert_eq!(
                keys(&relay(&["example.test"], Some(bad))),
                ["relay.postmaster"],
                "{bad}"
            );
        }
        assert_eq!(
            keys(&relay(&[], Some("postmaster@example.test"))),
            ["relay.postmaster"]
        );
        let mut listed = relay(&["example.test"], Some("hostmaster@ex\u{212A}ample.test"));
        listed.domains = vec!["exkample.test".into()];
        listed
            .recipients
            .insert("EXKAMPLE.test".into(), vec!["alice".into()]);
        let problems = listed.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].reason,
            "`hostmaster` is not on relay.recipients.EXKAMPLE.test"
        );
        listed.recipients.insert(
            "EXKAMPLE.test".into(),
            vec!["alice".into(), "HostMaster".into()],
        );
        assert!(listed.problems().is_empty());
    }

    #[test]
    fn domains_are_names_in_any_spelling_and_lists_follow_them() {
        let mut config = relay(&["B\u{DC}CHER.test", "bank.test."], None);
        config
            .recipients
            .insert("xn--bcher-kva.test".into(), vec!["alice".into()]);
        config
            .recipients
            .insert("ban\u{212A}.test".into(), vec!["bob".into()]);
        assert!(config.problems().is_empty(), "{:?}", config.problems());

        let mut config = relay(
            &[
                "ok.test",
                "bad@domain",
                "[127.0.0.1]",
                "ban\u{200D}k.test",
                "",
            ],
            None,
        );
        config
            .recipients
            .insert("other.test".into(), vec!["a".into()]);
        config.recipients.insert("x y".into(), vec!["a".into()]);
        assert_eq!(
            keys(&config),
            [
                "relay.domains[1]",
                "relay.domains[2]",
                "relay.domains[3]",
                "relay.domains[4]",
                "relay.recipients.other.test",
                "relay.recipients.x y",
            ]
        );
    }
}
