//! Marks bulk mailers put on their mail: an urgent priority on a message nobody is waiting
//! for, the `ADV:` subject label some US state laws asked advertisers to use, and a sales
//! pitch in the subject.

use crate::body::contains_phrase;
use crate::rules::{Facts, Finding, excerpt};
use crate::symbols::{SUBJECT_ADV, SUBJECT_SALES_PITCH, X_PRIORITY_HIGH};

/// X_PRIORITY_HIGH: `X-Priority` 1 (highest) or `X-MSMail-Priority: High`.
pub(crate) fn priority_high(facts: &Facts) -> Option<Finding> {
    let x_priority = facts
        .values("X-Priority")
        .find(|value| value.trim_start().starts_with('1'));
    let ms_priority = facts
        .values("X-MSMail-Priority")
        .find(|value| value.trim().eq_ignore_ascii_case("high"));
    let (name, value) = match (x_priority, ms_priority) {
        (Some(value), _) => ("X-Priority", value),
        (None, Some(value)) => ("X-MSMail-Priority", value),
        (None, None) => return None,
    };
    Some(Finding::new(
        X_PRIORITY_HIGH,
        format!("{name}: {}", excerpt(value.trim())),
    ))
}

/// SUBJECT_ADV: the `Subject` starts with the label `ADV:` (or `ADV -`).
pub(crate) fn subject_adv(facts: &Facts) -> Option<Finding> {
    let subject = facts.first("Subject")?;
    let rest = subject.trim_start();
    let label = rest.get(..3)?.eq_ignore_ascii_case("adv");
    let after = rest[3..].trim_start();
    (label && (after.starts_with(':') || after.starts_with('-')))
        .then(|| Finding::new(SUBJECT_ADV, format!("Subject {}", excerpt(subject))))
}

/// SUBJECT_SALES_PITCH: the `Subject` has a dollar amount (`$` and a digit), two
/// exclamation marks in a row, or the word `FREE` in capitals.
pub(crate) fn subject_sales_pitch(facts: &Facts) -> Option<Finding> {
    let subject = facts.first("Subject")?;
    let dollars = subject.match_indices('$').any(|(at, _)| {
        subject[at + 1..]
            .trim_start()
            .starts_with(|ch: char| ch.is_ascii_digit())
    });
    let pitch = dollars || subject.contains("!!") || contains_phrase(subject, "FREE");
    pitch.then(|| Finding::new(SUBJECT_SALES_PITCH, format!("Subject {}", excerpt(subject))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean_with;

    #[test]
    fn an_urgent_priority_is_found_in_either_field() {
        let found = priority_high(&clean_with(&[("X-Priority", "1 (Highest)")])).unwrap();
        assert_eq!(found.detail, "X-Priority: \"1 (Highest)\"");
        assert!(priority_high(&clean_with(&[("X-MSMail-Priority", " High")])).is_some());
        assert_eq!(
            priority_high(&clean_with(&[("X-Priority", "3 (Normal)")])),
            None
        );
        assert_eq!(
            priority_high(&clean_with(&[("X-MSMail-Priority", "Normal")])),
            None
        );
        assert_eq!(priority_high(&clean_with(&[])), None);
    }

    #[test]
    fn the_adv_label_starts_the_subject() {
        for subject in ["ADV: cheap ink", "adv - cheap ink", "  Adv:cheap"] {
            assert!(
                subject_adv(&clean_with(&[("Subject", subject)])).is_some(),
                "{subject}"
            );
        }
        for subject in ["Advice: read this", "Re: ADV: no", "ad"] {
            assert_eq!(
                subject_adv(&clean_with(&[("Subject", subject)])),
                None,
                "{subject}"
            );
        }
    }

    #[test]
    fn sales_pitches_in_the_subject() {
        for subject in [
            "Earn $5000 a week",
            "Act now!!",
            "FREE cable TV",
            "only $ 9.95",
        ] {
            assert!(
                subject_sales_pitch(&clean_with(&[("Subject", subject)])).is_some(),
                "{subject}"
            );
        }
        for subject in ["Free software news", "FREEDOM", "US$ and you", "Hi!"] {
            assert_eq!(
                subject_sales_pitch(&clean_with(&[("Subject", subject)])),
                None,
                "{subject}"
            );
        }
    }
}
