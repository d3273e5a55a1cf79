//! `[filter]`, `[thresholds]` and `[plugin.NAME]`: which plugins run, their limits,
//! weights and the score thresholds that turn a score into an action.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::{ByteSize, HumanDuration};
use super::{Capability, OnError, Stage};

/// `[filter]`: the plugin runtime as a whole.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// `plugin_dir = "plugins"`: a directory of third-party plugins (`NAME.wasm`, each with
    /// an optional `NAME.toml` beside it). Unset: only the bundled plugins run.
    #[serde(default)]
    pub plugin_dir: Option<PathBuf>,
    /// `cache_dir = "/var/cache/moat"`: where compiled plugins are kept. Unset:
    /// `plugin-cache` under the data dir. Only Moat may write there: what it loads from
    /// this directory runs as native code.
    #[serde(default)]
    pub cache_dir: Option<PathBuf>,
    /// `bundled = ["headers"]`: the bundled plugins to run. Unset: all of them.
    #[serde(default)]
    pub bundled: Option<Vec<String>>,
    /// `order = ["ocr", "bayes"]`: plugins named here run first, in this order; the rest
    /// follow in name order. Order matters where a plugin reads another's annotations.
    #[serde(default)]
    pub order: Vec<String>,
    /// `time_budget = "1s"`: wall-clock budget of one plugin call, DNS waits included,
    /// unless the plugin's own section says otherwise.
    #[serde(default = "default_time_budget")]
    pub time_budget: HumanDuration,
    /// `memory_limit = "64MiB"`: linear memory cap of one plugin instance, unless the
    /// plugin's own section says otherwise. At most 256MiB.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: ByteSize,
    /// `on_error = "skip"`: what a plugin failure (trap, timeout, memory cap, invalid
    /// verdict) does to the message: `skip` the plugin, or `tempfail` the message.
    #[serde(default)]
    pub on_error: OnError,
    /// `max_concurrent_calls = 256`: plugin calls that may run at once across the gateway
    /// (the size of the sandbox pool); further calls wait for a slot.
    #[serde(default = "default_max_concurrent_calls")]
    pub max_concurrent_calls: u32,
    /// `failure_threshold = 5`: failures within `failure_window` that switch a plugin off.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// `failure_window = "1m"`: the window over which failures are counted.
    #[serde(default = "default_failure_window")]
    pub failure_window: HumanDuration,
    /// `disable_for = "5m"`: how long a failing plugin stays switched off; while off, its
    /// `on_disabled` policy (by default its `on_error` policy) applies to every message.
    #[serde(default = "default_disable_for")]
    pub disable_for: HumanDuration,
    /// `large_message_size = "1MiB"`: a plugin that runs out of memory or time on a message
    /// at least this large fails for that message (`PLUGIN_FAILED`, its `on_error`
    /// policy), but the failure is put down to the message, not the plugin: it does not
    /// count towards `failure_threshold`, so large mail cannot switch a plugin off.
    #[serde(default = "default_large_message_size")]
    pub large_message_size: ByteSize,
    /// `weights_file = "learnt-weights.toml"`: symbol weights learnt by `moat tune`
    /// (`[PLUGIN]` tables of `SYMBOL = weight`). Weights set in `[plugin.NAME.symbols]`
    /// are pinned and win over it; it wins over a plugin's `weight`. Read at load and on
    /// reload.
    #[serde(default)]
    pub weights_file: Option<PathBuf>,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            plugin_dir: None,
            cache_dir: None,
            bundled: None,
            order: Vec::new(),
            time_budget: default_time_budget(),
            memory_limit: default_memory_limit(),
            on_error: OnError::default(),
            max_concurrent_calls: default_max_concurrent_calls(),
            failure_threshold: default_failure_threshold(),
            failure_window: default_failure_window(),
            disable_for: default_disable_for(),
            large_message_size: default_large_message_size(),
            weights_file: None,
        }
    }
}

fn default_time_budget() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}
fn default_memory_limit() -> ByteSize {
    ByteSize(64 << 20)
}
fn default_max_concurrent_calls() -> u32 {
    256
}
fn default_failure_threshold() -> u32 {
    5
}
fn default_failure_window() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(60))
}
fn default_disable_for() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_large_message_size() -> ByteSize {
    ByteSize(1 << 20)
}

