//! Text as an OCR engine reads it and spammers write it: words, word counts and phrase
//! search that shrug off case, line breaks, hyphenation, stray punctuation and the usual
//! look-alike characters (`0`/`O`, `1`/`l`/`I`, `rn`/`m`).
//!
//! A phrase matches when its words, with the spaces between them removed, appear in the
//! text's words (also without spaces) starting at the start of a word and ending at the
//! end of one. So `click here` matches `CLICK HERE!`, `click-\nhere` and `clickhere`,
//! `viagra` matches `VIA-\nGRA` and `V1agra`, but `won` does not match `wonderful`.

use std::collections::BTreeSet;

/// Words that say nothing about what a text is about; left out when comparing the
/// vocabulary of image text and body text.
const STOPWORDS: &[&str] = &[
    "about", "after", "all", "also", "and", "any", "are", "but", "can", "did", "for", "from",
    "get", "had", "has", "have", "her", "his", "how", "its", "just", "more", "not", "now", "off",
    "one", "our", "out", "per", "she", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "was", "way", "were", "what", "when", "which", "who", "why",
    "will", "with", "would", "you", "your",
];

/// The words of `text`, lower-case: runs of letters and digits. Between two letters or
/// digits, `|`, `!`, `$` and `@` stand for `l`, `i`, `s` and `a` (`c|ick`, `V!agra`,
/// `ca$h`) and apostrophes vanish (`don't` is `dont`); every other character separates
/// words.
pub(crate) fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (at, &c) in chars.iter().enumerate() {
        let inside = || {
            at > 0
                && chars[at - 1].is_alphanumeric()
                && chars.get(at + 1).is_some_and(|next| next.is_alphanumeric())
        };
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        let stands_for = match c {
            '|' => Some('l'),
            '!' => Some('i'),
            '$' => Some('s'),
            '@' => Some('a'),
            _ => None,
        };
        match stands_for {
            Some(letter) if inside() => word.push(letter),
            None if matches!(c, '\'' | '\u{2019}') && inside() => {}
            _ => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `word` with look-alikes made equal: `rn` becomes `m`, `0` becomes `o`, and `1` and
/// `i` become `l`. Applied to both sides of a comparison.
fn fold(word: &str) -> String {
    word.replace("rn", "m")
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' => 'l',
            other => other,
        })
        .collect()
}

/// Whether a word is a real word rather than OCR debris: two characters or more, at
/// least one of them a letter.
fn is_word(word: &str) -> bool {
    word.chars().nth(1).is_some() && word.chars().any(char::is_alphabetic)
}

/// How many real words (see [`is_word`]) there are.
pub(crate) fn count_words(words: &[String]) -> usize {
    words.iter().filter(|word| is_word(word)).count()
}

/// The distinct content words, folded: at least three characters, at least one letter,
/// not a stopword.
pub(crate) fn vocabulary(words: &[String]) -> BTreeSet<String> {
    words
        .iter()
        .filter(|word| word.chars().nth(2).is_some() && is_word(word))
        .filter(|word| !STOPWORDS.contains(&word.as_str()))
        .map(|word| fold(word))
        .collect()
}

