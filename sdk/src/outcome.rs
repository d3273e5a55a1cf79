//! What plugins that learn are told: the gateway's decision on a message (outcome stage)
//! and the operator's classification of a message (`moat learn`).

use crate::bindings::moat::filter::types as wit;
use crate::verdict::Action;

/// The combined decision on a message, handed to [`Plugin::on_outcome`](crate::Plugin::on_outcome)
/// so reputation and auto-learning plugins can update themselves.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The action taken.
    pub action: Action,
    /// The total score.
    pub score: f64,
    /// Every symbol of every plugin and what it contributed.
    pub symbols: Vec<ScoredSymbol>,
    /// The thresholds the score was held against.
    pub thresholds: Thresholds,
}

/// The operator's score thresholds (`tag <= quarantine <= reject`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// From this score on, a message is tagged.
    pub tag: f64,
    /// From this score on, a message is quarantined.
    pub quarantine: f64,
    /// From this score on, a message is rejected.
    pub reject: f64,
}

impl Thresholds {
    /// The action these thresholds give `score`.
    pub fn action_for(&self, score: f64) -> Action {
        if score >= self.reject {
            Action::Reject
        } else if score >= self.quarantine {
            Action::Quarantine
        } else if score >= self.tag {
            Action::Tag
        } else {
            Action::Accept
        }
    }
}

impl Decision {
    /// The score without the symbols of `plugin`: what the other plugins said. A plugin
    /// that learns from decisions compares `thresholds.action_for(score_without(me))`
    /// with the action, so it never learns from its own vote alone.
    pub fn score_without(&self, plugin: &str) -> f64 {
        self.score
            - self
                .symbols
                .iter()
                .filter(|s| s.plugin == plugin)
                .map(|s| s.contribution)
                .sum::<f64>()
    }
}

impl Decision {
    pub(crate) fn from_wit(decision: wit::Decision) -> Self {
        Self {
            action: Action::from_wit(decision.action),
            score: decision.score,
            symbols: decision
                .symbols
                .into_iter()
                .map(|symbol| ScoredSymbol {
                    plugin: symbol.plugin,
                    name: symbol.name,
                    score: symbol.score,
                    weight: symbol.weight,
                    contribution: symbol.contribution,
                })
                .collect(),
            thresholds: Thresholds {
                tag: decision.thresholds.tag,
                quarantine: decision.thresholds.quarantine,
                reject: decision.thresholds.reject,
            },
        }
    }
}

/// One symbol as it entered the final score.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredSymbol {
    /// The plugin that produced it.
    pub plugin: String,
    /// The symbol's name.
    pub name: String,
    /// The plugin's score for it.
    pub score: f64,
    /// The weight the operator's configuration gave it.
    pub weight: f64,
    /// `weight × score`: what it added to the total.
    pub contribution: f64,
}

/// The class a message is learnt as by plugins that train (Bayes, reputation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Label {
    /// Unwanted mail.
    Spam,
    /// Wanted mail.
    Ham,
}

impl Label {
    pub(crate) fn from_wit(label: wit::Label) -> Self {
        match label {
            wit::Label::Spam => Self::Spam,
            wit::Label::Ham => Self::Ham,
        }
    }
}

/// What a [`Plugin::learn`](crate::Plugin::learn) call did, reported back to the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LearnOutcome {
    /// The message was learnt (or, when forgetting, unlearnt).
    Done,
    /// Nothing changed: the message was already learnt with that label (or, when
    /// forgetting, was never learnt).
    Unchanged,
    /// The plugin does not learn. The default answer of [`Plugin::learn`](crate::Plugin::learn).
    Unsupported,
}

impl LearnOutcome {
    pub(crate) fn into_wit(self) -> wit::LearnOutcome {
        match self {
            Self::Done => wit::LearnOutcome::Done,
            Self::Unchanged => wit::LearnOutcome::Unchanged,
            Self::Unsupported => wit::LearnOutcome::Unsupported,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_decision() {
        let decision = Decision::from_wit(wit::Decision {
            action: wit::Action::Tag,
            score: 6.5,
            symbols: vec![wit::ScoredSymbol {
                plugin: "headers".to_owned(),
                name: "MISSING_DATE".to_owned(),
                score: 1.0,
                weight: 2.0,
                contribution: 2.0,
            }],
            thresholds: wit::Thresholds {
                tag: 5.0,
                quarantine: 10.0,
                reject: 15.0,
            },
        });
        assert_eq!(decision.action, Action::Tag);
        assert_eq!(decision.score, 6.5);
        assert_eq!(decision.symbols[0].plugin, "headers");
        assert_eq!(decision.symbols[0].contribution, 2.0);
        assert_eq!(decision.thresholds.reject, 15.0);
        assert_eq!(decision.score_without("headers"), 4.5);
        assert_eq!(
            decision
                .thresholds
                .action_for(decision.score_without("headers")),
            Action::Accept
        );
    }

    #[test]
    fn converts_label_and_outcome() {
        assert_eq!(Label::from_wit(wit::Label::Ham), Label::Ham);
        assert_eq!(
            LearnOutcome::Unchanged.into_wit(),
            wit::LearnOutcome::Unchanged
        );
    }
}