/// The most DNS questions one plugin call may ask unless its settings say otherwise
/// (`dns_max_questions`): two full `lookup-all` batches.
pub const DEFAULT_DNS_MAX_QUESTIONS: u32 = 128;

/// The DNS wait one plugin call may spend unless its settings say otherwise
/// (`dns_time_budget`): nine tenths of its time budget, so that a plugin whose lookups
/// time out still has time to answer.
pub fn default_dns_time_budget(time_budget: std::time::Duration) -> std::time::Duration {
    time_budget * 9 / 10
}

/// The largest memory cap a plugin may be given; the sandbox pool reserves this much
/// address space per slot.
pub const MAX_PLUGIN_MEMORY: u64 = 256 << 20;
/// The smallest memory cap that lets a Rust guest start (it needs about 1.1 MiB; the
/// bundled plugins are linked to start with 1,920 KiB, under this).
pub const MIN_PLUGIN_MEMORY: u64 = 2 << 20;
/// The smallest `max_message_size` and `large_message_size`: no real message is smaller.
const MIN_MESSAGE_SIZE: u64 = 1 << 10;
/// The most DNS questions an operator may let one plugin call ask.
const MAX_DNS_QUESTIONS: u32 = 10_000;

/// `[thresholds]`: the score at which a message is tagged, quarantined or rejected.
/// `tag ≤ quarantine ≤ reject`; a score below `tag` is accepted.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// `tag = 5.0`: from this score on, the message is delivered flagged as spam
    /// (`X-Spam-Flag: YES`); `X-Spam-Status` gives it as `required`.
    #[serde(default = "default_tag")]
    pub tag: f64,
    /// `quarantine = 10.0`: from this score on, the message is held in quarantine.
    #[serde(default = "default_quarantine")]
    pub quarantine: f64,
    /// `reject = 15.0`: from this score on, the message is refused with 550.
    #[serde(default = "default_reject")]
    pub reject: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            tag: default_tag(),
            quarantine: default_quarantine(),
            reject: default_reject(),
        }
    }
}

fn default_tag() -> f64 {
    5.0
}
fn default_quarantine() -> f64 {
    10.0
}
fn default_reject() -> f64 {
    15.0
}

