//! The plugin's settings, from its config table. Every key is optional; the README lists
//! them with their defaults.

use serde::Deserialize;

use crate::phrases::DEFAULT_PHRASES;
use crate::text::Phrase;

/// The most images a message may have read, whatever the operator sets: each one costs
/// an engine run of up to the host's OCR time limit.
const MAX_IMAGES_LIMIT: u32 = 64;

/// The settings. Unknown keys make the whole table invalid (the plugin then logs an error
/// and runs on the defaults); a known key with an unusable value is replaced by its default.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// At most this many images per message are sent to the engine (1 to 64).
    pub(crate) max_images: u32,
    /// Images larger than this many bytes are not sent to the engine.
    pub(crate) max_image_bytes: u64,
    /// Images whose header declares more pixels than this are not sent to the engine.
    pub(crate) max_pixels: u64,
    /// No new image is fetched or read once this many milliseconds of the call are spent.
    /// Keep it below the plugin's `time_budget`.
    pub(crate) time_budget_ms: u64,
    /// Whether `data:image/...;base64,` URIs in the message are read too.
    pub(crate) scan_data_uris: bool,
    /// Messages larger than this many bytes are not searched for data: URIs.
    pub(crate) max_scan_bytes: u64,
    /// The spam phrases; `None` means the default list.
    pub(crate) phrases: Option<Vec<String>>,
    /// Phrases looked for in addition to `phrases` (or the default list).
    pub(crate) extra_phrases: Vec<String>,
    /// The score of `OCR_SPAM_PHRASE` per distinct phrase found.
    pub(crate) phrase_score: f64,
    /// The largest score of `OCR_SPAM_PHRASE`.
    pub(crate) max_phrase_score: f64,
    /// The score of `OCR_IMAGE_ONLY`.
    pub(crate) image_only_score: f64,
    /// `OCR_IMAGE_ONLY` needs at least this many words in the images' text.
    pub(crate) image_only_min_image_words: u32,
    /// `OCR_IMAGE_ONLY` needs at most this many words in the body text.
    pub(crate) image_only_max_body_words: u32,
    /// The score of `OCR_IMAGE_DOMINANT`.
    pub(crate) dominant_score: f64,
    /// `OCR_IMAGE_DOMINANT` needs at least this many words in the images' text.
    pub(crate) dominant_min_image_words: u32,
    /// `OCR_IMAGE_DOMINANT` needs at most this many words in the body text.
    pub(crate) dominant_max_body_words: u32,
    /// `OCR_IMAGE_DOMINANT` needs the images to hold at least this share (0 to 1) of the
    /// message's words (images and body together).
    pub(crate) dominant_min_share: f64,
    /// The score of `OCR_TEXT_MISMATCH`.
    pub(crate) mismatch_score: f64,
    /// `OCR_TEXT_MISMATCH` needs at least this many distinct content words in the images.
    pub(crate) mismatch_min_image_words: u32,
    /// `OCR_TEXT_MISMATCH` needs at least this many distinct content words in the body.
    pub(crate) mismatch_min_body_words: u32,
    /// `OCR_TEXT_MISMATCH` fires when at most this share (0 to 1) of the images' content
    /// words also occur in the body.
    pub(crate) mismatch_max_overlap: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_images: 8,
            max_image_bytes: 5 * 1024 * 1024,
            max_pixels: 25_000_000,
            time_budget_ms: 8_000,
            scan_data_uris: true,
            max_scan_bytes: 4 * 1024 * 1024,
            phrases: None,
            extra_phrases: Vec::new(),
            phrase_score: 3.0,
            max_phrase_score: 9.0,
            image_only_score: 2.0,
            image_only_min_image_words: 5,
            image_only_max_body_words: 15,
            dominant_score: 1.5,
            dominant_min_image_words: 12,
            dominant_max_body_words: 80,
            dominant_min_share: 0.5,
            mismatch_score: 1.5,
            mismatch_min_image_words: 12,
            mismatch_min_body_words: 12,
            mismatch_max_overlap: 0.2,
        }
    }
}

