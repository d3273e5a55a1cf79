//! Labelled decisions as the fitting sees them: per message, the scores of the symbols
//! whose weights are learnt, the fixed part of its score (pinned symbols), and its truth.

use std::collections::BTreeMap;

use crate::config::{Config, PluginSettings};
use crate::decisions::{DecisionRecord, LoggedOutcome, Truth};
use crate::filter::combine::{PLUGIN_FAILED, PLUGIN_SKIPPED};

/// A symbol of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SymbolKey {
    /// The plugin instance.
    pub plugin: String,
    /// The symbol.
    pub symbol: String,
}

/// The rows of a fit.
#[derive(Debug, Clone, Default)]
pub struct FeatureSet {
    /// The symbols whose weights are learnt, in column order.
    pub columns: Vec<SymbolKey>,
    /// Each column's weight in force (the prior the fit is pulled towards).
    pub prior: Vec<f64>,
    /// Per message: (column, symbol score) pairs.
    pub rows: Vec<Vec<(usize, f64)>>,
    /// Per message: the fixed part of its score (pinned symbols).
    pub offsets: Vec<f64>,
    /// Per message: spam (true) or ham.
    pub spam: Vec<bool>,
}

/// How `config` weighs one symbol: its weight, and whether the operator pinned it.
struct Weighing<'a> {
    /// Settings with learnt weights merged in.
    effective: &'a BTreeMap<String, PluginSettings>,
    /// Settings as the operator wrote them (no learnt weights).
    written: &'a BTreeMap<String, PluginSettings>,
}

impl Weighing<'_> {
    fn weigh(&self, plugin: &str, symbol: &str, default_weight: f64) -> Option<(f64, bool)> {
        let effective = self.effective.get(plugin)?;
        let pinned = self
            .written
            .get(plugin)
            .is_some_and(|s| s.symbols.contains_key(symbol));
        let weight = match effective.symbols.get(symbol) {
            Some(weight) => *weight,
            None if symbol == PLUGIN_FAILED || symbol == PLUGIN_SKIPPED => 0.0,
            None => effective.weight.unwrap_or(default_weight),
        };
        // Failures and skips are not evidence about the message: never learnt.
        let fixed = pinned || symbol == PLUGIN_FAILED || symbol == PLUGIN_SKIPPED;
        Some((weight, fixed))
    }
}

impl FeatureSet {
    /// The rows of `decisions` (each with its truth) under `config`: plugins it does not
    /// run are left out. Decisions without a truth are skipped.
    pub fn build<'a>(
        config: &Config,
        decisions: impl IntoIterator<Item = (&'a DecisionRecord, Option<Truth>)>,
    ) -> Self {
        let (effective, _) = crate::filter::loader::planned_settings(config);
        let mut bare = config.clone();
        bare.learnt_weights = crate::config::LearntWeights::default();
        let (written, _) = crate::filter::loader::planned_settings(&bare);
        let weighing = Weighing {
            effective: &effective,
            written: &written,
        };
        let mut set = FeatureSet::default();
        let mut column_of: BTreeMap<SymbolKey, usize> = BTreeMap::new();
        for (record, truth) in decisions {
            let Some(truth) = truth else { continue };
            let mut row: Vec<(usize, f64)> = Vec::new();
            let mut offset = 0.0;
            for result in &record.results {
                let symbols: Vec<(&str, f64)> = match &result.outcome {
                    LoggedOutcome::Answered { symbols, .. } => {
                        symbols.iter().map(|(n, s)| (n.as_str(), *s)).collect()
                    }
                    LoggedOutcome::Failed { .. } => vec![(PLUGIN_FAILED, 1.0)],
                    LoggedOutcome::Skipped { .. } => vec![(PLUGIN_SKIPPED, 1.0)],
                };
                for (symbol, score) in symbols {
                    let Some((weight, fixed)) =
                        weighing.weigh(&result.plugin, symbol, result.default_weight)
                    else {
                        continue;
                    };
                    if fixed {
                        offset += weight * score;
                        continue;
                    }
                    let key = SymbolKey {
                        plugin: result.plugin.clone(),
                        symbol: symbol.to_owned(),
                    };
                    let column = *column_of.entry(key.clone()).or_insert_with(|| {
                        set.columns.push(key);
                        set.prior.push(weight);
                        set.columns.len() - 1
                    });
                    match row.iter_mut().find(|(c, _)| *c == column) {
                        Some((_, total)) => *total += score,
                        None => row.push((column, score)),
                    }
                }
            }
            // The fit reads every score against the inbound tag: a message decided with
            // other thresholds (outbound) is shifted so its own tag lines up.
            let own_tag = match record.direction {
                crate::filter::pipeline::Direction::Inbound => config.thresholds.tag,
                crate::filter::pipeline::Direction::Outbound => config.submission.thresholds.tag,
            };
            set.rows.push(row);
            set.offsets.push(offset + config.thresholds.tag - own_tag);
            set.spam.push(truth == Truth::Spam);
        }
        set
    }

    /// How many messages.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