/// `[plugin.NAME]` in moat.toml, or the whole of `NAME.toml` beside a plugin's .wasm:
/// the operator's settings for one plugin. Every key is optional; moat.toml wins over
/// the file beside the plugin, key by key.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PluginSettings {
    /// `source = "bundled:headers"` or `source = "path/to/x.wasm"`: defines a plugin
    /// instance under this name (e.g. a second instance of a bundled plugin). Unset: the
    /// section configures the bundled or plugin-dir plugin of this name.
    #[serde(default)]
    pub source: Option<String>,
    /// `enabled = true`: set false to switch the plugin off.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `weight = 1.0`: the weight of this plugin's symbols that have none of their own.
    /// Unset: the plugin's own default weight.
    #[serde(default)]
    pub weight: Option<f64>,
    /// `symbols = { GTUBE = 1.0 }`: weights of single symbols (also `PLUGIN_FAILED`).
    #[serde(default)]
    pub symbols: BTreeMap<String, f64>,
    /// `stages = ["data"]`: call the plugin only at these of the stages it asks for.
    #[serde(default)]
    pub stages: Option<Vec<Stage>>,
    /// `time_budget = "1s"`: this plugin's wall-clock budget per call.
    #[serde(default)]
    pub time_budget: Option<HumanDuration>,
    /// `memory_limit = "64MiB"`: this plugin's memory cap.
    #[serde(default)]
    pub memory_limit: Option<ByteSize>,
    /// `capabilities = ["dns", "kv"]`: the host capabilities granted (`dns`, `kv`, `ocr`);
    /// `log`, `config` and `clock` are always available. Unset: none for plugin-dir
    /// plugins, what they need for bundled ones.
    #[serde(default)]
    pub capabilities: Option<Vec<Capability>>,
    /// `on_error = "skip"`: `skip` or `tempfail` when this plugin fails.
    #[serde(default)]
    pub on_error: Option<OnError>,
    /// `on_disabled = "tempfail"`: `skip` or `tempfail` while the plugin is switched off
    /// after repeated failures (`[filter] failure_threshold`). Unset: as `on_error`.
    #[serde(default)]
    pub on_disabled: Option<OnError>,
    /// `max_message_size = "10MiB"`: larger messages are not given to the plugin: at the
    /// data stage it is skipped (the symbol `PLUGIN_SKIPPED`, weight 0 unless set), at the
    /// outcome stage it hears the decision without the message. Unset: no limit.
    #[serde(default)]
    pub max_message_size: Option<ByteSize>,
    /// `dns_max_questions = 128`: DNS questions one call of the plugin may ask, over all
    /// its lookups; those beyond are answered `server-failure` without being asked.
    #[serde(default)]
    pub dns_max_questions: Option<u32>,
    /// `dns_time_budget = "900ms"`: time one call of the plugin may spend waiting on DNS,
    /// over all its lookups; a lookup still unanswered when it is spent, and every later
    /// one, is answered `timeout`. Unset: nine tenths of `time_budget`.
    #[serde(default)]
    pub dns_time_budget: Option<HumanDuration>,
    /// `allow_hard_action = false`: whether an action the plugin demands (e.g. reject on
    /// GTUBE) is carried out regardless of the score. Unset: false for plugin-dir
    /// plugins, true for bundled ones.
    #[serde(default)]
    pub allow_hard_action: Option<bool>,
    /// `[plugin.NAME.config]`: the plugin's own settings, which it reads through the
    /// `config` capability.
    #[serde(default)]
    pub config: Option<toml::Table>,
}

impl PluginSettings {
    /// These settings with every unset key taken from `base` (symbol weights and config
    /// keys are merged, ours winning).
    pub fn over(self, base: &PluginSettings) -> PluginSettings {
        let mut symbols = base.symbols.clone();
        symbols.extend(self.symbols);
        let config = match (self.config, &base.config) {
            (Some(ours), Some(theirs)) => {
                let mut merged = theirs.clone();
                merged.extend(ours);
                Some(merged)
            }
            (ours, theirs) => ours.or_else(|| theirs.clone()),
        };
        PluginSettings {
            source: self.source.or_else(|| base.source.clone()),
            enabled: self.enabled.or(base.enabled),
            weight: self.weight.or(base.weight),
            symbols,
            stages: self.stages.or_else(|| base.stages.clone()),
            time_budget: self.time_budget.or(base.time_budget),
            memory_limit: self.memory_limit.or(base.memory_limit),
            capabilities: self.capabilities.or_else(|| base.capabilities.clone()),
            on_error: self.on_error.or(base.on_error),
            on_disabled: self.on_disabled.or(base.on_disabled),
            max_message_size: self.max_message_size.or(base.max_message_size),
            dns_max_questions: self.dns_max_questions.or(base.dns_max_questions),
            dns_time_budget: self.dns_time_budget.or(base.dns_time_budget),
            allow_hard_action: self.allow_hard_action.or(base.allow_hard_action),
            config,
        }
    }

    /// Problems with these settings, keys prefixed by `prefix` (e.g. `plugin.dnsbl`).
    pub fn problems(&self, prefix: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, reason: String| {
            problems.push(Problem {
                key: format!("{prefix}.{key}"),
                reason,
            });
        };
        if let Some(w) = self.weight
            && !w.is_finite()
        {
            problem("weight", format!("must be a finite number, not {w}"));
        }
        for (name, w) in &self.symbols {
            if !super::is_valid_symbol_name(name) {
                problem(
                    &format!("symbols.{name}"),
                    "symbol names are 1-64 characters of A-Z, 0-9 and _".into(),
                );
            }
            if !w.is_finite() {
                problem(
                    &format!("symbols.{name}"),
                    format!("must be a finite number, not {w}"),
                );
            }
        }
        if let Some(limit) = self.memory_limit
            && !(MIN_PLUGIN_MEMORY..=MAX_PLUGIN_MEMORY).contains(&limit.0)
        {
            problem(
                "memory_limit",
                format!("must be between 2MiB and 256MiB, not {limit}"),
            );
        }
        if let Some(budget) = self.time_budget
            && !(10..=60_000).contains(&budget.0.as_millis())
        {
            problem(
                "time_budget",
                format!("must be between 10ms and 60s, not {budget}"),
            );
        }
        if let Some(source) = &self.source
            && source.trim().is_empty()
        {
            problem(
                "source",
                "must be \"bundled:NAME\" or the path of a .wasm file".into(),
            );
        }
        self.limit_problems(&mut problem);
        problems
    }

