//! From labelled decisions to a learnt weights file: the fit, and how each weight moved.

use super::features::{FeatureSet, SymbolKey};
use super::fit::{FitOptions, fit};
use crate::config::{Config, LearntWeights};
use crate::decisions::{LoggedDecision, ReplayWeights, TruthRates};

/// A symbol whose weight the fit changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Moved {
    /// The plugin instance.
    pub plugin: String,
    /// The symbol.
    pub symbol: String,
    /// Its weight in force.
    pub before: f64,
    /// Its learnt weight.
    pub after: f64,
}

/// What a fit learnt.
#[derive(Debug, Clone)]
pub struct Learnt {
    /// The weights file: the configuration's learnt weights with the fitted ones over them.
    pub weights: LearntWeights,
    /// Every fitted symbol, the largest change first.
    pub moved: Vec<Moved>,
    /// Messages fitted on (spam, ham).
    pub fitted_on: (usize, usize),
}

/// Fits the weights of the symbols in `decisions` (those with a truth) under `config`.
pub fn learn_weights(config: &Config, decisions: &[LoggedDecision], options: FitOptions) -> Learnt {
    let set = FeatureSet::build(config, decisions.iter().map(|d| (&d.record, d.truth)));
    let fitted = fit(&set, options);
    let mut weights = config.learnt_weights.clone();
    let mut moved = Vec::new();
    for ((SymbolKey { plugin, symbol }, before), after) in
        set.columns.iter().zip(&set.prior).zip(&fitted)
    {
        let after = (after * 1e4).round() / 1e4;
        weights
            .plugins
            .entry(plugin.clone())
            .or_default()
            .insert(symbol.clone(), after);
        moved.push(Moved {
            plugin: plugin.clone(),
            symbol: symbol.clone(),
            before: *before,
            after,
        });
    }
    moved.sort_by(|a, b| {
        (b.after - b.before)
            .abs()
            .total_cmp(&(a.after - a.before).abs())
    });
    let spam = set.spam.iter().filter(|s| **s).count();
    Learnt {
        weights,
        moved,
        fitted_on: (spam, set.len() - spam),
    }
}

/// Caught and flagged on `decisions` under `config`.
pub fn rates_under(config: &Config, decisions: &[LoggedDecision]) -> TruthRates {
    let (weights, _) = ReplayWeights::from_config(config);
    let mut rates = TruthRates::default();
    for decision in decisions {
        if let Some(truth) = decision.truth {
            rates.count(truth, weights.decide(&decision.record).action);
        }
    }
    rates
}

/// Whether a decision belongs to the held-out fold: `percent` of the messages, chosen by
/// their body digest (the same message is always on the same side).
pub fn held_out(decision: &LoggedDecision, percent: u8) -> bool {
    let digest = &decision.record.digest;
    let bucket = u64::from_str_radix(digest.get(..8).unwrap_or("0"), 16).unwrap_or(0) % 100;
    bucket < u64::from(percent)
}