impl Config {
    /// The phrases to look for: `phrases` (or the default list) and `extra_phrases`,
    /// without duplicates and without entries that have no words.
    pub(crate) fn phrase_list(&self) -> Vec<Phrase> {
        let base: Vec<&str> = match &self.phrases {
            Some(phrases) => phrases.iter().map(String::as_str).collect(),
            None => DEFAULT_PHRASES.to_vec(),
        };
        let mut list: Vec<Phrase> = Vec::new();
        for phrase in base
            .into_iter()
            .chain(self.extra_phrases.iter().map(String::as_str))
            .filter_map(Phrase::new)
        {
            if !list.contains(&phrase) {
                list.push(phrase);
            }
        }
        list
    }

    /// The config with every unusable value replaced by its default, and what was
    /// replaced or dropped. Unusable: a zero or over-64 `max_images`; a zero byte, pixel
    /// or time limit; a negative or non-finite score; a word minimum of zero; an overlap
    /// outside 0 to 1. Phrases without words are dropped.
    pub(crate) fn validated(mut self) -> (Self, Vec<String>) {
        let defaults = Self::default();
        let mut problems = Vec::new();
        self.replace_unusable_limits(&defaults, &mut problems);
        self.replace_unusable_scores(&defaults, &mut problems);
        self.replace_unusable_thresholds(&defaults, &mut problems);
        self.drop_wordless_phrases(&mut problems);
        (self, problems)
    }

    /// Replaces a `max_images` outside 1 to 64 and a zero byte, pixel or time limit.
    fn replace_unusable_limits(&mut self, defaults: &Self, problems: &mut Vec<String>) {
        if !(1..=MAX_IMAGES_LIMIT).contains(&self.max_images) {
            problems.push(unusable(
                "max_images",
                self.max_images.to_string(),
                defaults.max_images.to_string(),
            ));
            self.max_images = defaults.max_images;
        }
        for (name, value, default) in [
            (
                "max_image_bytes",
                &mut self.max_image_bytes,
                defaults.max_image_bytes,
            ),
            ("max_pixels", &mut self.max_pixels, defaults.max_pixels),
            (
                "time_budget_ms",
                &mut self.time_budget_ms,
                defaults.time_budget_ms,
            ),
        ] {
            if *value == 0 {
                problems.push(unusable(name, "0".to_owned(), default.to_string()));
                *value = default;
            }
        }
    }

    /// Replaces a negative or non-finite score.
    fn replace_unusable_scores(&mut self, defaults: &Self, problems: &mut Vec<String>) {
        for (name, value, default) in [
            (
                "phrase_score",
                &mut self.phrase_score,
                defaults.phrase_score,
            ),
            (
                "max_phrase_score",
                &mut self.max_phrase_score,
                defaults.max_phrase_score,
            ),
            (
                "image_only_score",
                &mut self.image_only_score,
                defaults.image_only_score,
            ),
            (
                "dominant_score",
                &mut self.dominant_score,
                defaults.dominant_score,
            ),
            (
                "mismatch_score",
                &mut self.mismatch_score,
                defaults.mismatch_score,
            ),
        ] {
            if !(value.is_finite() && *value >= 0.0) {
                problems.push(unusable(name, value.to_string(), default.to_string()));
                *value = default;
            }
        }
    }

    /// Replaces the thresholds of `OCR_IMAGE_ONLY`, `OCR_IMAGE_DOMINANT` and
    /// `OCR_TEXT_MISMATCH` that cannot work: a word minimum of zero, a share outside 0
    /// to 1.
    fn replace_unusable_thresholds(&mut self, defaults: &Self, problems: &mut Vec<String>) {
        for (name, value, default) in [
            (
                "image_only_min_image_words",
                &mut self.image_only_min_image_words,
                defaults.image_only_min_image_words,
            ),
            (
                "dominant_min_image_words",
                &mut self.dominant_min_image_words,
                defaults.dominant_min_image_words,
            ),
            (
                "mismatch_min_image_words",
                &mut self.mismatch_min_image_words,
                defaults.mismatch_min_image_words,
            ),
            (
                "mismatch_min_body_words",
                &mut self.mismatch_min_body_words,
                defaults.mismatch_min_body_words,
            ),
        ] {
            if *value == 0 {
                problems.push(unusable(name, "0".to_owned(), default.to_string()));
                *value = default;
            }
        }
        for (name, value, default) in [
            (
                "mismatch_max_overlap",
                &mut self.mismatch_max_overlap,
                defaults.mismatch_max_overlap,
            ),
            (
                "dominant_min_share",
                &mut self.dominant_min_share,
                defaults.dominant_min_share,
            ),
        ] {
            if !(0.0..=1.0).contains(value) {
                problems.push(unusable(name, value.to_string(), default.to_string()));
                *value = default;
            }
        }
    }

