//! The token table in kv: layout, packed counters, learning (idempotent, by message
//! digest) and classification. Everything goes through the small [`Kv`] trait, so the
//! gateway's kv and an in-memory map ([`MemoryKv`]) behave the same.
//!
//! Tokens are kv id counters (`kv::counters_get`, which the gateway serves from memory):
//! the id is the 64-bit FNV-1a hash of the token's text, the value its counts packed as
//! spam in the high 32 bits and ham in the low 32. The rest are string keys holding 8-byte
//! little-endian counters, as `kv::increment` writes:
//!
//! | key | value |
//! |---|---|
//! | `stats:spam` | messages learnt as spam |
//! | `stats:ham` | messages learnt as ham |
//! | `learnt:<32 hex>` | a learnt message's label: 1 spam, 2 ham, 0 forgotten |
//!
//! A message is learnt in one atomic write of its token counters, the totals and its
//! `learnt:` entry.

use std::fmt;

use moat_sdk::kv::KvError;
use moat_sdk::{Label, LearnOutcome};
use sha2::{Digest, Sha256};

use crate::classify::{self, Params};
use crate::tokens::{Input, Source, Token};

/// The number of messages learnt as spam.
pub const STATS_SPAM: &str = "stats:spam";
/// The number of messages learnt as ham.
pub const STATS_HAM: &str = "stats:ham";
/// What one spam adds to a token's packed counter.
pub const SPAM_UNIT: i64 = 1 << 32;
/// What one ham adds to a token's packed counter.
pub const HAM_UNIT: i64 = 1;

/// The plugin's view of its kv namespace.
pub trait Kv {
    /// The values under `keys`, in order (`kv::get_many`).
    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError>;
    /// The id counters under `ids`, in order (`kv::counters_get`).
    fn counters_get(&mut self, ids: &[u64]) -> Result<Vec<i64>, KvError>;
    /// Adds to id counters and string-key counters in one atomic write
    /// (`kv::counters_add`).
    fn counters_add(
        &mut self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError>;
}

/// An in-memory kv namespace with the gateway's semantics (the SDK's test store): for
/// tests and the accuracy harness.
pub use moat_sdk::testing::MemoryKv;

impl Kv for MemoryKv {
    fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError> {
        MemoryKv::get_many(self, keys)
    }

    fn counters_get(&mut self, ids: &[u64]) -> Result<Vec<i64>, KvError> {
        MemoryKv::counters_get(self, ids)
    }

    fn counters_add(
        &mut self,
        deltas: &[(u64, i64)],
        keyed: &[(String, i64)],
    ) -> Result<(), KvError> {
        MemoryKv::counters_add(self, deltas, keyed)
    }
}

/// Why the token table could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// The kv call failed.
    Kv(KvError),
    /// A kv entry the plugin needs does not hold what it should.
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kv(error) => write!(f, "{error}"),
            Self::Corrupt { key, reason } => write!(f, "kv entry {key} is corrupt: {reason}"),
        }
    }
}

impl std::error::Error for ModelError {}

impl From<KvError> for ModelError {
    fn from(error: KvError) -> Self {
        Self::Kv(error)
    }
}

/// A stored 8-byte little-endian counter, or `None` when the value has another length.
#[must_use]
pub fn decode_counter(bytes: &[u8]) -> Option<i64> {
    bytes.try_into().ok().map(i64::from_le_bytes)
}

/// Splits a packed token counter into (spam, ham). The ham count is the low 32 bits read
/// as a signed number, so a decrement below zero does not borrow from the spam count.
#[must_use]
pub fn unpack(value: i64) -> (i64, i64) {
    let ham = i64::from(value as i32);
    let spam = (value - ham) >> 32;
    (spam, ham)
}

/// Packs (spam, ham) counts into one counter.
#[must_use]
pub fn pack(spam: i64, ham: i64) -> i64 {
    spam * SPAM_UNIT + ham * HAM_UNIT
}

/// The kv id counter of a token text: its 64-bit FNV-1a hash (what [`Token::id`] holds).
#[must_use]
pub fn token_id(text: &str) -> u64 {
    crate::tokens::fnv1a(&[text])
}

