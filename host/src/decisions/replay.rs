//! A logged decision re-combined under another configuration's weights, hard-action
//! permissions and thresholds: what that configuration would have decided on the same
//! plugin answers. Plugins the other configuration does not run are left out; plugins it
//! adds have no logged answers (`moat replay --corpus` runs them).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::record::{DecisionRecord, LoggedOutcome, Truth};
use crate::config::{Config, OnError, PluginSettings, Thresholds};
use crate::filter::combine::{PluginOutcome, PluginResult, PluginWeights, WeightTable, combine};
use crate::filter::error::{LoadError, PluginError};
use crate::filter::pipeline::Direction;
use crate::filter::{Action, Decision, Symbol, Verdict};

/// A configuration's way of combining plugin answers, for re-weighing logged ones.
#[derive(Debug, Clone)]
pub struct ReplayWeights {
    settings: BTreeMap<String, PluginSettings>,
    inbound: Thresholds,
    outbound: Thresholds,
    /// `[filter] on_error`, for plugins whose settings name none.
    on_error: OnError,
}

impl ReplayWeights {
    /// The weights `config` gives (with its learnt weights file), and the plugin settings
    /// that could not be read.
    pub fn from_config(config: &Config) -> (Self, Vec<LoadError>) {
        let (settings, errors) = crate::filter::loader::planned_settings(config);
        (
            Self {
                settings,
                inbound: config.thresholds,
                outbound: config.submission.thresholds,
                on_error: config.filter.on_error,
            },
            errors,
        )
    }

    /// The thresholds of `direction`.
    pub fn thresholds(&self, direction: Direction) -> &Thresholds {
        match direction {
            Direction::Inbound => &self.inbound,
            Direction::Outbound => &self.outbound,
        }
    }

    /// Whether the configuration runs `plugin`.
    pub fn runs(&self, plugin: &str) -> bool {
        self.settings.contains_key(plugin)
    }

    /// What this configuration decides on `record`'s plugin answers.
    pub fn decide(&self, record: &DecisionRecord) -> Decision {
        let mut table = WeightTable::default();
        let mut results = Vec::with_capacity(record.results.len());
        for logged in &record.results {
            let Some(settings) = self.settings.get(&logged.plugin) else {
                continue;
            };
            // A stage the candidate does not call the plugin at gives nothing.
            if settings
                .stages
                .as_ref()
                .is_some_and(|stages| !stages.contains(&logged.stage))
            {
                continue;
            }
            table.insert(
                &logged.plugin,
                PluginWeights {
                    weight: settings.weight.unwrap_or(logged.default_weight),
                    symbols: settings
                        .symbols
                        .iter()
                        .map(|(k, v)| (k.clone(), *v))
                        .collect::<HashMap<_, _>>(),
                },
            );
            let outcome = match &logged.outcome {
                LoggedOutcome::Answered {
                    symbols,
                    hard_action,
                } => PluginOutcome::Answered {
                    verdict: Verdict {
                        symbols: symbols
                            .iter()
                            .map(|(name, score)| Symbol {
                                name: name.clone(),
                                score: *score,
                                detail: String::new(),
                            })
                            .collect(),
                        action: *hard_action,
                        annotations: Vec::new(),
                    },
                    hard_action_allowed: settings.allow_hard_action.unwrap_or(false),
                },
                // The candidate's policy, as the loader would set it; a failure while the
                // plugin was switched off keeps the policy it was under.
                LoggedOutcome::Failed { error, on_error } => PluginOutcome::Failed {
                    on_error: if error.starts_with("disabled") {
                        *on_error
                    } else {
                        settings.on_error.unwrap_or(self.on_error)
                    },
                    error: PluginError::Logged {
                        report: error.clone(),
                    },
                },
                LoggedOutcome::Skipped { reason } => PluginOutcome::Skipped {
                    reason: reason.clone(),
                },
            };
            results.push(PluginResult {
                plugin: logged.plugin.clone(),
                stage: logged.stage,
                outcome,
            });
        }
        combine(&results, &table, self.thresholds(record.direction))
    }
}

/// Caught and flagged rates where the truth is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TruthRates {
    /// Messages known to be spam.
    pub spam: usize,
    /// Of them, not accepted (tagged, quarantined, refused).
    pub spam_caught: usize,
    /// Messages known to be ham.
    pub ham: usize,
    /// Of them, not accepted: false positives.
    pub ham_flagged: usize,
}

