//! `[dns]`, `[kv]` and `[ocr]`: the host services behind the plugins' capabilities.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::HumanDuration;

/// `[dns]`: the shared resolver behind the `dns` capability.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// `nameservers = ["127.0.0.1:53"]`: resolvers to ask (UDP, falling back to TCP).
    /// Empty: the system's /etc/resolv.conf.
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
    /// `timeout = "2s"`: how long one query may take.
    #[serde(default = "default_dns_timeout")]
    pub timeout: HumanDuration,
    /// `attempts = 2`: tries per query before giving up with a timeout.
    #[serde(default = "default_dns_attempts")]
    pub attempts: usize,
    /// `cache_size = 65536`: answers kept in the shared cache (TTL honoured, negative
    /// answers cached too).
    #[serde(default = "default_dns_cache_size")]
    pub cache_size: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: default_dns_timeout(),
            attempts: default_dns_attempts(),
            cache_size: default_dns_cache_size(),
        }
    }
}

fn default_dns_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(2))
}
fn default_dns_attempts() -> usize {
    2
}
fn default_dns_cache_size() -> usize {
    65_536
}

impl DnsConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.timeout.0.is_zero() {
            problems.push(Problem {
                key: "dns.timeout".into(),
                reason: "must be more than 0s".into(),
            });
        }
        if !(1..=10).contains(&self.attempts) {
            problems.push(Problem {
                key: "dns.attempts".into(),
                reason: format!("must be between 1 and 10, not {}", self.attempts),
            });
        }
        problems
    }
}

/// `[kv]`: quotas of each plugin's key-value namespace.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// `max_key_bytes = 256`: the longest key a plugin may use.
    #[serde(default = "default_max_key_bytes")]
    pub max_key_bytes: usize,
    /// `max_value_bytes = 65536`: the largest value a plugin may store.
    #[serde(default = "default_max_value_bytes")]
    pub max_value_bytes: usize,
    /// `max_entries = 1000000`: the most keys one plugin may hold.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            max_key_bytes: default_max_key_bytes(),
            max_value_bytes: default_max_value_bytes(),
            max_entries: default_max_entries(),
        }
    }
}

fn default_max_key_bytes() -> usize {
    256
}
fn default_max_value_bytes() -> usize {
    64 << 10
}
fn default_max_entries() -> u64 {
    1_000_000
}

/// `[ocr]`: the engine behind the `ocr` capability.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OcrConfig {
    /// `engine = "none"`: no OCR; plugins asking for it get a "not configured" error.
    #[serde(default)]
    pub engine: OcrEngineKind,
}

/// The OCR engines Moat can drive.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OcrEngineKind {
    /// No engine: `ocr.recognize` answers `not-configured`.
    #[default]
    None,
}
