//! What a plugin answers for a stage call: named, scored findings, an optional action it
//! demands, and notes for the plugins after it.

use crate::bindings::moat::filter::types as wit;
use crate::session::Annotation;

/// What happens to a message (or, before DATA, to the SMTP command being answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver as is.
    Accept,
    /// Deliver with X-Spam headers and the score report added.
    Tag,
    /// Keep in quarantine for the operator to release or delete; the client gets 250.
    Quarantine,
    /// Refuse with 550 (before DATA: 554/550 to the command).
    Reject,
    /// Refuse temporarily with 451/450; the client will retry.
    Tempfail,
}

impl Action {
    pub(crate) fn from_wit(action: wit::Action) -> Self {
        match action {
            wit::Action::Accept => Self::Accept,
            wit::Action::Tag => Self::Tag,
            wit::Action::Quarantine => Self::Quarantine,
            wit::Action::Reject => Self::Reject,
            wit::Action::Tempfail => Self::Tempfail,
        }
    }

    pub(crate) fn into_wit(self) -> wit::Action {
        match self {
            Self::Accept => wit::Action::Accept,
            Self::Tag => wit::Action::Tag,
            Self::Quarantine => wit::Action::Quarantine,
            Self::Reject => wit::Action::Reject,
            Self::Tempfail => wit::Action::Tempfail,
        }
    }
}

/// One named finding, as rspamd names them.
///
/// The operator weighs each symbol: its contribution to the message's score is
/// `weight × score`, the weight coming from the operator's configuration (per symbol, else
/// per plugin, else the plugin's [default weight](crate::PluginInfo::default_weight)).
///
/// **The host rejects the whole verdict** if any symbol breaks these rules (the plugin
/// call then counts as failed):
/// - `name` is 1 to 64 characters from `A-Z`, `0-9` and `_` (see [`Symbol::is_valid_name`]);
/// - `score` is finite (not NaN or infinite);
/// - `detail` is at most 1 KiB.
#[derive(Clone, Debug, PartialEq)]
pub struct Symbol {
    /// Upper-case name, e.g. `"SUBJECT_HAS_PHRASE"`.
    pub name: String,
    /// The plugin's own score for the finding; positive means spammy, negative hammy.
    pub score: f64,
    /// A short human explanation shown in reports, e.g. `"matched 'free money'"`.
    pub detail: String,
}

impl Symbol {
    /// The longest symbol name the host accepts.
    pub const MAX_NAME_LEN: usize = 64;
    /// The longest detail the host accepts, in bytes.
    pub const MAX_DETAIL_LEN: usize = 1024;

    /// A symbol with this name, score and detail. Nothing is checked here; see
    /// [`Symbol::is_valid`].
    pub fn new(name: impl Into<String>, score: f64, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            score,
            detail: detail.into(),
        }
    }

    /// Whether `name` is a name the host accepts: 1 to 64 characters from `A-Z`, `0-9`
    /// and `_`. Use it in unit tests to catch a bad name before the host does.
    #[must_use]
    pub fn is_valid_name(name: &str) -> bool {
        (1..=Self::MAX_NAME_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
    }

    /// Whether the host will accept this symbol: a valid name, a finite score and a detail
    /// of at most 1 KiB.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        Self::is_valid_name(&self.name)
            && self.score.is_finite()
            && self.detail.len() <= Self::MAX_DETAIL_LEN
    }

    fn into_wit(self) -> wit::Symbol {
        wit::Symbol {
            name: self.name,
            score: self.score,
            detail: self.detail,
        }
    }
}

/// A plugin's answer for one stage call, built with chained calls:
///
/// ```
/// use moat_sdk::{Action, Verdict};
///
/// let verdict = Verdict::new()
///     .symbol("GTUBE", 100.0, "body contains the GTUBE test string")
///     .action(Action::Reject)
///     .annotate("gtube", "yes");
/// assert!(!verdict.is_empty());
/// assert_eq!(verdict.action, Some(Action::Reject));
/// ```
///
/// The fields are public so plugins can also push findings in a loop and tests can
/// inspect the answer. See [`Symbol`] for the rules the host enforces on symbols.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Verdict {
    /// The findings; may be empty.
    pub symbols: Vec<Symbol>,
    /// An action demanded regardless of the score. The host honours it only when the
    /// operator set `allow_hard_action = true` for this plugin; otherwise it is recorded in
    /// the report and ignored.
    pub action: Option<Action>,
    /// Notes for the plugins that run after this one for the same message.
    pub annotations: Vec<Annotation>,
}