impl TruthRates {
    /// Counts one message whose truth is `truth` and whose action was `action`.
    pub fn count(&mut self, truth: Truth, action: Action) {
        let flagged = action != Action::Accept;
        match truth {
            Truth::Spam => {
                self.spam += 1;
                self.spam_caught += usize::from(flagged);
            }
            Truth::Ham => {
                self.ham += 1;
                self.ham_flagged += usize::from(flagged);
            }
        }
    }

    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Self) {
        self.spam += other.spam;
        self.spam_caught += other.spam_caught;
        self.ham += other.ham;
        self.ham_flagged += other.ham_flagged;
    }

    /// The share of spam caught, in percent (0 without spam).
    pub fn caught_percent(&self) -> f64 {
        percent(self.spam_caught, self.spam)
    }

    /// The share of ham flagged, in percent (0 without ham).
    pub fn flagged_percent(&self) -> f64 {
        percent(self.ham_flagged, self.ham)
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Stage;
    use crate::decisions::record::LoggedResult;

    fn record(results: Vec<LoggedResult>) -> DecisionRecord {
        DecisionRecord {
            results,
            ..crate::decisions::testing::record()
        }
    }

    fn answered(plugin: &str, symbols: &[(&str, f64)], hard: Option<Action>) -> LoggedResult {
        LoggedResult {
            plugin: plugin.into(),
            stage: Stage::Data,
            default_weight: 1.0,
            outcome: LoggedOutcome::Answered {
                symbols: symbols.iter().map(|(n, s)| ((*n).into(), *s)).collect(),
                hard_action: hard,
            },
        }
    }

    fn weights(toml: &str) -> ReplayWeights {
        let config = Config::parse(toml, "test").unwrap();
        let (weights, errors) = ReplayWeights::from_config(&config);
        assert!(errors.is_empty(), "{errors:?}");
        weights
    }

    #[test]
    fn symbols_are_reweighed_by_the_candidates_weights_and_thresholds() {
        let logged = record(vec![
            answered("bayes", &[("BAYES_SPAM", 4.0)], None),
            answered("headers", &[("MISSING_DATE", 1.0)], None),
        ]);
        let base = weights("[filter]\nbundled = [\"bayes\", \"headers\"]\n");
        let decision = base.decide(&logged);
        assert_eq!(decision.score, 5.0);
        assert_eq!(decision.action, Action::Tag);
        let candidate = weights(
            "[filter]\nbundled = [\"bayes\", \"headers\"]\n\
             [plugin.headers.symbols]\nMISSING_DATE = 0.5\n\
             [thresholds]\ntag = 4.0\nquarantine = 4.4\nreject = 20.0\n",
        );
        let decision = candidate.decide(&logged);
        assert_eq!(decision.score, 4.5);
        assert_eq!(decision.action, Action::Quarantine);
    }

    #[test]
    fn a_plugin_the_candidate_does_not_run_is_left_out() {
        let logged = record(vec![
            answered("bayes", &[("BAYES_SPAM", 4.0)], None),
            answered("headers", &[("MISSING_DATE", 1.0)], None),
        ]);
        let candidate = weights("[filter]\nbundled = [\"bayes\"]\n");
        assert!(!candidate.runs("headers"));
        assert_eq!(candidate.decide(&logged).score, 4.0);
    }

    #[test]
    fn hard_actions_follow_the_candidates_permission_and_failures_their_policy() {
        let logged = record(vec![answered(
            "headers",
            &[("GTUBE", 0.0)],
            Some(Action::Reject),
        )]);
        // Bundled plugins may decide by default.
        assert_eq!(weights("").decide(&logged).action, Action::Reject);
        let denied = weights("[plugin.headers]\nallow_hard_action = false\n");
        assert_eq!(denied.decide(&logged).action, Action::Accept);
        let failed = record(vec![LoggedResult {
            plugin: "bayes".into(),
            stage: Stage::Data,
            default_weight: 1.0,
            outcome: LoggedOutcome::Failed {
                error: "timeout: exceeded".into(),
                on_error: OnError::Tempfail,
            },
        }]);
        // The candidate's policy decides, not the one logged.
        assert_eq!(weights("").decide(&failed).action, Action::Accept);
        let tempfailing = weights("[plugin.bayes]\non_error = \"tempfail\"\n");
        assert_eq!(tempfailing.decide(&failed).action, Action::Tempfail);
    }

    #[test]
    fn the_logged_default_weight_stands_where_the_candidate_sets_none() {
        let mut result = answered("bayes", &[("BAYES_SPAM", 3.0)], None);
        result.default_weight = 2.0;
        let logged = record(vec![result]);
        assert_eq!(weights("").decide(&logged).score, 6.0);
        assert_eq!(
            weights("[plugin.bayes]\nweight = 1.0\n")
                .decide(&logged)
                .score,
            3.0
        );
    }

    #[test]
    fn learnt_weights_apply_under_the_operators_pins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("learnt.toml");
        std::fs::write(
            &file,
            "[bayes]\nBAYES_SPAM = 2.0\n[headers]\nMISSING_DATE = 3.0\n",
        )
        .unwrap();
        let config = Config::parse(
            &format!(
                "[filter]\nweights_file = {:?}\n[plugin.headers.symbols]\nMISSING_DATE = 0.0\n",
                file.display().to_string()
            ),
            "test",
        )
        .unwrap();
        let (candidate, _) = ReplayWeights::from_config(&config);
        let logged = record(vec![
            answered("bayes", &[("BAYES_SPAM", 4.0)], None),
            answered("headers", &[("MISSING_DATE", 1.0)], None),
        ]);
        assert_eq!(candidate.decide(&logged).score, 8.0);
    }

    #[test]
    fn rates_count_what_was_not_accepted() {
        let mut rates = TruthRates::default();
        rates.count(Truth::Spam, Action::Tag);
        rates.count(Truth::Spam, Action::Accept);
        rates.count(Truth::Ham, Action::Accept);
        rates.count(Truth::Ham, Action::Reject);
        assert_eq!(rates.caught_percent(), 50.0);
        assert_eq!(rates.flagged_percent(), 50.0);
        assert_eq!(TruthRates::default().caught_percent(), 0.0);
    }
}
