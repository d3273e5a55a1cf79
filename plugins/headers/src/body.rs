//! Checks on the body's words, after SpamAssassin's body rules: sums in millions, the
//! vocabulary of advance-fee fraud, and the greetings of mail sent to strangers. Phrases
//! are matched case-insensitively in the text parts and the HTML parts as text.

use crate::rules::{Facts, Finding, excerpt};
use crate::symbols::{ADVANCE_FEE, DEAR_SOMETHING, MONEY_MILLIONS};

/// Amounts large enough to be an advance-fee story or a get-rich promise.
const MILLIONS: &[&str] = &["million", "billion"];
/// The currencies after [`MILLIONS`], with an optional `us` or `u.s.` between.
const CURRENCIES: &[&str] = &["dollars", "usd", "pounds", "euros"];
/// What follows `Dear` at the start of a line in mail to someone the sender does not know.
const STRANGER_GREETINGS: &[&str] = &[
    "friend",
    "sir",
    "madam",
    "valued",
    "customer",
    "member",
    "homeowner",
    "internet user",
    "business owner",
];
/// The vocabulary of advance-fee ("419") fraud: word stems, matched at the start of a
/// word (`fund` also finds `funds`), hyphens read as blanks. Each is common alone;
/// together they tell the story of a fortune to move abroad for a share.
const ADVANCE_FEE_STEMS: &[&str] = &[
    "next of kin",
    "beneficiary",
    "foreign account",
    "foreign partner",
    "transfer",
    "bank account",
    "confidential",
    "the sum of",
    "us$",
    "million",
    "deceased",
    "late husband",
    "late father",
    "percent",
    "compensation",
    "assistance",
    "trust",
    "government",
    "minister",
    "contract",
    "over invoiced",
    "security company",
    "diplomatic",
    "modalities",
    "urgent",
    "nigeria",
    "lagos",
    "abidjan",
    "zimbabwe",
    "sierra leone",
    "south africa",
    "central bank",
    "barrister",
    "crude oil",
    "inheritance",
    "proposal",
    "god bless",
    "son of",
    "wife of",
    "widow",
    "fund",
    "deposit",
    "share",
    "disburse",
    "remit",
];
/// Distinct [`ADVANCE_FEE_STEMS`] needed (on the training corpus: 10 or more in 3.6% of
/// spam and no ham; 8 or more in 1 ham).
const ADVANCE_FEE_MIN: usize = 10;

/// `parts` as words, ASCII lower-cased, hyphens read as blanks, one space after each
/// (see [`Facts::body_words`]).
pub(crate) fn words<'a>(parts: impl Iterator<Item = &'a String>) -> String {
    let mut words = String::new();
    for part in parts {
        words.reserve(part.len() + 1);
        // Whole words copied and lower-cased at the end, not a character at a time.
        for word in part.split(|c: char| c == '-' || c.is_whitespace()) {
            if !word.is_empty() {
                words.push_str(word);
                words.push(' ');
            }
        }
    }
    words.make_ascii_lowercase();
    words
}

/// Whether `text` contains `phrase` with no letter or digit right before or after it.
pub(crate) fn contains_phrase(text: &str, phrase: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), phrase).any(|start| {
        word_starts_at(text, start)
            && !text[start + phrase.len()..].starts_with(char::is_alphanumeric)
    })
}

