//! The plugin's settings, from its config table. Every key is optional.

use serde::Deserialize;

use crate::classify::Params;
use crate::images::Limits;
use crate::model::Stats;
use crate::tokens::{OcrTokens, Tokenizer};

/// The settings. Unknown keys make the whole table invalid (the plugin then logs an error
/// and runs on the defaults); a known key with an unusable value is replaced by its default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Nothing is scored until at least this many spam have been learnt.
    pub min_spam: u64,
    /// Nothing is scored until at least this many ham have been learnt.
    pub min_ham: u64,
    /// A spam probability from this on is spam (`BAYES_SPAM`).
    pub spam_cutoff: f64,
    /// A spam probability up to this is ham (`BAYES_HAM`); between the cut-offs, unsure.
    pub ham_cutoff: f64,
    /// The score of `BAYES_SPAM` at probability 1 (half of it at the spam cut-off).
    pub spam_score: f64,
    /// The score of `BAYES_HAM` at probability 0 (half of it at the ham cut-off); negative.
    pub ham_score: f64,
    /// Robinson's `s`: the strength of the prior for rare tokens.
    pub robinson_s: f64,
    /// Robinson's `x`: the probability of a token never seen.
    pub robinson_x: f64,
    /// Tokens with `|f − 0.5|` below this are left out of the combining.
    pub min_deviation: f64,
    /// At most this many of the most significant tokens are combined.
    pub max_clues: usize,
    /// Tokens learnt fewer times than this count as never seen.
    pub min_token_count: u64,
    /// At most this many tokens of one family (header field, URLs, markup) are combined.
    pub max_family_clues: usize,
    /// At most this many distinct tokens per message.
    pub max_tokens: usize,
    /// The sparse-bigram window (1: words only).
    pub osb_window: usize,
    /// How image text (the `ocr-text` annotation) becomes features: `prefixed`, `plain`
    /// or `both`.
    pub ocr_tokens: OcrTokens,
    /// The image text is also classified on its own (`BAYES_OCR_SPAM`, `BAYES_OCR_HAM`)
    /// when it gives at least this many tokens; 0 turns that off.
    pub ocr_min_tokens: usize,
    /// The image text alone is spam (`BAYES_OCR_SPAM`) from this probability on. Lower
    /// than `spam_cutoff`: tens of words give a less extreme probability than a whole
    /// message's hundreds of tokens.
    pub ocr_spam_cutoff: f64,
    /// The image text alone is ham (`BAYES_OCR_HAM`) up to this probability.
    pub ocr_ham_cutoff: f64,
    /// The score of `BAYES_OCR_SPAM` at probability 1 (half of it at `ocr_spam_cutoff`).
    pub ocr_spam_score: f64,
    /// The score of `BAYES_OCR_HAM` at probability 0 (half of it at `ocr_ham_cutoff`);
    /// negative.
    pub ocr_ham_score: f64,
    /// `moat learn` reads the message's images with the OCR engine (needs the `ocr`
    /// capability), so that a model learns what image spam says.
    pub learn_ocr: bool,
    /// When learning, no image is sent to the OCR engine once this many milliseconds have
    /// passed; keep it well below the plugin's `time_budget`.
    pub learn_ocr_budget_ms: u64,
    /// Auto-learn at the outcome stage.
    pub autolearn: bool,
    /// Auto-learn spam when the other plugins' score is at least the reject threshold
    /// plus this.
    pub autolearn_spam_margin: f64,
    /// Auto-learn ham when the other plugins' score is at most the tag threshold minus
    /// this.
    pub autolearn_ham_margin: f64,
    /// Auto-learn from the mail of logged-in users (submission) too. Off: a compromised
    /// account's mail that slips under the thresholds would otherwise teach that its spam
    /// is ham, and outbound mail says little of what arrives at the MX.
    pub autolearn_authenticated: bool,
}