/// `text` with every run of whitespace turned into one space, trimmed.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max_bytes`, at a character boundary.
pub(crate) fn truncate(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// A phrase to look for, as configured and as searched. Two phrases are equal when they
/// search for the same thing (`Free Money` and `free  money`).
#[derive(Clone, Debug)]
pub(crate) struct Phrase {
    /// The phrase as configured, for details and logs.
    pub(crate) text: String,
    /// Its folded words concatenated.
    key: String,
}

impl Phrase {
    /// The phrase `text`; `None` when it has no words (only punctuation or blanks).
    pub(crate) fn new(text: &str) -> Option<Self> {
        let key: String = words(text).iter().map(|word| fold(word)).collect();
        (!key.is_empty()).then(|| Self {
            text: collapse_whitespace(text),
            key,
        })
    }
}

impl PartialEq for Phrase {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Phrase {}

/// A text prepared for phrase search: its folded words concatenated, and which byte
/// positions of that string are word starts or ends.
#[derive(Debug)]
pub(crate) struct Searchable {
    joined: String,
    boundary: Vec<bool>,
}

impl Searchable {
    /// Prepares these words (from [`words`]).
    pub(crate) fn new(words: &[String]) -> Self {
        let mut joined = String::new();
        let mut boundary = vec![true];
        for word in words {
            let folded = fold(word);
            joined.push_str(&folded);
            boundary.resize(joined.len(), false);
            boundary.push(true);
        }
        Self { joined, boundary }
    }

    /// Whether `phrase` occurs, starting and ending at word boundaries.
    pub(crate) fn contains(&self, phrase: &Phrase) -> bool {
        let key = phrase.key.as_str();
        let step = key.chars().next().map_or(1, char::len_utf8);
        let mut from = 0;
        while let Some(found) = self.joined.get(from..).and_then(|rest| rest.find(key)) {
            let start = from + found;
            if self.boundary[start] && self.boundary[start + key.len()] {
                return true;
            }
            from = start + step;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(phrase: &str, text: &str) -> bool {
        let phrase = Phrase::new(phrase).unwrap();
        Searchable::new(&words(text)).contains(&phrase)
    }

    #[test]
    fn splits_words_and_reads_look_alike_symbols() {
        assert_eq!(
            words("CHEAP VIAGRA 80% OFF\nORDER NOW - NO PRESCRIPTION"),
            [
                "cheap",
                "viagra",
                "80",
                "off",
                "order",
                "now",
                "no",
                "prescription"
            ]
        );
        assert_eq!(
            words("c|ick V!agra ca$h, e@sy"),
            ["click", "viagra", "cash", "easy"]
        );
        assert_eq!(words("don't | $5000 !"), ["dont", "5000"]);
        assert_eq!(
            words("You have WON $1,000,000"),
            ["you", "have", "won", "1", "000", "000"]
        );
        assert_eq!(words("Grüße, Ünïcode"), ["grüße", "ünïcode"]);
        assert!(words(" \n -- !! ").is_empty());
    }

    #[test]
    fn phrases_match_despite_ocr_noise() {
        assert!(found("click here", "Free spins - CLICK HERE"));
        assert!(found("click here", "click\n here!"));
        assert!(found("click here", "click-\nhere"));
        assert!(found("click here", "clickhere now"));
        assert!(found("viagra", "cheap VIA-\nGRA today"));
        assert!(found("viagra", "V1AGRA"));
        assert!(found("viagra", "vi.agra"));
        assert!(found("100% free", "1OO% FREE registration"));
        assert!(found("100% free", "l00 % free"));
        assert!(found("no prescription", "NO PRESCRlPTION"));
        assert!(found("mortgage", "rnortgage"));
        assert!(found("limited time offer", "Limi-\nted time\n\noffer!!!"));
        assert!(found("act now", "please, act now."));
    }

    #[test]
    fn phrases_match_whole_words_only() {
        assert!(!found("won", "a wonderful day"));
        assert!(!found("you won", "you won't believe"));
        assert!(!found("act now", "the exact nowcast"));
        assert!(!found("casino", "occasional"));
        assert!(!found("winner", "winners"));
        assert!(!found("click here", "click there"));
        assert!(!found("viagra", ""));
    }

    #[test]
    fn overlapping_candidates_are_all_tried() {
        // In `aaa` (from `a aa`), the match at 0 ends inside a word; the one at 1 overlaps
        // it and is whole.
        assert!(found("aa", "a aa"));
        assert!(!found("aa", "aaa"));
    }

    #[test]
    fn phrases_without_words_are_refused() {
        assert_eq!(Phrase::new(" -- !"), None);
        assert_eq!(Phrase::new("  100%   free ").unwrap().text, "100% free");
    }

    #[test]
    fn counts_real_words() {
        assert_eq!(count_words(&words("a | 12 Hello, world x2")), 3);
        assert_eq!(count_words(&words("")), 0);
    }

    #[test]
    fn vocabulary_leaves_out_short_and_common_words() {
        let vocabulary = vocabulary(&words("The price WILL triple: buy ZXQT 2026 now, ok"));
        let expected: BTreeSet<String> = ["prlce", "trlple", "buy", "zxqt"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(vocabulary, expected);
    }

    #[test]
    fn whitespace_and_truncation() {
        assert_eq!(collapse_whitespace("  a\n\tb   c \r\n"), "a b c");
        let mut text = "héllo".to_owned();
        truncate(&mut text, 2);
        assert_eq!(text, "h");
        let mut text = "short".to_owned();
        truncate(&mut text, 10);
        assert_eq!(text, "short");
    }
}
