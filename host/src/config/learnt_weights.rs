//! The learnt weights file (`[filter] weights_file`): symbol weights `moat tune` fitted
//! to the operator's mail, one table per plugin. They apply under the operator's own:
//! a weight set in `[plugin.NAME.symbols]` (or the plugin's settings file) is pinned and
//! wins; a learnt weight wins over the plugin-wide `weight`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::error::Problem;
use super::plugin_terms::{is_valid_plugin_name, is_valid_symbol_name};

/// Learnt weights: plugin → symbol → weight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearntWeights {
    /// The weights, by plugin instance name and symbol.
    pub plugins: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The key the problems of a weights file are reported under.
const KEY: &str = "filter.weights_file";

impl LearntWeights {
    /// Reads the file at `path`; every problem names the key and the file.
    pub fn read(path: &Path) -> Result<Self, Problem> {
        let text = std::fs::read_to_string(path).map_err(|error| Problem {
            key: KEY.into(),
            reason: format!("cannot read {}: {error}", path.display()),
        })?;
        Self::parse(&text).map_err(|reason| Problem {
            key: KEY.into(),
            reason: format!("{}: {reason}", path.display()),
        })
    }

    /// Parses the TOML text of a weights file: `[PLUGIN]` tables of `SYMBOL = weight`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let plugins: BTreeMap<String, BTreeMap<String, f64>> =
            toml::from_str(text).map_err(|error| error.to_string())?;
        for (plugin, symbols) in &plugins {
            if !is_valid_plugin_name(plugin) {
                return Err(format!("[{plugin}] is not a plugin name"));
            }
            for (symbol, weight) in symbols {
                if !is_valid_symbol_name(symbol) {
                    return Err(format!("[{plugin}] {symbol} is not a symbol name"));
                }
                if !weight.is_finite() {
                    return Err(format!("[{plugin}] {symbol} = {weight} is not a number"));
                }
            }
        }
        Ok(Self { plugins })
    }

    /// The weight learnt for `symbol` of `plugin`, if any.
    pub fn weight(&self, plugin: &str, symbol: &str) -> Option<f64> {
        self.plugins.get(plugin)?.get(symbol).copied()
    }

    /// The file's text, headed by `comment` lines (`# ` is added to each).
    pub fn to_toml(&self, comment: &str) -> String {
        let mut out = String::new();
        for line in comment.lines() {
            let _ = writeln!(out, "# {line}");
        }
        for (plugin, symbols) in &self.plugins {
            let _ = writeln!(out, "\n[{plugin}]");
            for (symbol, weight) in symbols {
                let _ = writeln!(out, "{symbol} = {weight:.4}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_file_reads_back_the_same_weights() {
        let mut weights = LearntWeights::default();
        weights
            .plugins
            .entry("bayes".into())
            .or_default()
            .insert("BAYES_SPAM".into(), 1.25);
        weights
            .plugins
            .entry("headers".into())
            .or_default()
            .insert("MISSING_DATE".into(), -0.5);
        let text = weights.to_toml("learnt by moat tune\non 3007 messages");
        assert!(text.starts_with("# learnt by moat tune\n# on 3007 messages\n"));
        assert_eq!(LearntWeights::parse(&text).unwrap(), weights);
        assert_eq!(weights.weight("bayes", "BAYES_SPAM"), Some(1.25));
        assert_eq!(weights.weight("bayes", "BAYES_HAM"), None);
    }

    #[test]
    fn bad_names_and_values_are_refused_with_where() {
        let bad_plugin = LearntWeights::parse("[\"Bad Name\"]\nX = 1.0\n").unwrap_err();
        assert!(bad_plugin.contains("not a plugin name"), "{bad_plugin}");
        let bad_symbol = LearntWeights::parse("[bayes]\nlower = 1.0\n").unwrap_err();
        assert!(bad_symbol.contains("not a symbol name"), "{bad_symbol}");
        let nan = LearntWeights::parse("[bayes]\nX = nan\n").unwrap_err();
        assert!(nan.contains("not a number"), "{nan}");
        assert!(LearntWeights::parse("[bayes]\nX = \"1\"\n").is_err());
    }
}
