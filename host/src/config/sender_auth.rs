//! `[sender_auth]`: whether Moat checks SPF, DKIM, DMARC and ARC on inbound mail and
//! writes `Authentication-Results`; and `[[dkim.key]]`: the keys submitted mail is signed
//! with. The checks live in `crate::sender_auth`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::HumanDuration;

/// `[sender_auth]`: sender authentication of inbound mail.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SenderAuthConfig {
    /// `verify = true`: check SPF (at MAIL FROM), DKIM, ARC and DMARC (at DATA) for mail
    /// on the MX listeners, for plugins (the bundled `auth` plugin) and the
    /// `Authentication-Results` field. Mail from authenticated users is never checked.
    #[serde(default = "yes")]
    pub verify: bool,
    /// `check_local = false`: also check mail from loopback and private addresses (as
    /// rspamd's `check_local`). Off by default: such mail comes from the operator's own
    /// network, and its senders' SPF records do not name it. A trusted relay's mail is
    /// checked either way, for its first untrusted hop.
    #[serde(default)]
    pub check_local: bool,
    /// `authserv_id = "mx.example.org"`: the name `Authentication-Results` fields are
    /// written under, and under which a sender's own such fields are stripped. Default:
    /// `[server] hostname`.
    #[serde(default)]
    pub authserv_id: Option<String>,
    /// `results_header = true`: add `Authentication-Results` to every checked message.
    #[serde(default = "yes")]
    pub results_header: bool,
    /// `time_budget = "10s"`: the longest each step (SPF; DKIM and ARC; DMARC) may wait
    /// on DNS before what is left counts as `temperror`.
    #[serde(default = "default_time_budget")]
    pub time_budget: HumanDuration,
}

fn yes() -> bool {
    true
}

fn default_time_budget() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

impl Default for SenderAuthConfig {
    fn default() -> Self {
        Self {
            verify: true,
            check_local: false,
            authserv_id: None,
            results_header: true,
            time_budget: default_time_budget(),
        }
    }
}

impl SenderAuthConfig {
    /// The authserv-id: the configured one, else `hostname`.
    pub fn authserv_id<'a>(&'a self, hostname: &'a str) -> &'a str {
        self.authserv_id.as_deref().unwrap_or(hostname)
    }

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.time_budget.0.is_zero() || self.time_budget.0 > Duration::from_secs(120) {
            problems.push(Problem {
                key: "sender_auth.time_budget".into(),
                reason: "must be between 1ms and 120s".into(),
            });
        }
        if let Some(id) = &self.authserv_id
            && (id.is_empty()
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
        {
            problems.push(Problem {
                key: "sender_auth.authserv_id".into(),
                reason: "must be a host name (letters, digits, '.' and '-')".into(),
            });
        }
        problems
    }
}

/// `[dkim]`: signing of submitted mail.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// `[[dkim.key]]`: one entry per domain and selector. Mail from a submission listener
    /// whose From domain has keys (exactly that domain) is signed with each, before it is
    /// queued.
    #[serde(default)]
    pub key: Vec<DkimKeyConfig>,
}

/// One `[[dkim.key]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DkimKeyConfig {
    /// `domain = "example.org"`: the signing domain (`d=`).
    pub domain: String,
    /// `selector = "moat2026"`: the key's name under `_domainkey.DOMAIN` (`s=`).
    pub selector: String,
    /// `key_file = "dkim/moat2026.example.org.pem"`: the private key, PEM (RSA of 2048
    /// bits or more, or Ed25519), as `moat dkim keygen` writes it. Relative to the
    /// configuration file.
    pub key_file: PathBuf,
}

impl DkimConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, key) in self.key.iter().enumerate() {
            let at = |field: &str| format!("dkim.key[{i}].{field}");
            if crate::domain::Domain::parse(&key.domain).is_err() || !key.domain.contains('.') {
                problems.push(Problem {
                    key: at("domain"),
                    reason: format!("{:?} is not a domain name", key.domain),
                });
            }
            if key.selector.is_empty()
                || !key
                    .selector
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                problems.push(Problem {
                    key: at("selector"),
                    reason: "must be letters, digits, '-', '_' and '.'".into(),
                });
            }
            if let Err(error) = crate::sender_auth::DkimKey::load(&key.key_file) {
                problems.push(Problem {
                    key: at("key_file"),
                    reason: error.to_string(),
                });
            }
        }
        problems
    }
}