/// The kv key recording that a message was learnt: `learnt:` and the first 128 bits of the
/// SHA-256 over the `Message-ID` (or, without one, `From`, `Subject` and `Date`) and the
/// body text with whitespace collapsed. Headers a gateway adds on the way (`Received`,
/// `X-Spam-*`) and line endings do not change it.
#[must_use]
pub fn digest_key(input: &Input) -> String {
    let mut sha = Sha256::new();
    sha.update(b"moat-bayes-1\0");
    match input.header("message-id") {
        Some(id) => sha.update(id.trim().to_ascii_lowercase().as_bytes()),
        None => {
            for name in ["from", "subject", "date"] {
                sha.update(input.header(name).unwrap_or_default().trim().as_bytes());
                sha.update(b"\0");
            }
        }
    }
    for (tag, parts) in [(b"\x01", &input.text_parts), (b"\x02", &input.html_parts)] {
        for part in parts {
            sha.update(tag);
            for word in part.split_whitespace() {
                sha.update(word.as_bytes());
                sha.update(b" ");
            }
        }
    }
    let hash = sha.finalize();
    let mut key = String::from("learnt:");
    for byte in &hash[..16] {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// The value of a `learnt:` entry for a label.
fn label_code(label: Label) -> i64 {
    match label {
        Label::Spam => 1,
        Label::Ham => 2,
    }
}

/// What one message of `label` adds to a token counter.
fn unit(label: Label) -> i64 {
    match label {
        Label::Spam => SPAM_UNIT,
        Label::Ham => HAM_UNIT,
    }
}

fn stats_key(label: Label) -> &'static str {
    match label {
        Label::Spam => STATS_SPAM,
        Label::Ham => STATS_HAM,
    }
}

/// Who asked to learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Teacher {
    /// The operator (`moat learn`): may relabel a message learnt before.
    Operator,
    /// Auto-learning at the outcome stage: never overrides a message learnt before.
    Auto,
}

/// Learns (or with `forget`, unlearns) the message with these tokens and digest key.
/// Learning it again with the same label, or forgetting a message never learnt, changes
/// nothing; learning it with the other label moves its counts. Two kv calls: one read of
/// the digest entry and one atomic write of every counter, the totals and the digest.
pub fn learn(
    kv: &mut impl Kv,
    tokens: &[Token],
    digest_key: &str,
    label: Label,
    forget: bool,
    teacher: Teacher,
) -> Result<LearnOutcome, ModelError> {
    let stored = kv.get_many(&[digest_key.to_owned()])?;
    let previous = match stored.first().and_then(Option::as_deref) {
        None => None,
        Some(bytes) => match decode_counter(bytes) {
            Some(0) => None,
            Some(1) => Some(Label::Spam),
            Some(2) => Some(Label::Ham),
            Some(other) => {
                return Err(ModelError::Corrupt {
                    key: digest_key.to_owned(),
                    reason: format!("label {other} is neither 1 (spam) nor 2 (ham)"),
                });
            }
            None => {
                return Err(ModelError::Corrupt {
                    key: digest_key.to_owned(),
                    reason: format!("{} bytes, not an 8-byte counter", bytes.len()),
                });
            }
        },
    };
    // (token delta, stats changes, digest delta)
    let (token_delta, stats, digest_delta): (i64, Vec<(Label, i64)>, i64) = match (forget, previous)
    {
        (true, None) => return Ok(LearnOutcome::Unchanged),
        (true, Some(old)) => (-unit(old), vec![(old, -1)], -label_code(old)),
        (false, Some(old)) if old == label || teacher == Teacher::Auto => {
            return Ok(LearnOutcome::Unchanged);
        }
        (false, Some(old)) => (
            unit(label) - unit(old),
            vec![(label, 1), (old, -1)],
            label_code(label) - label_code(old),
        ),
        (false, None) => (unit(label), vec![(label, 1)], label_code(label)),
    };
    let mut keyed: Vec<(String, i64)> = Vec::with_capacity(3);
    keyed.extend(stats.into_iter().map(|(l, d)| (stats_key(l).to_owned(), d)));
    keyed.push((digest_key.to_owned(), digest_delta));
    let deltas: Vec<(u64, i64)> = tokens.iter().map(|t| (t.id, token_delta)).collect();
    match kv.counters_add(&deltas, &keyed) {
        Ok(()) => Ok(LearnOutcome::Done),
        Err(KvError::NotACounter) => Err(ModelError::Corrupt {
            key: "stats:spam or stats:ham".to_owned(),
            reason: "not an 8-byte counter; nothing was learnt".to_owned(),
        }),
        Err(error) => Err(error.into()),
    }
}

/// How many messages have been learnt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Learnt as spam.
    pub spam: u64,
    /// Learnt as ham.
    pub ham: u64,
}

