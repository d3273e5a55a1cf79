//! Plugin failures (a call went wrong) and load errors (a plugin could not be loaded).

use std::path::PathBuf;

/// One plugin call went wrong. Never a gateway error: the pipeline records
/// `PLUGIN_FAILED` and applies the plugin's `on_error` policy.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PluginError {
    /// The call ran past its wall-clock budget and was interrupted.
    #[error("exceeded its time budget of {budget_ms} ms")]
    Timeout {
        /// The budget in milliseconds.
        budget_ms: u64,
    },
    /// The plugin tried to grow its memory past the cap.
    #[error("exceeded its memory limit of {limit} bytes (asked for {requested})")]
    MemoryExceeded {
        /// The cap in bytes.
        limit: u64,
        /// The size it asked to grow to.
        requested: u64,
    },
    /// The plugin panicked (a Rust panic aborts with an `unreachable` trap).
    #[error("panicked: {message}")]
    Panic {
        /// The panic message from the plugin's stderr, if it wrote one.
        message: String,
    },
    /// The plugin recursed past its stack limit.
    #[error("overflowed its stack")]
    StackOverflow,
    /// Any other trap (out-of-bounds access, division by zero, ...).
    #[error("trapped: {trap}")]
    Trap {
        /// The trap as wasmtime describes it.
        trap: String,
    },
    /// The plugin answered with a verdict that breaks the contract.
    #[error("returned an invalid verdict: {reason}")]
    InvalidVerdict {
        /// What was wrong.
        reason: String,
    },
    /// No sandbox could be set up for the call.
    #[error("could not be instantiated: {reason}")]
    Instantiate {
        /// Why.
        reason: String,
    },
    /// The plugin failed too often and is switched off for a while.
    #[error("is switched off after repeated failures ({remaining_secs}s left)")]
    Disabled {
        /// Seconds until it is tried again.
        remaining_secs: u64,
    },
    /// A failure read back from the decision log (`moat replay`, `moat tune`), as it was
    /// reported then; only the policy it was under matters to a decision.
    #[error("failed ({report})")]
    Logged {
        /// The failure as logged (`KIND: message`).
        report: String,
    },
}

impl PluginError {
    /// A short stable name of the failure kind, for symbols, logs and tests:
    /// `timeout`, `memory`, `panic`, `stack-overflow`, `trap`, `invalid-verdict`,
    /// `instantiate`, `disabled` (and `logged` for a failure read back from the decision log).
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Timeout { .. } => "timeout",
            PluginError::MemoryExceeded { .. } => "memory",
            PluginError::Panic { .. } => "panic",
            PluginError::StackOverflow => "stack-overflow",
            PluginError::Trap { .. } => "trap",
            PluginError::InvalidVerdict { .. } => "invalid-verdict",
            PluginError::Instantiate { .. } => "instantiate",
            PluginError::Disabled { .. } => "disabled",
            PluginError::Logged { .. } => "logged",
        }
    }
}

/// A plugin could not be loaded; the rest of the set loads without it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The .wasm or its side .toml could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The side .toml beside a plugin is invalid.
    #[error("{path}: {reason}")]
    Settings {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// The bytes are not a valid WebAssembly component.
    #[error("plugin `{plugin}` is not a valid WebAssembly component: {reason}")]
    Compile {
        /// The plugin.
        plugin: String,
        /// The compiler's message.
        reason: String,
    },
    /// The component does not fit the `moat:filter` world (missing exports, unknown imports).
    #[error("plugin `{plugin}` does not implement the moat:filter@0.1.0 plugin world: {reason}")]
    Link {
        /// The plugin.
        plugin: String,
        /// What did not match.
        reason: String,
    },
    /// `describe()` failed or returned something unusable.
    #[error("plugin `{plugin}` failed to describe itself: {reason}")]
    Describe {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// A `source = "bundled:NAME"` or `bundled = [...]` names no bundled plugin.
    #[error("no bundled plugin is called `{name}` (bundled: {available})")]
    UnknownBundled {
        /// The name asked for.
        name: String,
        /// The bundled plugins there are.
        available: String,
    },
    /// The kv namespace of the plugin could not be opened.
    #[error("plugin `{plugin}`: cannot open its kv namespace: {reason}")]
    Kv {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// A `NAME.toml` in the plugin directory has no `NAME.wasm` beside it: settings for a
    /// plugin that is not there (or is under another name).
    #[error(
        "{settings} has no plugin beside it: {wasm} does not exist (name the settings after \
         the plugin's .wasm file, or remove them)"
    )]
    SettingsWithoutPlugin {
        /// The settings file.
        settings: PathBuf,
        /// The plugin file it would belong to.
        wasm: PathBuf,
    },
    /// A plugin in the plugin directory gives itself another name than its file's: its
    /// `[plugin.NAME]` section, `NAME.toml` and kv namespace would not meet.
    #[error(
        "{path}: the plugin calls itself `{described}`, so its file must be {expected} (and \
         its settings file {described}.toml)"
    )]
    NameMismatch {
        /// The plugin file.
        path: PathBuf,
        /// The name from its `describe()`.
        described: String,
        /// The file it should be.
        expected: PathBuf,
    },
    /// The compiled-plugin cache could not be written.
    #[error("cannot write the compiled-plugin cache {path}: {source}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl LoadError {
    /// The plugin the error is about, when it names one (a file's stem for unreadable
    /// files): a reload keeps that plugin's previous version live.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            Self::Read { path, .. }
            | Self::Settings { path, .. }
            | Self::NameMismatch { path, .. } => path.file_stem().and_then(|stem| stem.to_str()),
            Self::Compile { plugin, .. }
            | Self::Link { plugin, .. }
            | Self::Describe { plugin, .. }
            | Self::Kv { plugin, .. } => Some(plugin),
            // Settings without their plugin: the plugin is gone, not failing.
            Self::UnknownBundled { .. }
            | Self::Cache { .. }
            | Self::SettingsWithoutPlugin { .. } => None,
        }
    }
}
