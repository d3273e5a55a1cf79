//! A plugin's answer as the host keeps it, validated from what the plugin returned.
//! A verdict that breaks the contract is a plugin failure (`invalid-verdict`).

use serde::Serialize;

use super::bindings::moat::filter::types as wit;
use super::is_valid_symbol_name;

/// The most symbols one verdict may carry.
pub const MAX_SYMBOLS: usize = 100;
/// The longest symbol detail, in bytes.
pub const MAX_DETAIL_BYTES: usize = 1024;
/// The most annotations one verdict may carry.
pub const MAX_ANNOTATIONS: usize = 32;
/// The longest annotation key, in bytes.
pub const MAX_ANNOTATION_KEY_BYTES: usize = 64;
/// The longest annotation value, in bytes.
pub const MAX_ANNOTATION_VALUE_BYTES: usize = 256 << 10;

/// What happens to a message (or, before DATA, to the command being answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Deliver as is.
    Accept,
    /// Deliver flagged as spam (`X-Spam-Flag: YES`).
    Tag,
    /// Hold in quarantine.
    Quarantine,
    /// Refuse permanently.
    Reject,
    /// Refuse temporarily.
    Tempfail,
}

impl Action {
    /// Rank among hard actions demanded by plugins: the highest wins.
    /// reject > tempfail > quarantine > tag > accept.
    pub fn severity(self) -> u8 {
        match self {
            Action::Accept => 0,
            Action::Tag => 1,
            Action::Quarantine => 2,
            Action::Tempfail => 3,
            Action::Reject => 4,
        }
    }

    /// The name used in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Tag => "tag",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
            Action::Tempfail => "tempfail",
        }
    }
}

/// One finding of a plugin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Symbol {
    /// Upper-case name.
    pub name: String,
    /// The plugin's score for it.
    pub score: f64,
    /// Human explanation.
    pub detail: String,
}

/// A key → text note for later plugins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// Key.
    pub key: String,
    /// Text.
    pub value: String,
}

/// A validated plugin answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// Findings.
    pub symbols: Vec<Symbol>,
    /// The action the plugin demands, if any (honoured only where the operator allows).
    pub action: Option<Action>,
    /// Notes for later plugins.
    pub annotations: Vec<Annotation>,
}

impl From<wit::Action> for Action {
    fn from(action: wit::Action) -> Self {
        match action {
            wit::Action::Accept => Action::Accept,
            wit::Action::Tag => Action::Tag,
            wit::Action::Quarantine => Action::Quarantine,
            wit::Action::Reject => Action::Reject,
            wit::Action::Tempfail => Action::Tempfail,
        }
    }
}

impl From<Action> for wit::Action {
    fn from(action: Action) -> Self {
        match action {
            Action::Accept => wit::Action::Accept,
            Action::Tag => wit::Action::Tag,
            Action::Quarantine => wit::Action::Quarantine,
            Action::Reject => wit::Action::Reject,
            Action::Tempfail => wit::Action::Tempfail,
        }
    }
}

impl Verdict {
    /// Checks a verdict as the plugin returned it; the error says what breaks the contract.
    pub fn from_wit(verdict: wit::Verdict) -> Result<Self, String> {
        if verdict.symbols.len() > MAX_SYMBOLS {
            return Err(format!(
                "{} symbols (at most {MAX_SYMBOLS})",
                verdict.symbols.len()
            ));
        }
        if verdict.annotations.len() > MAX_ANNOTATIONS {
            return Err(format!(
                "{} annotations (at most {MAX_ANNOTATIONS})",
                verdict.annotations.len()
            ));
        }
        let symbols = verdict
            .symbols
            .into_iter()
            .map(|s| {
                if !is_valid_symbol_name(&s.name) {
                    return Err(format!(
                        "symbol name {:?} is not 1-64 characters of A-Z, 0-9 and _",
                        truncate(&s.name, 80)
                    ));
                }
                if !s.score.is_finite() {
                    return Err(format!(
                        "symbol {} has a score that is not a finite number ({})",
                        s.name, s.score
                    ));
                }
                if s.detail.len() > MAX_DETAIL_BYTES {
                    return Err(format!(
                        "symbol {} has a detail of {} bytes (at most {MAX_DETAIL_BYTES})",
                        s.name,
                        s.detail.len()
                    ));
                }
                Ok(Symbol {
                    name: s.name,
                    score: s.score,
                    detail: s.detail,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let annotations = verdict
            .annotations
            .into_iter()
            .map(|a| {
                let key_ok = (1..=MAX_ANNOTATION_KEY_BYTES).contains(&a.key.len())
                    && a.key
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !key_ok {
                    return Err(format!(
                        "annotation key {:?} is not 1-64 characters of a-z, 0-9 and -",
                        truncate(&a.key, 80)
                    ));
                }
                if a.value.len() > MAX_ANNOTATION_VALUE_BYTES {
                    return Err(format!(
                        "annotation {} is {} bytes (at most {MAX_ANNOTATION_VALUE_BYTES})",
                        a.key,
                        a.value.len()
                    ));
                }
                Ok(Annotation {
                    key: a.key,
                    value: a.value,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            symbols,
            action: verdict.action.map(Action::from),
            annotations,
        })
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(name: &str, score: f64) -> wit::Symbol {
        wit::Symbol {
            name: name.into(),
            score,
            detail: String::new(),
        }
    }

    fn verdict(symbols: Vec<wit::Symbol>) -> wit::Verdict {
        wit::Verdict {
            symbols,
            action: None,
            annotations: Vec::new(),
        }
    }

    #[test]
    fn a_good_verdict_passes_unchanged() {
        let mut v = verdict(vec![symbol("GTUBE", 100.0)]);
        v.action = Some(wit::Action::Reject);
        v.annotations.push(wit::Annotation {
            key: "ocr-text".into(),
            value: "hi".into(),
        });
        let v = Verdict::from_wit(v).unwrap();
        assert_eq!(v.symbols[0].name, "GTUBE");
        assert_eq!(v.action, Some(Action::Reject));
        assert_eq!(v.annotations[0].key, "ocr-text");
    }

    #[test]
    fn bad_names_scores_and_sizes_are_refused() {
        for bad in [
            symbol("lower", 1.0),
            symbol("", 1.0),
            symbol("SPACE NAME", 1.0),
            symbol("NAN", f64::NAN),
            symbol("INF", f64::INFINITY),
        ] {
            assert!(Verdict::from_wit(verdict(vec![bad])).is_err());
        }
        let too_many = (0..=MAX_SYMBOLS).map(|_| symbol("A", 1.0)).collect();
        assert!(
            Verdict::from_wit(verdict(too_many))
                .unwrap_err()
                .contains("symbols")
        );
        let mut long = symbol("A", 1.0);
        long.detail = "x".repeat(MAX_DETAIL_BYTES + 1);
        assert!(Verdict::from_wit(verdict(vec![long])).is_err());
        let mut bad_key = verdict(vec![]);
        bad_key.annotations.push(wit::Annotation {
            key: "Bad Key".into(),
            value: String::new(),
        });
        assert!(Verdict::from_wit(bad_key).is_err());
    }
}