impl Default for Config {
    fn default() -> Self {
        let params = Params::default();
        let tokenizer = Tokenizer::default();
        Self {
            min_spam: 200,
            min_ham: 200,
            spam_cutoff: 0.99,
            ham_cutoff: 0.2,
            spam_score: 6.0,
            ham_score: -3.0,
            robinson_s: params.s,
            robinson_x: params.x,
            min_deviation: params.min_dev,
            max_clues: params.max_clues,
            min_token_count: params.min_count,
            max_family_clues: params.max_family_clues,
            max_tokens: tokenizer.max_tokens,
            osb_window: tokenizer.osb_window,
            ocr_tokens: tokenizer.ocr_tokens,
            ocr_min_tokens: params.min_image_tokens,
            ocr_spam_cutoff: 0.9,
            ocr_ham_cutoff: 0.2,
            ocr_spam_score: 6.0,
            ocr_ham_score: -2.0,
            learn_ocr: true,
            learn_ocr_budget_ms: Limits::default().budget_ms,
            autolearn: false,
            autolearn_spam_margin: 5.0,
            autolearn_ham_margin: 6.0,
            autolearn_authenticated: false,
        }
    }
}

/// Where a spam probability stops being unsure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cutoffs {
    /// Spam from this probability on.
    pub spam: f64,
    /// Ham up to this probability.
    pub ham: f64,
}

impl Config {
    /// The cut-offs for the whole message.
    #[must_use]
    pub fn cutoffs(&self) -> Cutoffs {
        Cutoffs {
            spam: self.spam_cutoff,
            ham: self.ham_cutoff,
        }
    }

    /// The cut-offs for the image text classified alone.
    #[must_use]
    pub fn ocr_cutoffs(&self) -> Cutoffs {
        Cutoffs {
            spam: self.ocr_spam_cutoff,
            ham: self.ocr_ham_cutoff,
        }
    }

    /// The classifier parameters.
    #[must_use]
    pub fn params(&self) -> Params {
        Params {
            s: self.robinson_s,
            x: self.robinson_x,
            min_dev: self.min_deviation,
            max_clues: self.max_clues,
            min_count: self.min_token_count,
            max_family_clues: self.max_family_clues,
            min_image_tokens: self.ocr_min_tokens,
        }
    }

    /// The tokenizer.
    #[must_use]
    pub fn tokenizer(&self) -> Tokenizer {
        Tokenizer {
            max_tokens: self.max_tokens,
            osb_window: self.osb_window,
            ocr_tokens: self.ocr_tokens,
            ..Tokenizer::default()
        }
    }

    /// The limits of reading images when learning.
    #[must_use]
    pub fn learn_ocr_limits(&self) -> Limits {
        Limits {
            budget_ms: self.learn_ocr_budget_ms,
            ..Limits::default()
        }
    }

    /// The training needed before scoring.
    #[must_use]
    pub fn minimum(&self) -> Stats {
        Stats {
            spam: self.min_spam,
            ham: self.min_ham,
        }
    }

