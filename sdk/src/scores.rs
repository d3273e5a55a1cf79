//! The scores of a plugin's symbols, each with a default the operator may override in
//! the plugin's config table `scores` (`[plugin.NAME.config.scores] SYMBOL = 1.5`), as the
//! bundled plugins do. A bad table or a name the plugin does not know is logged, never a
//! failed message.
//!
//! ```no_run
//! use moat_sdk::scores::Scores;
//!
//! const DEFAULTS: &[(&str, f64)] = &[("MONEY_SUBJECT", 3.0), ("MONEY_BODY", 1.0)];
//!
//! let scores = Scores::configured(DEFAULTS);
//! let score = scores.score("MONEY_SUBJECT");
//! ```

use std::collections::BTreeMap;

use crate::{config, log};

/// The score of each symbol: its default, unless the operator overrides it.
#[derive(Debug, Clone)]
pub struct Scores {
    defaults: &'static [(&'static str, f64)],
    overrides: BTreeMap<String, f64>,
}

impl Scores {
    /// The `defaults` (symbol name → score) with the overrides of the config table
    /// `scores`. A table that does not read as names and numbers is logged and ignored,
    /// and so is each name not among `defaults` (a typo, most likely).
    #[must_use]
    pub fn configured(defaults: &'static [(&'static str, f64)]) -> Self {
        let overrides: BTreeMap<String, f64> = match config::get("scores") {
            Ok(overrides) => overrides.unwrap_or_default(),
            Err(error) => {
                log::warn(&format!("ignoring the configured scores: {error}"));
                BTreeMap::new()
            }
        };
        let scores = Self::with_overrides(defaults, overrides);
        for unknown in scores.unknown_symbols() {
            log::warn(&format!(
                "config `scores` names an unknown symbol: {unknown}"
            ));
        }
        scores
    }

    /// The `defaults` with these overrides (symbol name → score); names not among the
    /// defaults are kept but never used (see [`Scores::unknown_symbols`]). For tests, and
    /// for plugins that read their overrides elsewhere.
    #[must_use]
    pub fn with_overrides(
        defaults: &'static [(&'static str, f64)],
        overrides: BTreeMap<String, f64>,
    ) -> Self {
        Self {
            defaults,
            overrides,
        }
    }

    /// The score of `symbol`: the override, else the default, else 0.
    #[must_use]
    pub fn score(&self, symbol: &str) -> f64 {
        self.overrides
            .get(symbol)
            .copied()
            .or_else(|| self.default_score(symbol))
            .unwrap_or(0.0)
    }

    /// Overridden names that are not among the defaults.
    #[must_use]
    pub fn unknown_symbols(&self) -> Vec<&str> {
        self.overrides
            .keys()
            .map(String::as_str)
            .filter(|name| self.default_score(name).is_none())
            .collect()
    }

    fn default_score(&self, symbol: &str) -> Option<f64> {
        self.defaults
            .iter()
            .find(|(name, _)| *name == symbol)
            .map(|&(_, score)| score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULTS: &[(&str, f64)] = &[("A_SYMBOL", 2.0), ("B_SYMBOL", -1.0)];

    #[test]
    fn overrides_replace_defaults_and_unknown_names_are_reported() {
        let scores = Scores::with_overrides(
            DEFAULTS,
            BTreeMap::from([("A_SYMBOL".to_owned(), 0.5), ("TYPO".to_owned(), 9.0)]),
        );
        assert_eq!(scores.score("A_SYMBOL"), 0.5);
        assert_eq!(scores.score("B_SYMBOL"), -1.0);
        assert_eq!(scores.score("TYPO"), 9.0);
        assert_eq!(scores.score("NOT_LISTED"), 0.0);
        assert_eq!(scores.unknown_symbols(), ["TYPO"]);
    }
}