/// A token that took part in the verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Clue {
    /// The token's text.
    pub text: String,
    /// Its `f(w)`.
    pub probability: f64,
}

/// The classification of a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// The combined spam probability.
    pub probability: f64,
    /// The tokens that took part, most significant first.
    pub clues: Vec<Clue>,
    /// How many of the message's tokens came from each source (in [`Source::ALL`] order).
    pub per_source: [usize; 5],
    /// The training it was scored against.
    pub stats: Stats,
    /// The image text classified on its own, when it has enough tokens.
    pub image: Option<ImageScore>,
}

/// The image text (the OCR tokens) classified without the rest of the message, so that
/// innocent words in the body cannot dilute what a picture says.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageScore {
    /// The combined spam probability of the image tokens.
    pub probability: f64,
    /// The image tokens that took part, most significant first.
    pub clues: Vec<Clue>,
}

/// What the token table says about a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Classification {
    /// Fewer messages were learnt than the minimum: nothing is scored.
    Untrained(Stats),
    /// Scored.
    Scored(Score),
}

/// The counter `keys[index]` as read into `values` (0 when absent).
fn total(keys: &[String], values: &[Option<Vec<u8>>], index: usize) -> Result<u64, ModelError> {
    match values.get(index).and_then(Option::as_deref) {
        None => Ok(0),
        Some(bytes) => decode_counter(bytes)
            .map(|n| u64::try_from(n).unwrap_or(0))
            .ok_or_else(|| ModelError::Corrupt {
                key: keys[index].clone(),
                reason: format!("{} bytes, not an 8-byte counter", bytes.len()),
            }),
    }
}

/// How many spam and ham have been learnt: read first at the data stage, so that an
/// untrained model costs one small read instead of gathering and tokenizing the message.
pub fn stats(kv: &mut impl Kv) -> Result<Stats, ModelError> {
    let keys = [STATS_SPAM.to_owned(), STATS_HAM.to_owned()];
    let values = kv.get_many(&keys)?;
    Ok(Stats {
        spam: total(&keys, &values, 0)?,
        ham: total(&keys, &values, 1)?,
    })
}

/// Classifies the message with these tokens: one kv read of the totals and one of the
/// token counters. Corrupt totals are an error.
pub fn classify(
    kv: &mut impl Kv,
    tokens: &[Token],
    params: &Params,
    min: Stats,
) -> Result<Classification, ModelError> {
    let stats = stats(kv)?;
    if stats.spam < min.spam || stats.ham < min.ham {
        return Ok(Classification::Untrained(stats));
    }
    let ids: Vec<u64> = tokens.iter().map(|t| t.id).collect();
    let values = kv.counters_get(&ids)?;
    let mut probabilities = Vec::with_capacity(tokens.len());
    let mut per_source = [0usize; 5];
    for (i, token) in tokens.iter().enumerate() {
        per_source[Source::ALL
            .iter()
            .position(|s| *s == token.source)
            .unwrap_or(0)] += 1;
        let (spam, ham) = unpack(values.get(i).copied().unwrap_or(0));
        let (spam, ham) = (
            u64::try_from(spam).unwrap_or(0),
            u64::try_from(ham).unwrap_or(0),
        );
        probabilities.push(classify::token_probability(
            spam, ham, stats.spam, stats.ham, params,
        ));
    }
    let all: Vec<usize> = (0..tokens.len()).collect();
    let (probability, clues) = combine(tokens, &probabilities, &all, params);
    let image_tokens: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| tokens[i].source == Source::Ocr)
        .collect();
    let image = (params.min_image_tokens > 0 && image_tokens.len() >= params.min_image_tokens)
        .then(|| {
            let (probability, clues) = combine(tokens, &probabilities, &image_tokens, params);
            ImageScore { probability, clues }
        });
    Ok(Classification::Scored(Score {
        probability,
        clues,
        per_source,
        stats,
        image,
    }))
}

