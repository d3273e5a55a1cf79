//! Matching subject phrases: the plugin's logic, free of host calls so it is unit-tested
//! natively.

use std::collections::BTreeMap;

/// The phrases used when the operator configures none, with their scores.
const DEFAULT_PHRASES: &[(&str, f64)] = &[
    ("free money", 3.0),
    ("act now", 2.0),
    ("limited time offer", 1.5),
    ("you have won", 3.0),
];

/// The phrases to look for: the configured table, or the defaults when it is empty.
pub(crate) fn phrases_or_default(configured: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    if configured.is_empty() {
        DEFAULT_PHRASES
            .iter()
            .map(|&(phrase, score)| (phrase.to_owned(), score))
            .collect()
    } else {
        configured
    }
}

/// The phrases that occur in `subject`, ignoring case, with their scores.
pub(crate) fn matching_phrases<'p>(
    subject: &str,
    phrases: &'p BTreeMap<String, f64>,
) -> Vec<(&'p str, f64)> {
    let subject = subject.to_lowercase();
    phrases
        .iter()
        .filter(|(phrase, _)| !phrase.is_empty() && subject.contains(&phrase.to_lowercase()))
        .map(|(phrase, &score)| (phrase.as_str(), score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, f64)]) -> BTreeMap<String, f64> {
        entries.iter().map(|&(p, s)| (p.to_owned(), s)).collect()
    }

    #[test]
    fn empty_config_uses_the_defaults() {
        let phrases = phrases_or_default(BTreeMap::new());
        assert_eq!(phrases.get("free money"), Some(&3.0));
    }

    #[test]
    fn configured_phrases_replace_the_defaults() {
        let phrases = phrases_or_default(table(&[("cheap pills", 4.0)]));
        assert_eq!(phrases.len(), 1);
        assert!(!phrases.contains_key("free money"));
    }

    #[test]
    fn matches_ignoring_case() {
        let phrases = table(&[("free money", 3.0), ("Act Now", 2.0)]);
        assert_eq!(
            matching_phrases("FREE MONEY inside - act now!", &phrases),
            [("Act Now", 2.0), ("free money", 3.0)]
        );
    }

    #[test]
    fn no_match_no_findings() {
        let phrases = table(&[("free money", 3.0), ("", 1.0)]);
        assert!(matching_phrases("Minutes of Tuesday's meeting", &phrases).is_empty());
    }
}
