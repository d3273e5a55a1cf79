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

/// `decisions` cut into `folds` parts by message digest (copies of one message stay in
/// one part, so none is judged under weights fitted on its twin); each part's rates
/// under weights learnt on the others, summed: what the fit does on mail it was not
/// fitted on, the figure to choose fit options by.
pub fn cross_validated(
    config: &Config,
    decisions: &[LoggedDecision],
    folds: u8,
    options: FitOptions,
) -> TruthRates {
    let folds = u64::from(folds.max(2));
    let mut total = TruthRates::default();
    for fold in 0..folds {
        let (held, rest): (Vec<LoggedDecision>, Vec<LoggedDecision>) = decisions
            .iter()
            .cloned()
            .partition(|decision| digest_bucket(decision) % folds == fold);
        let mut tuned = config.clone();
        tuned.learnt_weights = learn_weights(config, &rest, options).weights;
        total.add(&rates_under(&tuned, &held));
    }
    total
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
    digest_bucket(decision) % 100 < u64::from(percent)
}

/// A number drawn from the message's digest: the same for every copy of the message.
fn digest_bucket(decision: &LoggedDecision) -> u64 {
    let digest = &decision.record.digest;
    u64::from_str_radix(digest.get(..8).unwrap_or("0"), 16).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::{DecisionRecord, Truth};

    /// A decision whose only plugin, `headers`, answered `symbols`, combined under the
    /// default configuration.
    fn decided(config: &Config, truth: Truth, symbols: &[(&str, f64)]) -> LoggedDecision {
        let digest = format!(
            "{:08x}",
            DIGESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        decided_as(config, &digest, truth, symbols)
    }

    /// Distinct digests for distinct messages.
    static DIGESTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    /// [`decided`] for the message with `digest`.
    fn decided_as(
        config: &Config,
        digest: &str,
        truth: Truth,
        symbols: &[(&str, f64)],
    ) -> LoggedDecision {
        let score: f64 = symbols.iter().map(|(_, s)| s).sum();
        let action = if score >= config.thresholds.tag {
            "tag"
        } else {
            "accept"
        };
        let record: DecisionRecord = serde_json::from_value(serde_json::json!({
            "time": 1, "digest": digest, "direction": "inbound", "stage": "data",
            "client": {"ip": "192.0.2.1"}, "mail_from": "", "rcpt_to": [],
            "action": action, "score": score,
            "results": [{"plugin": "headers", "stage": "data", "default_weight": 1.0,
                         "answered": {"symbols": symbols}}],
        }))
        .unwrap();
        LoggedDecision {
            record,
            truth: Some(truth),
        }
    }

    /// One spam with SPAMMY, which marks spam but scores too little to tag until weighted
    /// up, and NOISE; one ham with NOISE alone.
    fn push_spammy_and_noisy(config: &Config, decisions: &mut Vec<LoggedDecision>) {
        decisions.push(decided(
            config,
            Truth::Spam,
            &[("SPAMMY", 3.0), ("NOISE", 1.0)],
        ));
        decisions.push(decided(config, Truth::Ham, &[("NOISE", 1.0)]));
    }

    #[test]
    fn cross_validation_judges_every_message_once_under_weights_fitted_without_it() {
        let config = Config::default();
        let mut decisions = Vec::new();
        for i in 0..40 {
            push_spammy_and_noisy(&config, &mut decisions);
            if i % 4 == 0 {
                decisions.push(decided(&config, Truth::Ham, &[]));
            }
        }
        let before = rates_under(&config, &decisions);
        assert_eq!((before.spam, before.spam_caught), (40, 0));
        let held_out = cross_validated(&config, &decisions, 5, FitOptions::default());
        assert_eq!((held_out.spam, held_out.ham), (40, 50), "each message once");
        assert_eq!(held_out.spam_caught, 40, "SPAMMY learnt in every fold");
        assert_eq!(held_out.ham_flagged, 0);
    }

    #[test]
    fn copies_of_one_message_are_never_on_both_sides_of_a_fold() {
        let config = Config::default();
        let mut decisions = Vec::new();
        for i in 0..40 {
            push_spammy_and_noisy(&config, &mut decisions);
            // Ten spam sent twice each, with a symbol no other message has: a fit that
            // saw one copy would learn it and catch the other.
            if i < 10 {
                let digest = format!("{:08x}", 0xf000_0000_u32 + i);
                let own = format!("ONLY_{i}");
                for _ in 0..2 {
                    decisions.push(decided_as(&config, &digest, Truth::Spam, &[(&own, 3.0)]));
                }
            }
        }
        let held_out = cross_validated(&config, &decisions, 5, FitOptions::default());
        assert_eq!((held_out.spam, held_out.ham), (60, 40), "each message once");
        assert_eq!(
            held_out.spam_caught, 40,
            "only the SPAMMY spam: no copy is judged under a fit that saw its twin"
        );
    }
}