impl Verdict {
    /// An empty verdict: no findings, no action, no notes. "Nothing to say."
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a finding named `name` with the plugin's `score` and a short human `detail`.
    /// The name must follow the rules on [`Symbol`].
    pub fn symbol(
        mut self,
        name: impl Into<String>,
        score: f64,
        detail: impl Into<String>,
    ) -> Self {
        self.symbols.push(Symbol::new(name, score, detail));
        self
    }

    /// Demands `action` regardless of the score (honoured only where the operator allows
    /// this plugin hard actions). A later call replaces an earlier one.
    pub fn action(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    /// Leaves a note under `key` (lower-case kebab case, at most 64 bytes) for the plugins
    /// that run after this one, readable there with [`Session::annotation`](crate::Session::annotation).
    pub fn annotate(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.push(Annotation::new(key, value));
        self
    }

    /// Whether the verdict says nothing: no symbols, no action and no annotations.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty() && self.action.is_none() && self.annotations.is_empty()
    }

    pub(crate) fn into_wit(self) -> wit::Verdict {
        wit::Verdict {
            symbols: self.symbols.into_iter().map(Symbol::into_wit).collect(),
            action: self.action.map(Action::into_wit),
            annotations: self
                .annotations
                .into_iter()
                .map(Annotation::into_wit)
                .collect(),
        }
    }
}

impl FromIterator<Symbol> for Verdict {
    /// A verdict holding these findings and nothing else.
    fn from_iter<I: IntoIterator<Item = Symbol>>(symbols: I) -> Self {
        Self {
            symbols: symbols.into_iter().collect(),
            ..Self::default()
        }
    }
}

impl Extend<Symbol> for Verdict {
    /// Adds these findings.
    fn extend<I: IntoIterator<Item = Symbol>>(&mut self, symbols: I) {
        self.symbols.extend(symbols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_verdict_is_empty() {
        assert!(Verdict::new().is_empty());
        assert!(!Verdict::new().action(Action::Tag).is_empty());
        assert!(!Verdict::new().annotate("k", "v").is_empty());
    }

    #[test]
    fn builder_keeps_order_and_last_action() {
        let verdict = Verdict::new()
            .symbol("A", 1.0, "first")
            .symbol("B", -2.0, "second")
            .action(Action::Reject)
            .action(Action::Quarantine);
        let names: Vec<&str> = verdict.symbols.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(verdict.action, Some(Action::Quarantine));
    }

    #[test]
    fn symbol_name_rule() {
        assert!(Symbol::is_valid_name("GTUBE"));
        assert!(Symbol::is_valid_name("R_SPF_FAIL_2"));
        assert!(Symbol::is_valid_name(&"A".repeat(64)));
        assert!(!Symbol::is_valid_name(""));
        assert!(!Symbol::is_valid_name(&"A".repeat(65)));
        assert!(!Symbol::is_valid_name("lower"));
        assert!(!Symbol::is_valid_name("WITH SPACE"));
        assert!(!Symbol::is_valid_name("DASH-ED"));
        assert!(!Symbol::is_valid_name("ÄRGER"));
    }

    #[test]
    fn symbol_validity_checks_score_and_detail() {
        assert!(Symbol::new("OK", 1.0, "fine").is_valid());
        assert!(!Symbol::new("OK", f64::NAN, "").is_valid());
        assert!(!Symbol::new("OK", f64::INFINITY, "").is_valid());
        assert!(!Symbol::new("OK", 1.0, "x".repeat(1025)).is_valid());
    }

    #[test]
    fn converts_to_wit() {
        let verdict = Verdict::new()
            .symbol("X", 2.5, "d")
            .action(Action::Tempfail)
            .annotate("ocr-text", "hello")
            .into_wit();
        assert_eq!(verdict.symbols.len(), 1);
        assert_eq!(verdict.symbols[0].name, "X");
        assert_eq!(verdict.symbols[0].score, 2.5);
        assert_eq!(verdict.action, Some(wit::Action::Tempfail));
        assert_eq!(verdict.annotations[0].key, "ocr-text");
    }

    #[test]
    fn collects_symbols() {
        let verdict: Verdict = vec![Symbol::new("A", 1.0, ""), Symbol::new("B", 1.0, "")]
            .into_iter()
            .collect();
        assert_eq!(verdict.symbols.len(), 2);
        assert_eq!(verdict.action, None);
    }
}
