//! How a message meets the plugins.
//!
//! Every plugin is a WebAssembly component run in a sandbox of its own: one wasmtime
//! [`engine::FilterEngine`] for the process (pooling allocator, epoch deadlines), each plugin
//! compiled once ([`loader`], with an on-disk cache of precompiled code) into an
//! `InstancePre`, and a fresh store and instance for every call ([`pipeline`]). The host
//! side of what plugins import — the capabilities dns, kv, ocr, log, config and clock, and
//! the message they read — is in [`capabilities`]. A plugin's answer is
//! validated ([`verdict`]); answers are combined with the operator's weights and
//! thresholds into a [`combine::Decision`] that explains every point of its score
//! ([`report`]). A trap, timeout, memory blow-up or malformed verdict is a
//! [`error::PluginError`] — a plugin failure, never a gateway failure.

pub mod assemble;
pub mod bindings;
pub mod bundled;
pub mod capabilities;
pub mod combine;
pub mod engine;
pub mod error;
pub mod live;
pub mod loader;
pub mod pipeline;
pub mod plugin;
pub mod report;
pub mod store;
pub mod verdict;

use serde::{Deserialize, Serialize};

pub use combine::{Decision, DecisionReason, PluginOutcome, PluginResult, ReportLine, WeightTable};
pub use error::{LoadError, PluginError};
pub use pipeline::{Pipeline, SessionContext};
pub use verdict::{Action, Annotation, Symbol, Verdict};

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
