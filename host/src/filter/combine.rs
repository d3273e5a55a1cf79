//! Combining plugin answers into one decision: pure, no I/O.
//!
//! `score = Σ weight × symbol score`, the weight being the operator's weight for that
//! symbol of that plugin, else the operator's weight for the plugin, else the plugin's own
//! default weight (1.0 unless it says otherwise). The thresholds turn the score into an
//! action; a hard action demanded by a plugin the operator trusts overrides the score
//! (the most severe wins: reject > tempfail > quarantine > tag > accept); a failed plugin
//! whose policy is `tempfail` makes the message tempfail unless a hard action decided.
//! Every symbol's weight and contribution is kept in the report.

use std::collections::HashMap;

use serde::Serialize;

use super::error::PluginError;
use super::verdict::{Action, Verdict};
use super::{OnError, Stage};
use crate::config::Thresholds;

/// The symbol recorded when a plugin call fails. Its score is 1.0 and, unless the operator
/// weighs it (`[plugin.NAME.symbols] PLUGIN_FAILED = 3.0`), its weight is 0: a failure is
/// visible in every report without moving the score.
pub const PLUGIN_FAILED: &str = "PLUGIN_FAILED";

/// The symbol recorded when a plugin is not called because the message is larger than its
/// `max_message_size`. Like [`PLUGIN_FAILED`], its score is 1.0 and its weight 0 unless
/// the operator weighs it.
pub const PLUGIN_SKIPPED: &str = "PLUGIN_SKIPPED";

/// One plugin's answer at one stage.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginResult {
    /// The plugin's instance name.
    pub plugin: String,
    /// The stage it answered at.
    pub stage: Stage,
    /// What it answered, or how it failed.
    pub outcome: PluginOutcome,
}

/// A plugin's answer, or its failure.
#[derive(Debug, Clone, PartialEq)]
pub enum PluginOutcome {
    /// The plugin answered with a valid verdict.
    Answered {
        /// The verdict.
        verdict: Verdict,
        /// Whether the operator lets this plugin's hard action decide.
        hard_action_allowed: bool,
    },
    /// The call failed.
    Failed {
        /// How.
        error: PluginError,
        /// The policy that applies: the plugin's `on_error`, or its `on_disabled` while
        /// it is switched off.
        on_error: OnError,
    },
    /// The plugin was not called: the message is larger than its `max_message_size`.
    Skipped {
        /// Why, for the report.
        reason: String,
    },
}

/// The operator's weights, resolved per plugin at load.
#[derive(Debug, Clone, Default)]
pub struct WeightTable {
    plugins: HashMap<String, PluginWeights>,
}

/// The weights of one plugin's symbols.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginWeights {
    /// The weight of symbols that have none of their own (operator's, else the plugin's default).
    pub weight: f64,
    /// Weights of single symbols.
    pub symbols: HashMap<String, f64>,
}

impl WeightTable {
    /// Sets the weights of `plugin`.
    pub fn insert(&mut self, plugin: &str, weights: PluginWeights) {
        self.plugins.insert(plugin.to_owned(), weights);
    }

    /// The weight of `symbol` from `plugin`.
    pub fn weight(&self, plugin: &str, symbol: &str) -> f64 {
        let weights = self.plugins.get(plugin);
        if let Some(w) = weights.and_then(|p| p.symbols.get(symbol)) {
            return *w;
        }
        if symbol == PLUGIN_FAILED || symbol == PLUGIN_SKIPPED {
            return 0.0;
        }
        weights.map_or(1.0, |p| p.weight)
    }
}

/// One line of the score report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportLine {
    /// The plugin that produced the symbol.
    pub plugin: String,
    /// The stage it was produced at.
    pub stage: Stage,
    /// The symbol.
    pub name: String,
    /// The plugin's score.
    pub score: f64,
    /// The operator's weight.
    pub weight: f64,
    /// `weight × score`.
    pub contribution: f64,
    /// The plugin's explanation.
    pub detail: String,
}

/// A hard action a plugin demanded, and whether it was carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HardAction {
    /// The plugin.
    pub plugin: String,
    /// The action it demanded.
    pub action: Action,
    /// False when the operator does not let this plugin decide (`allow_hard_action`).
    pub honoured: bool,
}

/// Why the decision is what it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum DecisionReason {
    /// The score against the thresholds.
    Score,
    /// A plugin's hard action.
    HardAction {
        /// The plugin.
        plugin: String,
    },
    /// A failed plugin whose policy is `tempfail`.
    PluginFailure {
        /// The plugin.
        plugin: String,
    },
}

