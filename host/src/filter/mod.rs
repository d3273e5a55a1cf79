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
#[cfg(test)]
mod bounds_tests;
pub mod bundled;
pub mod capabilities;
pub mod combine;
pub mod engine;
pub mod error;
pub mod kv_metrics;
pub mod kv_workers;
pub mod live;
pub mod loader;
pub mod metrics;
pub mod pipeline;
pub mod plugin;
pub mod report;
pub mod sender_context;
pub mod store;
pub mod verdict;

pub use combine::{Decision, DecisionReason, PluginOutcome, PluginResult, ReportLine, WeightTable};
pub use error::{LoadError, PluginError};
pub use pipeline::{Pipeline, SessionContext};
pub use verdict::{Action, Annotation, Symbol, Verdict};

// The words a plugin's settings are written in belong to the configuration, the layer
// below; they are the filter's vocabulary too.
pub use crate::config::{
    BUNDLED_PREFIX, Capability, OnError, Stage, UnknownCapability, is_valid_plugin_name,
    is_valid_symbol_name,
};
