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
    /// Whether its hard actions decide.
    pub allow_hard_action: bool,
    /// Its symbols' weights.
    pub weights: PluginWeights,
    /// Its services and grants.
    pub host: Arc<PluginHost>,
    /// The linked component.
    pub pre: PluginPre<StoreState>,
    /// Failure tracking for the circuit breaker.
    pub health: PluginHealth,
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
}

impl LoadedPlugin {
    /// What `moat plugin list` shows of the plugin (and `GET /plugins` answers).
    pub fn summary(&self) -> serde_json::Value {
        let stages: Vec<&str> = self.stages.iter().map(|s| s.as_str()).collect();
        serde_json::json!({
            "name": self.name, "plugin": self.info.name, "version": self.info.version,
            "sdk_version": self.info.sdk_version, "source": self.source.to_string(),
            "stages": stages, "weight": self.weights.weight,
            "time_budget_ms": self.time_budget.as_millis() as u64,
            "memory_limit": self.memory_limit, "on_error": self.on_error,
            "allow_hard_action": self.allow_hard_action,
        })
    }

    /// The limits of each call of this plugin.
    pub fn limits(&self) -> CallLimits {
        CallLimits {
            time_budget: self.time_budget,
            memory_limit: self.memory_limit,
        }
    }

    /// Whether the plugin runs at `stage`.
    pub fn wants(&self, stage: Stage) -> bool {
        self.stages.contains(&stage)
    }
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
        assert!(
            health.check(t0 + Duration::from_secs(303)).is_ok(),
            "back after disable_for"
        );
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
