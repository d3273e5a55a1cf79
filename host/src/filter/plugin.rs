//! A loaded plugin: its compiled form, its effective settings, and its health.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::bindings::PluginPre;
use super::capabilities::PluginHost;
use super::combine::PluginWeights;
use super::error::PluginError;
use super::store::StoreState;
use super::{OnError, Stage};

/// What a plugin says about itself (`describe()`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginInfo {
    /// The plugin's own name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The SDK version it was built with ("" if unknown).
    pub sdk_version: String,
    /// The stages it asked for.
    pub stages: Vec<Stage>,
    /// Its default weight.
    pub default_weight: f64,
}

/// Where a plugin's code came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the binary.
    Bundled(&'static str),
    /// A .wasm file.
    File(PathBuf),
}

impl std::fmt::Display for PluginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginSource::Bundled(name) => write!(f, "bundled:{name}"),
            PluginSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A plugin ready to run: instantiate its `pre` in a fresh store for every call.
pub struct LoadedPlugin {
    /// The instance name (config section, kv namespace, report lines).
    pub name: String,
    /// What the plugin says about itself.
    pub info: PluginInfo,
    /// Where it came from.
    pub source: PluginSource,
    /// The stages it runs at (its own, narrowed by the operator).
    pub stages: Vec<Stage>,
    /// Wall-clock budget per call.
    pub time_budget: Duration,
    /// Memory cap per call, in bytes.
    pub memory_limit: u64,
    /// Failure policy.
    pub on_error: OnError,
    /// What a call does while the plugin is switched off (by default, `on_error`).
    pub on_disabled: OnError,
    /// Larger messages are not given to the plugin (skipped at the data stage, withheld
    /// at the outcome stage); `None`: no limit.
    pub max_message_size: Option<u64>,
    /// Memory and time failures on messages at least this large are the message's, and
    /// do not count towards switching the plugin off.
    pub large_message_size: u64,
    /// DNS questions one call may ask.
    pub dns_max_questions: u32,
    /// DNS wait one call may spend.
    pub dns_time_budget: Duration,
    /// Whether its hard actions decide.
    pub allow_hard_action: bool,
    /// Its symbols' weights.
    pub weights: PluginWeights,
    /// Its services and grants.
    pub host: Arc<PluginHost>,
    /// The linked component.
    pub pre: PluginPre<StoreState>,
    /// Failure tracking for the circuit breaker (shared with `/metrics`, which reports
    /// whether it is switched off).
    pub health: Arc<PluginHealth>,
    /// Calls, failures and call time, for `/metrics`.
    pub stats: super::metrics::PluginCallStats,
}

/// The sandbox limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Wall-clock budget.
    pub time_budget: Duration,
    /// Linear memory cap in bytes.
    pub memory_limit: u64,
    /// DNS questions the call may ask, over all its lookups.
    pub dns_max_questions: u32,
    /// Time the call may wait on DNS, over all its lookups.
    pub dns_time_budget: Duration,
}

impl LoadedPlugin {
    /// What `moat plugin list` shows of the plugin (and `GET /plugins` answers): who it
    /// is, where its code came from (`bundled:NAME` or the file), what it was granted, when
    /// it runs, its weight and its limits.
    pub fn summary(&self) -> serde_json::Value {
        let stages: Vec<&str> = self.stages.iter().map(|s| s.as_str()).collect();
        let capabilities: Vec<&str> = self.host.granted().iter().map(|c| c.as_str()).collect();
        serde_json::json!({
            "name": self.name, "plugin": self.info.name, "version": self.info.version,
            "sdk_version": self.info.sdk_version, "source": self.source.to_string(),
            "capabilities": capabilities, "stages": stages, "weight": self.weights.weight,
            "time_budget_ms": self.time_budget.as_millis() as u64,
            "memory_limit": self.memory_limit, "on_error": self.on_error,
            "on_disabled": self.on_disabled, "max_message_size": self.max_message_size,
            "dns_max_questions": self.dns_max_questions,
            "dns_time_budget_ms": self.dns_time_budget.as_millis() as u64,
            "allow_hard_action": self.allow_hard_action,
        })
    }

    /// The limits of each call of this plugin.
    pub fn limits(&self) -> CallLimits {
        CallLimits {
            time_budget: self.time_budget,
            memory_limit: self.memory_limit,
            dns_max_questions: self.dns_max_questions,
            dns_time_budget: self.dns_time_budget,
        }
    }

    /// Whether a message of `size` bytes is too large to give to the plugin.
    pub fn skips_message_of(&self, size: u64) -> bool {
        self.max_message_size.is_some_and(|max| size > max)
    }

    /// The policy for a failed call: `on_disabled` while switched off, else `on_error`.
    pub fn policy_for(&self, error: &PluginError) -> OnError {
        match error {
            PluginError::Disabled { .. } => self.on_disabled,
            _ => self.on_error,
        }
    }