/// The combined probability of the tokens at `indices` and their clues, most significant
/// first.
fn combine(
    tokens: &[Token],
    probabilities: &[f64],
    indices: &[usize],
    params: &Params,
) -> (f64, Vec<Clue>) {
    let chosen_probabilities: Vec<f64> = indices.iter().map(|&i| probabilities[i]).collect();
    let families: Vec<Option<&str>> = indices.iter().map(|&i| tokens[i].family()).collect();
    let clues = classify::select_clues(&chosen_probabilities, &families, params);
    let chosen: Vec<f64> = clues.iter().map(|&i| chosen_probabilities[i]).collect();
    let clues = clues
        .iter()
        .map(|&i| Clue {
            text: tokens[indices[i]].text.clone(),
            probability: chosen_probabilities[i],
        })
        .collect();
    (classify::combine(&chosen), clues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(words: &[&str]) -> Vec<Token> {
        words
            .iter()
            .map(|w| Token::new((*w).to_owned(), Source::Body))
            .collect()
    }

    fn counter(kv: &MemoryKv, key: &str) -> Option<i64> {
        kv.entries().get(key).and_then(|v| decode_counter(v))
    }

    fn token_counts(kv: &MemoryKv, text: &str) -> (i64, i64) {
        unpack(kv.counters().get(&token_id(text)).copied().unwrap_or(0))
    }

    /// Non-zero entries: what a forget must restore.
    fn snapshot(kv: &MemoryKv) -> Vec<(String, i64)> {
        let mut entries: Vec<(String, i64)> = kv
            .entries()
            .iter()
            .map(|(k, v)| (k.clone(), decode_counter(v).unwrap_or(i64::MIN)))
            .chain(
                kv.counters()
                    .iter()
                    .map(|(id, v)| (format!("{id:016x}"), *v)),
            )
            .filter(|(_, v)| *v != 0)
            .collect();
        entries.sort();
        entries
    }

    #[test]
    fn packed_counters() {
        assert_eq!(unpack(pack(3, 5)), (3, 5));
        assert_eq!(unpack(pack(0, 0)), (0, 0));
        assert_eq!(unpack(pack(7, 0) - HAM_UNIT), (7, -1));
        assert_eq!(unpack(pack(0, 2) - SPAM_UNIT), (-1, 2));
        assert_eq!(
            unpack(pack(100_000, 2_000_000_000)),
            (100_000, 2_000_000_000)
        );
        assert_eq!(unpack(SPAM_UNIT + HAM_UNIT), (1, 1));
    }

    #[test]
    fn token_ids_are_stable() {
        assert_eq!(token_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(token_id("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(token_id("subj:free"), token_id("free"));
    }

    #[test]
    fn digest_ignores_added_headers_and_line_endings() {
        let input = Input {
            headers: vec![("Message-ID".into(), "<a@b>".into())],
            text_parts: vec!["hello\nworld\n".into()],
            ..Input::default()
        };
        let mut seen = input.clone();
        seen.headers
            .insert(0, ("Received".into(), "from x by y".into()));
        seen.headers.push(("X-Spam".into(), "yes".into()));
        seen.text_parts = vec!["hello\r\nworld\r\n".into()];
        assert_eq!(digest_key(&input), digest_key(&seen));
        let mut other = input.clone();
        other.text_parts = vec!["hello there".into()];
        assert_ne!(digest_key(&input), digest_key(&other));
        assert!(digest_key(&input).starts_with("learnt:"));
        assert_eq!(digest_key(&input).len(), "learnt:".len() + 32);
    }

    #[test]
    fn stats_count_what_was_learnt() {
        let mut kv = MemoryKv::default();
        assert_eq!(stats(&mut kv), Ok(Stats { spam: 0, ham: 0 }));
        let a = tokens(&["cheap", "pills"]);
        learn(
            &mut kv,
            &a,
            "learnt:a",
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap();
        assert_eq!(stats(&mut kv), Ok(Stats { spam: 1, ham: 0 }));
    }

    #[test]
    fn learning_twice_counts_once_and_forgetting_restores() {
        let mut kv = MemoryKv::default();
        let a = tokens(&["cheap", "pills"]);
        let b = tokens(&["cheap", "meeting"]);
        learn(
            &mut kv,
            &a,
            "learnt:a",
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap();
        let before = snapshot(&kv);
        assert_eq!(
            learn(
                &mut kv,
                &b,
                "learnt:b",
                Label::Ham,
                false,
                Teacher::Operator
            ),
            Ok(LearnOutcome::Done)
        );
        let after = snapshot(&kv);
        assert_eq!(token_counts(&kv, "cheap"), (1, 1));
        assert_eq!(
            learn(
                &mut kv,
                &b,
                "learnt:b",
                Label::Ham,
                false,
                Teacher::Operator
            ),
            Ok(LearnOutcome::Unchanged)
        );
        assert_eq!(snapshot(&kv), after);
        assert_eq!(
            learn(&mut kv, &b, "learnt:b", Label::Ham, true, Teacher::Operator),
            Ok(LearnOutcome::Done)
        );
        assert_eq!(snapshot(&kv), before);
        assert_eq!(
            learn(&mut kv, &b, "learnt:b", Label::Ham, true, Teacher::Operator),
            Ok(LearnOutcome::Unchanged)
        );
        assert_eq!(snapshot(&kv), before);
    }

    #[test]
    fn relabelling_moves_the_counts() {
        let mut kv = MemoryKv::default();
        let a = tokens(&["cheap", "pills"]);
        learn(
            &mut kv,
            &a,
            "learnt:a",
            Label::Ham,
            false,
            Teacher::Operator,
        )
        .unwrap();
        assert_eq!(token_counts(&kv, "pills"), (0, 1));
        // Auto-learning never overrides an earlier label.
        assert_eq!(
            learn(&mut kv, &a, "learnt:a", Label::Spam, false, Teacher::Auto),
            Ok(LearnOutcome::Unchanged)
        );
        assert_eq!(
            learn(
                &mut kv,
                &a,
                "learnt:a",
                Label::Spam,
                false,
                Teacher::Operator
            ),
            Ok(LearnOutcome::Done)
        );
        assert_eq!(token_counts(&kv, "pills"), (1, 0));
        assert_eq!(counter(&kv, STATS_SPAM), Some(1));
        assert_eq!(counter(&kv, STATS_HAM), Some(0));
        assert_eq!(counter(&kv, "learnt:a"), Some(1));
    }

    #[test]
    fn corrupt_entries_are_errors_not_panics() {
        let mut kv = MemoryKv::default();
        kv.set("learnt:a", b"xyz").unwrap();
        let a = tokens(&["cheap"]);
        let error = learn(
            &mut kv,
            &a,
            "learnt:a",
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap_err();
        assert!(error.to_string().contains("learnt:a is corrupt"), "{error}");

        let mut kv = MemoryKv::default();
        kv.set(STATS_SPAM, b"xyz").unwrap();
        let error = learn(
            &mut kv,
            &a,
            "learnt:b",
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap_err();
        assert!(matches!(error, ModelError::Corrupt { .. }));
        // The failed write changed nothing.
        assert!(kv.counters().is_empty());
        assert_eq!(counter(&kv, "learnt:b"), None);

        let mut kv = MemoryKv::default();
        kv.set(STATS_HAM, &[1, 2]).unwrap();
        let error = classify(&mut kv, &a, &Params::default(), Stats::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "kv entry stats:ham is corrupt: 2 bytes, not an 8-byte counter"
        );
    }

    #[test]
    fn untrained_until_the_minimums() {
        let mut kv = MemoryKv::default();
        let a = tokens(&["cheap"]);
        learn(
            &mut kv,
            &a,
            "learnt:a",
            Label::Spam,
            false,
            Teacher::Operator,
        )
        .unwrap();
        let min = Stats { spam: 1, ham: 1 };
        assert_eq!(
            classify(&mut kv, &a, &Params::default(), min),
            Ok(Classification::Untrained(Stats { spam: 1, ham: 0 }))
        );
    }

    #[test]
    fn trained_table_separates_classes() {
        let mut kv = MemoryKv::default();
        for i in 0..20 {
            let spam = tokens(&["viagra", "cheap", &format!("s{i}")]);
            let ham = tokens(&["meeting", "agenda", &format!("h{i}")]);
            learn(
                &mut kv,
                &spam,
                &format!("learnt:s{i}"),
                Label::Spam,
                false,
                Teacher::Operator,
            )
            .unwrap();
            learn(
                &mut kv,
                &ham,
                &format!("learnt:h{i}"),
                Label::Ham,
                false,
                Teacher::Operator,
            )
            .unwrap();
        }
        let min = Stats { spam: 10, ham: 10 };
        let classify = |kv: &mut MemoryKv, words: &[&str]| match classify(
            kv,
            &tokens(words),
            &Params::default(),
            min,
        ) {
            Ok(Classification::Scored(score)) => score,
            other => panic!("{other:?}"),
        };
        let spam = classify(&mut kv, &["viagra", "cheap", "unknown"]);
        assert!(spam.probability > 0.99, "{spam:?}");
        assert_eq!(spam.clues.len(), 2);
        assert_eq!(spam.per_source, [0, 3, 0, 0, 0]);
        let ham = classify(&mut kv, &["meeting", "agenda"]);
        assert!(ham.probability < 0.01, "{ham:?}");
    }
}