/// The combined decision with its full explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// What happens to the message.
    pub action: Action,
    /// The total score.
    pub score: f64,
    /// Why this action.
    pub reason: DecisionReason,
    /// Every symbol with its weight and contribution, largest contribution first.
    pub report: Vec<ReportLine>,
    /// Hard actions plugins demanded.
    pub hard_actions: Vec<HardAction>,
}

/// The action the thresholds give `score`.
pub fn action_for_score(score: f64, thresholds: &Thresholds) -> Action {
    if score >= thresholds.reject {
        Action::Reject
    } else if score >= thresholds.quarantine {
        Action::Quarantine
    } else if score >= thresholds.tag {
        Action::Tag
    } else {
        Action::Accept
    }
}

/// Combines every plugin result so far into a decision.
pub fn combine(
    results: &[PluginResult],
    weights: &WeightTable,
    thresholds: &Thresholds,
) -> Decision {
    let mut report = Vec::new();
    let mut hard_actions = Vec::new();
    let mut tempfailing_plugin = None;
    for result in results {
        let mut line = |name: &str, score: f64, detail: String| {
            let weight = weights.weight(&result.plugin, name);
            report.push(ReportLine {
                plugin: result.plugin.clone(),
                stage: result.stage,
                name: name.to_owned(),
                score,
                weight,
                contribution: weight * score,
                detail,
            });
        };
        match &result.outcome {
            PluginOutcome::Answered {
                verdict,
                hard_action_allowed,
            } => {
                for symbol in &verdict.symbols {
                    line(&symbol.name, symbol.score, symbol.detail.clone());
                }
                if let Some(action) = verdict.action {
                    hard_actions.push(HardAction {
                        plugin: result.plugin.clone(),
                        action,
                        honoured: *hard_action_allowed,
                    });
                }
            }
            PluginOutcome::Failed { error, on_error } => {
                line(PLUGIN_FAILED, 1.0, format!("{}: {error}", error.kind()));
                if *on_error == OnError::Tempfail && tempfailing_plugin.is_none() {
                    tempfailing_plugin = Some(result.plugin.clone());
                }
            }
            PluginOutcome::Skipped { reason } => line(PLUGIN_SKIPPED, 1.0, reason.clone()),
        }
    }
    // `+ 0.0` turns a sum of negative zeros into 0, so reports never say -0.00.
    let score: f64 = report.iter().map(|l| l.contribution).sum::<f64>() + 0.0;
    report.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));

    let decisive = hard_actions
        .iter()
        .filter(|h| h.honoured)
        .max_by_key(|h| h.action.severity());
    let (action, reason) = match (decisive, tempfailing_plugin) {
        (Some(hard), failed) if failed.is_none() || hard.action == Action::Reject => (
            hard.action,
            DecisionReason::HardAction {
                plugin: hard.plugin.clone(),
            },
        ),
        (_, Some(plugin)) => (Action::Tempfail, DecisionReason::PluginFailure { plugin }),
        (_, None) => (action_for_score(score, thresholds), DecisionReason::Score),
    };
    Decision {
        action,
        score,
        reason,
        report,
        hard_actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::verdict::Symbol;

    fn answered(
        plugin: &str,
        symbols: &[(&str, f64)],
        action: Option<Action>,
        allowed: bool,
    ) -> PluginResult {
        PluginResult {
            plugin: plugin.into(),
            stage: Stage::Data,
            outcome: PluginOutcome::Answered {
                verdict: Verdict {
                    symbols: symbols
                        .iter()
                        .map(|(n, s)| Symbol {
                            name: (*n).into(),
                            score: *s,
                            detail: String::new(),
                        })
                        .collect(),
                    action,
                    annotations: Vec::new(),
                },
                hard_action_allowed: allowed,
            },
        }
    }

    fn failed(plugin: &str, on_error: OnError) -> PluginResult {
        PluginResult {
            plugin: plugin.into(),
            stage: Stage::Data,
            outcome: PluginOutcome::Failed {
                error: PluginError::StackOverflow,
                on_error,
            },
        }
    }

    fn weights() -> WeightTable {
        let mut table = WeightTable::default();
        table.insert(
            "a",
            PluginWeights {
                weight: 2.0,
                symbols: [("SPECIAL".to_owned(), 0.5)].into_iter().collect(),
            },
        );
        table
    }

    #[test]
    fn score_is_the_weighted_sum_and_the_report_explains_each_point() {
        let d = combine(
            &[
                answered("a", &[("PLAIN", 3.0), ("SPECIAL", 4.0)], None, false),
                answered("b", &[("OTHER", -1.0)], None, false),
            ],
            &weights(),
            &Thresholds::default(),
        );
        assert_eq!(d.score, 2.0 * 3.0 + 0.5 * 4.0 - 1.0);
        assert_eq!(d.action, Action::Tag);
        assert_eq!(d.reason, DecisionReason::Score);
        let plain = d.report.iter().find(|l| l.name == "PLAIN").unwrap();
        assert_eq!((plain.weight, plain.contribution), (2.0, 6.0));
        assert_eq!(d.report[0].name, "PLAIN", "largest contribution first");
        assert_eq!(
            d.report.iter().map(|l| l.contribution).sum::<f64>(),
            d.score
        );
    }

    #[test]
    fn thresholds_map_scores_to_actions_at_their_boundaries() {
        let t = Thresholds {
            tag: 5.0,
            quarantine: 10.0,
            reject: 15.0,
        };
        for (score, action) in [
            (-3.0, Action::Accept),
            (4.99, Action::Accept),
            (5.0, Action::Tag),
            (10.0, Action::Quarantine),
            (15.0, Action::Reject),
            (99.0, Action::Reject),
        ] {
            assert_eq!(action_for_score(score, &t), action, "{score}");
        }
    }

    #[test]
    fn hard_actions_decide_only_where_allowed_and_the_most_severe_wins() {
        let t = Thresholds::default();
        let ignored = combine(
            &[answered("x", &[], Some(Action::Reject), false)],
            &weights(),
            &t,
        );
        assert_eq!(ignored.action, Action::Accept);
        assert!(!ignored.hard_actions[0].honoured);

        let d = combine(
            &[
                answered("x", &[], Some(Action::Quarantine), true),
                answered("y", &[], Some(Action::Reject), true),
            ],
            &weights(),
            &t,
        );
        assert_eq!(d.action, Action::Reject);
        assert_eq!(d.reason, DecisionReason::HardAction { plugin: "y".into() });

        let whitelisted = combine(
            &[answered(
                "x",
                &[("SPAMMY", 100.0)],
                Some(Action::Accept),
                true,
            )],
            &weights(),
            &t,
        );
        assert_eq!(whitelisted.action, Action::Accept);
    }

    #[test]
    fn failures_are_reported_and_tempfail_policy_applies() {
        let t = Thresholds::default();
        let skip = combine(
            &[
                failed("f", OnError::Skip),
                answered("b", &[("S", 1.0)], None, false),
            ],
            &weights(),
            &t,
        );
        assert_eq!(skip.action, Action::Accept);
        let line = skip
            .report
            .iter()
            .find(|l| l.name == PLUGIN_FAILED)
            .unwrap();
        assert_eq!((line.plugin.as_str(), line.contribution), ("f", 0.0));
        assert!(line.detail.starts_with("stack-overflow"));

        let tempfail = combine(&[failed("f", OnError::Tempfail)], &weights(), &t);
        assert_eq!(tempfail.action, Action::Tempfail);
        assert_eq!(
            tempfail.reason,
            DecisionReason::PluginFailure { plugin: "f".into() }
        );

        let hard_reject_wins = combine(
            &[
                failed("f", OnError::Tempfail),
                answered("g", &[], Some(Action::Reject), true),
            ],
            &weights(),
            &t,
        );
        assert_eq!(hard_reject_wins.action, Action::Reject);
    }

    #[test]
    fn plugin_failed_can_be_weighted_by_the_operator() {
        let mut table = WeightTable::default();
        table.insert(
            "f",
            PluginWeights {
                weight: 1.0,
                symbols: [(PLUGIN_FAILED.to_owned(), 3.0)].into_iter().collect(),
            },
        );
        let d = combine(
            &[failed("f", OnError::Skip)],
            &table,
            &Thresholds::default(),
        );
        assert_eq!(d.score, 3.0);
    }

    #[test]
    fn a_skipped_plugin_is_reported_with_weight_0_unless_weighed() {
        let skipped = PluginResult {
            plugin: "s".into(),
            stage: Stage::Data,
            outcome: PluginOutcome::Skipped {
                reason: "too large".into(),
            },
        };
        let d = combine(
            std::slice::from_ref(&skipped),
            &weights(),
            &Thresholds::default(),
        );
        assert_eq!(d.action, Action::Accept);
        assert_eq!(d.score, 0.0);
        let line = &d.report[0];
        assert_eq!(
            (line.name.as_str(), line.detail.as_str(), line.weight),
            (PLUGIN_SKIPPED, "too large", 0.0)
        );
        let mut table = WeightTable::default();
        table.insert(
            "s",
            PluginWeights {
                weight: 1.0,
                symbols: [(PLUGIN_SKIPPED.to_owned(), 2.0)].into_iter().collect(),
            },
        );
        let weighed = combine(&[skipped], &table, &Thresholds::default());
        assert_eq!(weighed.score, 2.0);
    }
}
