//! The words a plugin's settings are written in, shared by the configuration and the
//! plugin runtime (`crate::filter` re-exports them): the stages a plugin is called at, the
//! capabilities an operator grants, what a plugin failure does, and which names a plugin
//! and a symbol may take.

use serde::{Deserialize, Serialize};

/// `source` values that name a bundled plugin start with this (`"bundled:headers"`).
pub const BUNDLED_PREFIX: &str = "bundled:";

/// The point of the SMTP conversation at which plugins are called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// A client connected.
    Connect,
    /// EHLO/HELO.
    Helo,
    /// MAIL FROM.
    MailFrom,
    /// RCPT TO (once per recipient).
    RcptTo,
    /// The message arrived.
    Data,
    /// The decision was taken.
    Outcome,
}

impl Stage {
    /// Every stage in conversation order.
    pub const ALL: [Stage; 6] = [
        Stage::Connect,
        Stage::Helo,
        Stage::MailFrom,
        Stage::RcptTo,
        Stage::Data,
        Stage::Outcome,
    ];

    /// The name used in config files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Helo => "helo",
            Stage::MailFrom => "mail_from",
            Stage::RcptTo => "rcpt_to",
            Stage::Data => "data",
            Stage::Outcome => "outcome",
        }
    }
}

/// A host capability the operator grants or denies per plugin. `log`, `config` and
/// `clock` are harmless and always available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// DNS lookups through the shared resolver.
    Dns,
    /// A persistent key-value namespace of the plugin's own.
    Kv,
    /// Text recognition in images.
    Ocr,
}

impl Capability {
    /// Every capability an operator can grant.
    pub const ALL: [Capability; 3] = [Capability::Dns, Capability::Kv, Capability::Ocr];

    /// The name used in config files, on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Dns => "dns",
            Capability::Kv => "kv",
            Capability::Ocr => "ocr",
        }
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A capability name that is none of [`Capability::ALL`] (`moat plugin test --grant`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}` (capabilities: dns, kv, ocr)")]
pub struct UnknownCapability(pub String);

impl std::str::FromStr for Capability {
    type Err = UnknownCapability;

    /// Parses a capability by its name, as written in config files.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == name.trim())
            .ok_or_else(|| UnknownCapability(name.to_owned()))
    }
}

/// What a plugin failure does to the message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Carry on without the plugin (fail open); `PLUGIN_FAILED` is recorded.
    #[default]
    Skip,
    /// Answer the message (or command) with a temporary failure so the sender retries.
    Tempfail,
}

/// Symbol names: 1 to 64 characters of `A-Z`, `0-9` and `_`.
pub fn is_valid_symbol_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Plugin names: 1 to 64 characters of `a-z`, `0-9`, `-` and `_`.
pub fn is_valid_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_parse_by_the_names_config_files_use() {
        for capability in Capability::ALL {
            let written = toml::Value::try_from(capability).unwrap();
            assert_eq!(written.as_str(), Some(capability.as_str()));
            assert_eq!(capability.as_str().parse::<Capability>(), Ok(capability));
        }
        let unknown = "network".parse::<Capability>().unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "unknown capability `network` (capabilities: dns, kv, ocr)"
        );
    }

    #[test]
    fn plugin_names_are_lower_case_letters_digits_dashes_and_underscores() {
        for good in ["dnsbl", "link-count", "link_count", "a", "x9"] {
            assert!(is_valid_plugin_name(good), "{good}");
        }
        for bad in [
            "",
            "Link Count",
            "LinkCount",
            "link.count",
            "ünï",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_plugin_name(bad), "{bad}");
        }
    }
}