/// Whether no letter or digit comes right before byte `start` of `text`.
fn word_starts_at(text: &str, start: usize) -> bool {
    !text[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

/// MONEY_MILLIONS: `million dollars` (or billion; dollars, USD, pounds, euros, with an
/// optional `US` between) or `US$` before a number.
pub(crate) fn money_millions(facts: &Facts) -> Option<Finding> {
    let body = facts.body_words();
    for amount in MILLIONS {
        for start in memchr::memmem::find_iter(body.as_bytes(), amount) {
            if !word_starts_at(body, start) {
                continue;
            }
            let Some(rest) = body[start + amount.len()..].strip_prefix(' ') else {
                continue;
            };
            for between in ["", "us ", "u.s. "] {
                let Some(rest) = rest.strip_prefix(between) else {
                    continue;
                };
                let currency = CURRENCIES.iter().find(|currency| {
                    rest.strip_prefix(**currency)
                        .is_some_and(|after| !after.starts_with(char::is_alphanumeric))
                });
                if let Some(currency) = currency {
                    let phrase = format!("{amount} {between}{currency}");
                    return Some(Finding::new(MONEY_MILLIONS, format!("\"{phrase}\"")));
                }
            }
        }
    }
    let us_dollars = memchr::memmem::find_iter(body.as_bytes(), "us$").any(|start| {
        let rest = body[start + 3..].trim_start_matches(' ');
        word_starts_at(body, start) && rest.starts_with(|c: char| c.is_ascii_digit())
    });
    us_dollars.then(|| Finding::new(MONEY_MILLIONS, "an amount in US$"))
}

/// ADVANCE_FEE: at least [`ADVANCE_FEE_MIN`] distinct stems of the advance-fee fraud
/// vocabulary at the start of a word of the body (one pass over the words; a search per
/// stem cost a millisecond on a 20 KB message).
pub(crate) fn advance_fee(facts: &Facts) -> Option<Finding> {
    // The stems by their first letter, so each word is compared with a few.
    let mut by_letter: [Vec<usize>; 26] = Default::default();
    for (index, stem) in ADVANCE_FEE_STEMS.iter().enumerate() {
        by_letter[usize::from(stem.as_bytes()[0] - b'a')].push(index);
    }
    let mut seen = [false; ADVANCE_FEE_STEMS.len()];
    let body = facts.body_words().as_bytes();
    for (at, &letter) in body.iter().enumerate() {
        let word_start = at == 0 || body[at - 1] == b' ';
        if !word_start || !letter.is_ascii_lowercase() {
            continue;
        }
        let second = body.get(at + 1).copied();
        for &index in &by_letter[usize::from(letter - b'a')] {
            let stem = ADVANCE_FEE_STEMS[index].as_bytes();
            // The second letter first: comparing slices is a call to memcmp.
            if !seen[index] && stem.get(1).copied() == second && body[at..].starts_with(stem) {
                seen[index] = true;
            }
        }
    }
    let found = seen.iter().filter(|seen| **seen).count();
    (found >= ADVANCE_FEE_MIN)
        .then(|| Finding::new(ADVANCE_FEE, format!("{found} words of advance-fee fraud")))
}

/// DEAR_SOMETHING: a line starts `Dear Friend`, `Dear Sir`, `Dear Valued Customer` …:
/// the greeting of mail to someone whose name the sender does not know.
pub(crate) fn dear_something(facts: &Facts) -> Option<Finding> {
    // The body's words (made once for every word check) tell cheaply whether any line
    // can start so.
    memchr::memmem::find(facts.body_words().as_bytes(), b"dear ")?;
    let line = facts
        .text_parts
        .iter()
        .chain(&facts.html_parts)
        .flat_map(|part| part.lines())
        .find(|line| {
            let line = line.trim_start();
            let Some(rest) = line
                .get(..5)
                .filter(|dear| dear.eq_ignore_ascii_case("dear "))
            else {
                return false;
            };
            let rest = line[rest.len()..].trim_start();
            STRANGER_GREETINGS.iter().any(|greeting| {
                rest.get(..greeting.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(greeting))
            })
        })?;
    Some(Finding::new(
        DEAR_SOMETHING,
        format!("greeting {}", excerpt(line.trim())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean;

    #[test]
    fn words_split_at_blanks_of_any_script_and_hyphens() {
        let by_split = |text: &str| -> String {
            let mut words = String::new();
            for word in text.split(|c: char| c == '-' || c.is_whitespace()) {
                if !word.is_empty() {
                    words.extend(word.chars().map(|c| c.to_ascii_lowercase()));
                    words.push(' ');
                }
            }
            words
        };
        for text in [
            "Dear\u{a0}Friend,\tTHE\x0bSum\x0cof\r\nUS$ 25-Million",
            "Ünïcödé\u{2028}line\u{3000}ideographic 日本語-テキスト ",
            "",
            " - ",
        ] {
            assert_eq!(words([text.to_owned()].iter()), by_split(text), "{text:?}");
        }
    }

    fn with_text(text: &str) -> Facts {
        let mut facts = clean();
        facts.text_parts = vec![text.to_owned()];
        facts
    }

    #[test]
    fn body_words_are_lower_case_and_single_spaced() {
        let parts = [
            "  Next-of-Kin\u{a0}FUND\r\n".to_owned(),
            "Über\tALLES".to_owned(),
        ];
        assert_eq!(words(parts.iter()), "next of kin fund Über alles ");
        assert_eq!(words([String::new()].iter()), "");
    }

    #[test]
    fn phrases_are_whole_words() {
        assert!(contains_phrase("a million dollars.", "million dollars"));
        assert!(!contains_phrase("multimillion dollars", "million dollars"));
        assert!(!contains_phrase("to be removedx", "to be removed"));
    }

    #[test]
    fn sums_in_millions() {
        for text in [
            "the sum of 25 Million US Dollars",
            "TEN MILLION\nDOLLARS",
            "a fee of US$ 2,000",
        ] {
            assert!(money_millions(&with_text(text)).is_some(), "{text}");
        }
        for text in ["a million thanks", "USD 20", "plus$5"] {
            assert_eq!(money_millions(&with_text(text)), None, "{text}");
        }
    }

    #[test]
    fn the_advance_fee_story() {
        let story = "I am the son of the late minister. The sum of US$25 million \
                     is in a confidential deposit; I need your assistance to transfer \
                     the fund to a foreign account, for 20 percent.";
        let found = advance_fee(&with_text(story)).unwrap();
        assert_eq!(found.symbol, ADVANCE_FEE);
        let business = "Please transfer the contract proposal to the bank account.";
        assert_eq!(advance_fee(&with_text(business)), None);
    }

    #[test]
    fn greetings_to_strangers() {
        let found = dear_something(&with_text("Hello\n  Dear Friend,\nI am")).unwrap();
        assert_eq!(found.detail, "greeting \"Dear Friend,\"");
        assert!(dear_something(&with_text("DEAR VALUED CUSTOMER")).is_some());
        assert_eq!(dear_something(&with_text("Dear Alice,")), None);
        assert_eq!(dear_something(&with_text("my dear friend")), None);
    }
}