    /// The config with every unusable value replaced by its default, and what was
    /// replaced. Unusable: probabilities outside `[0, 1]` (cut-offs need
    /// `ham_cutoff < spam_cutoff`, `ocr_ham_cutoff < ocr_spam_cutoff`), a negative or
    /// non-finite `robinson_s`, margin or `min_deviation`, a negative `spam_score` or
    /// positive `ham_score`, a zero `max_clues`, `max_tokens` or `osb_window`, an
    /// `osb_window` above 5.
    #[must_use]
    pub fn validated(mut self) -> (Self, Vec<String>) {
        let d = Self::default();
        let mut problems = Vec::new();
        let mut check = |name: &str, value: &mut f64, default: f64, ok: bool| {
            if !ok || !value.is_finite() {
                problems.push(format!(
                    "config key `{name}` = {value} is not usable; using {default}"
                ));
                *value = default;
            }
        };
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        for (names, (spam, ham), defaults) in [
            (
                ["spam_cutoff", "ham_cutoff"],
                (&mut self.spam_cutoff, &mut self.ham_cutoff),
                d.cutoffs(),
            ),
            (
                ["ocr_spam_cutoff", "ocr_ham_cutoff"],
                (&mut self.ocr_spam_cutoff, &mut self.ocr_ham_cutoff),
                d.ocr_cutoffs(),
            ),
        ] {
            let ordered = *ham < *spam;
            let (spam_ok, ham_ok) = (unit(*spam) && ordered, unit(*ham) && ordered);
            check(names[0], spam, defaults.spam, spam_ok);
            check(names[1], ham, defaults.ham, ham_ok);
        }
        let v = self.spam_score;
        check("spam_score", &mut self.spam_score, d.spam_score, v >= 0.0);
        let v = self.ham_score;
        check("ham_score", &mut self.ham_score, d.ham_score, v <= 0.0);
        let v = self.ocr_spam_score;
        check(
            "ocr_spam_score",
            &mut self.ocr_spam_score,
            d.ocr_spam_score,
            v >= 0.0,
        );
        let v = self.ocr_ham_score;
        check(
            "ocr_ham_score",
            &mut self.ocr_ham_score,
            d.ocr_ham_score,
            v <= 0.0,
        );
        let v = self.robinson_s;
        check("robinson_s", &mut self.robinson_s, d.robinson_s, v >= 0.0);
        let v = self.robinson_x;
        check("robinson_x", &mut self.robinson_x, d.robinson_x, unit(v));
        let v = self.min_deviation;
        check(
            "min_deviation",
            &mut self.min_deviation,
            d.min_deviation,
            (0.0..0.5).contains(&v),
        );
        let v = self.autolearn_spam_margin;
        check(
            "autolearn_spam_margin",
            &mut self.autolearn_spam_margin,
            d.autolearn_spam_margin,
            v >= 0.0,
        );
        let v = self.autolearn_ham_margin;
        check(
            "autolearn_ham_margin",
            &mut self.autolearn_ham_margin,
            d.autolearn_ham_margin,
            v >= 0.0,
        );
        let osb_ok = self.osb_window <= 5;
        for (name, value, default, ok) in [
            ("max_clues", &mut self.max_clues, d.max_clues, true),
            ("max_tokens", &mut self.max_tokens, d.max_tokens, true),
            ("osb_window", &mut self.osb_window, d.osb_window, osb_ok),
        ] {
            if *value == 0 || !ok {
                problems.push(format!(
                    "config key `{name}` = {value} is not usable; using {default}"
                ));
                *value = default;
            }
        }
        (self, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_defaults() {
        let config: Config = serde_json::from_str("{}").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.clone().validated(), (config, vec![]));
    }

    #[test]
    fn image_settings_are_read_and_checked() {
        let config: Config = serde_json::from_str(
            r#"{"ocr_tokens": "prefixed", "learn_ocr": false, "learn_ocr_budget_ms": 9000,
                "ocr_min_tokens": 0, "ocr_spam_score": -1, "ocr_ham_score": 1,
                "ocr_spam_cutoff": 0.3, "ocr_ham_cutoff": 0.4}"#,
        )
        .unwrap();
        assert_eq!(config.tokenizer().ocr_tokens, OcrTokens::Prefixed);
        assert!(!config.learn_ocr);
        assert_eq!(config.learn_ocr_limits().budget_ms, 9000);
        assert_eq!(config.params().min_image_tokens, 0);
        let (config, problems) = config.validated();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert_eq!(config.ocr_spam_score, 6.0);
        assert_eq!(config.ocr_ham_score, -2.0);
        // Crossed cut-offs: both fall back, each named.
        assert_eq!(config.ocr_cutoffs(), Config::default().ocr_cutoffs());
        assert!(problems[0].starts_with("config key `ocr_spam_cutoff` = 0.3"));
        assert!(problems[1].starts_with("config key `ocr_ham_cutoff` = 0.4"));
        assert!(serde_json::from_str::<Config>(r#"{"ocr_tokens": "mixed"}"#).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<Config>(r#"{"spam_cutof": 0.9}"#).is_err());
    }

    #[test]
    fn unusable_values_fall_back() {
        let config: Config =
            serde_json::from_str(r#"{"spam_cutoff": 0.1, "ham_cutoff": 0.5, "max_clues": 0, "osb_window": 9, "ham_score": 2}"#)
                .unwrap();
        let (config, problems) = config.validated();
        assert_eq!(config, Config::default());
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(problems[0].starts_with("config key `spam_cutoff` = 0.1 is not usable"));
    }
}