    /// Whether `error`, on a call given a message of `message_size` bytes, is the
    /// message's doing rather than the plugin's: it ran out of memory or time on a large
    /// message. Such failures do not count towards switching the plugin off, so that a
    /// sender cannot switch a plugin off for everyone with a few huge messages.
    pub fn failure_is_the_messages(&self, error: &PluginError, message_size: Option<u64>) -> bool {
        is_a_large_message_failure(error, message_size, self.large_message_size)
    }

    /// Whether the plugin runs at `stage`.
    pub fn wants(&self, stage: Stage) -> bool {
        self.stages.contains(&stage)
    }
}

/// Whether `error` is running out of memory or time on a call given a message of
/// `message_size` bytes, at least `large_message_size`.
pub fn is_a_large_message_failure(
    error: &PluginError,
    message_size: Option<u64>,
    large_message_size: u64,
) -> bool {
    let resource = matches!(
        error,
        PluginError::MemoryExceeded { .. } | PluginError::Timeout { .. }
    );
    resource && message_size.is_some_and(|size| size >= large_message_size)
}

/// Counts a plugin's recent failures and switches it off for a while when they pile up,
/// so a plugin broken by some input does not cost every message its full time budget.
#[derive(Debug)]
pub struct PluginHealth {
    threshold: usize,
    window: Duration,
    disable_for: Duration,
    state: Mutex<HealthState>,
}

#[derive(Debug, Default)]
struct HealthState {
    failures: VecDeque<Instant>,
    disabled_until: Option<Instant>,
}

impl PluginHealth {
    /// `threshold` failures within `window` switch the plugin off for `disable_for`.
    pub fn new(threshold: u32, window: Duration, disable_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1) as usize,
            window,
            disable_for,
            state: Mutex::new(HealthState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // A poisoned lock only means another thread panicked mid-update of counters.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(Disabled)` while the plugin is switched off.
    pub fn check(&self, now: Instant) -> Result<(), PluginError> {
        let mut state = self.state();
        match state.disabled_until {
            Some(until) if until > now => Err(PluginError::Disabled {
                remaining_secs: (until - now).as_secs().max(1),
            }),
            Some(_) => {
                state.disabled_until = None;
                state.failures.clear();
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether the plugin is switched off at `now` (read only: `/metrics` asks).
    pub fn is_disabled(&self, now: Instant) -> bool {
        self.state().disabled_until.is_some_and(|until| until > now)
    }

    /// Records a failure; true when this failure switched the plugin off.
    pub fn record_failure(&self, now: Instant) -> bool {
        let mut state = self.state();
        state.failures.push_back(now);
        while state
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.window)
        {
            state.failures.pop_front();
        }
        if state.failures.len() >= self.threshold && state.disabled_until.is_none() {
            state.disabled_until = Some(now + self.disable_for);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_switch_a_plugin_off_for_a_while() {
        let health = PluginHealth::new(3, Duration::from_secs(60), Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(!health.record_failure(t0));
        assert!(!health.record_failure(t0 + Duration::from_secs(1)));
        assert!(health.check(t0 + Duration::from_secs(2)).is_ok());
        assert!(health.record_failure(t0 + Duration::from_secs(2)));
        assert_eq!(
            health
                .check(t0 + Duration::from_secs(3))
                .unwrap_err()
                .kind(),
            "disabled"
        );
        assert!(health.is_disabled(t0 + Duration::from_secs(3)));
        assert!(
            health.check(t0 + Duration::from_secs(303)).is_ok(),
            "back after disable_for"
        );
        assert!(!health.is_disabled(t0 + Duration::from_secs(303)));
    }

    #[test]
    fn only_memory_and_time_failures_on_large_messages_are_the_messages() {
        let memory = PluginError::MemoryExceeded {
            limit: 16 << 20,
            requested: 32 << 20,
        };
        let timeout = PluginError::Timeout { budget_ms: 200 };
        let panic = PluginError::Panic {
            message: "bug".into(),
        };
        let large = 1 << 20;
        assert!(is_a_large_message_failure(&memory, Some(large), large));
        assert!(is_a_large_message_failure(&timeout, Some(5 << 20), large));
        assert!(!is_a_large_message_failure(
            &timeout,
            Some(large - 1),
            large
        ));
        assert!(!is_a_large_message_failure(&memory, None, large));
        assert!(!is_a_large_message_failure(&panic, Some(5 << 20), large));
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let health = PluginHealth::new(2, Duration::from_secs(10), Duration::from_secs(300));
        let t0 = Instant::now();
        assert!(!health.record_failure(t0));
        assert!(!health.record_failure(t0 + Duration::from_secs(11)));
        assert!(health.check(t0 + Duration::from_secs(12)).is_ok());
    }
}