    /// Problems with the message-size and DNS limits.
    fn limit_problems(&self, problem: &mut impl FnMut(&str, String)) {
        if let Some(size) = self.max_message_size
            && size.0 < MIN_MESSAGE_SIZE
        {
            problem(
                "max_message_size",
                format!("must be at least 1KiB, not {size}"),
            );
        }
        if let Some(questions) = self.dns_max_questions
            && questions > MAX_DNS_QUESTIONS
        {
            problem(
                "dns_max_questions",
                format!("must be at most {MAX_DNS_QUESTIONS}, not {questions}"),
            );
        }
        if let Some(budget) = self.dns_time_budget
            && !(10..=60_000).contains(&budget.0.as_millis())
        {
            problem(
                "dns_time_budget",
                format!("must be between 10ms and 60s, not {budget}"),
            );
        }
    }
}

impl FilterConfig {
    /// Problems with the runtime-wide settings.
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let limit = self.memory_limit.0;
        if !(MIN_PLUGIN_MEMORY..=MAX_PLUGIN_MEMORY).contains(&limit) {
            problems.push(Problem {
                key: "filter.memory_limit".into(),
                reason: format!("must be between 2MiB and 256MiB, not {}", self.memory_limit),
            });
        }
        if !(10..=60_000).contains(&self.time_budget.0.as_millis()) {
            problems.push(Problem {
                key: "filter.time_budget".into(),
                reason: format!("must be between 10ms and 60s, not {}", self.time_budget),
            });
        }
        if !(1..=10_000).contains(&self.max_concurrent_calls) {
            problems.push(Problem {
                key: "filter.max_concurrent_calls".into(),
                reason: format!(
                    "must be between 1 and 10000, not {}",
                    self.max_concurrent_calls
                ),
            });
        }
        if self.failure_threshold == 0 {
            problems.push(Problem {
                key: "filter.failure_threshold".into(),
                reason: "must be at least 1".into(),
            });
        }
        if self.large_message_size.0 < MIN_MESSAGE_SIZE {
            problems.push(Problem {
                key: "filter.large_message_size".into(),
                reason: format!("must be at least 1KiB, not {}", self.large_message_size),
            });
        }
        problems
    }
}

impl Thresholds {
    /// Problems with the thresholds: each finite, and `tag ≤ quarantine ≤ reject`.
    pub(super) fn problems(&self) -> Vec<Problem> {
        self.problems_at("thresholds")
    }

    /// The same checks, for thresholds at the table `prefix` (`submission.thresholds`).
    pub(super) fn problems_at(&self, prefix: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("tag", self.tag),
            ("quarantine", self.quarantine),
            ("reject", self.reject),
        ] {
            if !value.is_finite() {
                problems.push(Problem {
                    key: format!("{prefix}.{key}"),
                    reason: format!("must be a finite number, not {value}"),
                });
            }
        }
        if self.tag > self.quarantine {
            problems.push(Problem {
                key: format!("{prefix}.quarantine"),
                reason: format!(
                    "must not be below {prefix}.tag ({} < {})",
                    self.quarantine, self.tag
                ),
            });
        }
        if self.quarantine > self.reject {
            problems.push(Problem {
                key: format!("{prefix}.reject"),
                reason: format!(
                    "must not be below {prefix}.quarantine ({} < {})",
                    self.reject, self.quarantine
                ),
            });
        }
        problems
    }
}