    /// Drops the entries of `phrases` and `extra_phrases` that have no words.
    fn drop_wordless_phrases(&mut self, problems: &mut Vec<String>) {
        for (name, list) in [
            ("phrases", self.phrases.as_mut()),
            ("extra_phrases", Some(&mut self.extra_phrases)),
        ] {
            let Some(list) = list else { continue };
            list.retain(|phrase| {
                let usable = Phrase::new(phrase).is_some();
                if !usable {
                    problems.push(format!(
                        "config key `{name}`: {phrase:?} has no words; ignoring it"
                    ));
                }
                usable
            });
        }
    }
}

/// The problem of key `name` holding `shown`, replaced by `default`.
fn unusable(name: &str, shown: String, default: String) -> String {
    format!("config key `{name}` = {shown} is not usable; using {default}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn empty_table_gives_defaults() {
        let config = parse("{}").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.max_images, 8);
        assert_eq!(config.max_image_bytes, 5_242_880);
        assert!(config.scan_data_uris);
        assert_eq!(config.phrase_list().len(), DEFAULT_PHRASES.len());
    }

    #[test]
    fn keys_override_defaults() {
        let config = parse(
            r#"{"max_images": 2, "phrase_score": 1.5, "scan_data_uris": false,
                "mismatch_max_overlap": 0.5}"#,
        )
        .unwrap();
        assert_eq!(config.max_images, 2);
        assert_eq!(config.phrase_score, 1.5);
        assert!(!config.scan_data_uris);
        assert_eq!(config.mismatch_max_overlap, 0.5);
        assert_eq!(config.max_pixels, 25_000_000);
    }

    #[test]
    fn unknown_keys_and_bad_types_are_errors() {
        assert!(parse(r#"{"max_image": 2}"#).is_err());
        assert!(parse(r#"{"max_images": "many"}"#).is_err());
        assert!(parse(r#"{"phrases": "viagra"}"#).is_err());
    }

    #[test]
    fn phrases_replace_or_extend_the_defaults() {
        let replaced = parse(r#"{"phrases": ["Free Money", "free  money", "act now"]}"#)
            .unwrap()
            .phrase_list();
        let texts: Vec<&str> = replaced.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, ["Free Money", "act now"], "duplicates are dropped");

        let extended = parse(r#"{"extra_phrases": ["crypto doubler", "casino"]}"#)
            .unwrap()
            .phrase_list();
        assert_eq!(extended.len(), DEFAULT_PHRASES.len() + 1);
        assert!(extended.iter().any(|p| p.text == "crypto doubler"));

        let none = parse(r#"{"phrases": []}"#).unwrap().phrase_list();
        assert!(none.is_empty(), "an empty list turns phrase matching off");
    }

    #[test]
    fn unusable_values_fall_back_to_defaults() {
        let (config, problems) = Config {
            max_images: 0,
            max_image_bytes: 0,
            max_pixels: 0,
            time_budget_ms: 0,
            phrase_score: -1.0,
            max_phrase_score: f64::NAN,
            image_only_score: f64::INFINITY,
            mismatch_score: 0.0,
            image_only_min_image_words: 0,
            mismatch_min_image_words: 0,
            mismatch_min_body_words: 0,
            mismatch_max_overlap: 1.5,
            dominant_score: -0.5,
            dominant_min_image_words: 0,
            dominant_min_share: -0.1,
            phrases: Some(vec!["ok".to_owned(), " !! ".to_owned()]),
            extra_phrases: vec![String::new()],
            ..Config::default()
        }
        .validated();
        assert_eq!(
            config,
            Config {
                mismatch_score: 0.0,
                phrases: Some(vec!["ok".to_owned()]),
                ..Config::default()
            }
        );
        assert_eq!(problems.len(), 16, "{problems:#?}");
        assert!(problems[0].starts_with("config key `max_images` = 0 is not usable"));

        let (config, problems) = Config {
            max_images: 65,
            ..Config::default()
        }
        .validated();
        assert_eq!(config.max_images, 8);
        assert_eq!(problems.len(), 1);

        let (config, problems) = Config::default().validated();
        assert_eq!(config, Config::default());
        assert!(problems.is_empty());
    }
}
