//! `[headers]`: which verdict fields Moat adds to the mail it accepts — SpamAssassin's,
//! which mail clients and Sieve scripts filter on, and Moat's own report — and whether
//! the mail of the submission listeners gets them too. The fields' text is built in
//! `smtp/headers.rs`; this only names them and says which are on.

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::smtp::ListenerKind;

/// One verdict field Moat can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictField {
    /// `X-Spam-Flag: YES` (tagged or quarantined) or `NO`.
    SpamFlag,
    /// `X-Spam-Score: 7.30`.
    SpamScore,
    /// `X-Spam-Level: *******`.
    SpamLevel,
    /// `X-Spam-Status: Yes, score=7.3 required=5.0 tests=… autolearn=no version=…`.
    SpamStatus,
    /// `X-Moat-Report: action=tag score=7.30; plugin.SYMBOL(contribution), …`.
    Report,
}

impl VerdictField {
    /// Every field, in the order a message carries them (SpamAssassin's own order, with
    /// the score after the flag and Moat's report last).
    pub const ALL: [Self; 5] = [
        Self::SpamFlag,
        Self::SpamScore,
        Self::SpamLevel,
        Self::SpamStatus,
        Self::Report,
    ];

    /// The header field name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SpamFlag => "X-Spam-Flag",
            Self::SpamScore => "X-Spam-Score",
            Self::SpamLevel => "X-Spam-Level",
            Self::SpamStatus => "X-Spam-Status",
            Self::Report => "X-Moat-Report",
        }
    }

    /// The `[headers]` key that switches it.
    pub fn key(self) -> &'static str {
        match self {
            Self::SpamFlag => "spam_flag",
            Self::SpamScore => "spam_score",
            Self::SpamLevel => "spam_level",
            Self::SpamStatus => "spam_status",
            Self::Report => "report",
        }
    }
}

/// `[headers]`: the verdict fields on accepted mail (a quarantined message carries them
/// too, so a released one is delivered with them). Each is on by default. Read at start.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HeadersConfig {
    /// `spam_flag = true`: `X-Spam-Flag: YES` when the message is tagged or quarantined,
    /// `NO` otherwise.
    pub spam_flag: bool,
    /// `spam_score = true`: `X-Spam-Score`, the score with two decimals.
    pub spam_score: bool,
    /// `spam_level = true`: `X-Spam-Level`, one `*` per whole point (at most 50).
    pub spam_level: bool,
    /// `spam_status = true`: `X-Spam-Status` in SpamAssassin's format, `required` being
    /// the tag threshold.
    pub spam_status: bool,
    /// `report = true`: `X-Moat-Report`, the action, the score and every symbol with its
    /// plugin and contribution.
    pub report: bool,
    /// `submission = false`: add them to the mail of the submission listeners too. Off,
    /// users' outgoing mail leaves without Moat's verdict on it, as SpamAssassin and
    /// rspamd setups do by default: the recipients' filters judge it themselves.
    pub submission: bool,
}

impl Default for HeadersConfig {
    fn default() -> Self {
        Self {
            spam_flag: true,
            spam_score: true,
            spam_level: true,
            spam_status: true,
            report: true,
            submission: false,
        }
    }
}

impl HeadersConfig {
    /// Whether messages get `field`.
    pub fn adds(&self, field: VerdictField) -> bool {
        match field {
            VerdictField::SpamFlag => self.spam_flag,
            VerdictField::SpamScore => self.spam_score,
            VerdictField::SpamLevel => self.spam_level,
            VerdictField::SpamStatus => self.spam_status,
            VerdictField::Report => self.report,
        }
    }

    /// Whether mail received on a listener of `kind` gets the verdict fields.
    pub fn on(&self, kind: ListenerKind) -> bool {
        !kind.is_submission() || self.submission
    }

    /// A field Moat adds must be one a sender cannot write: else a sender's own copy,
    /// `X-Spam-Flag: NO` say, would reach the mailbox beside Moat's.
    pub(super) fn problems(&self, strip_headers: &[String]) -> Vec<Problem> {
        let kept: Vec<&str> = VerdictField::ALL
            .into_iter()
            .filter(|field| self.adds(*field) && !strips(strip_headers, field.name()))
            .map(VerdictField::name)
            .collect();
        if kept.is_empty() {
            return Vec::new();
        }
        vec![Problem {
            key: "smtp.strip_headers".into(),
            reason: format!(
                "must remove {}, which Moat adds ([headers]): a sender's own copies would be \
                 delivered beside Moat's; or switch them off in [headers]",
                kept.join(", ")
            ),
        }]
    }
}

/// Whether `[smtp] strip_headers` removes the field `name` (a trailing `*` is a prefix;
/// any case), as `smtp/header_fields.rs` applies it.
fn strips(strip_headers: &[String], name: &str) -> bool {
    strip_headers
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => name
                .get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix)),
            None => name.eq_ignore_ascii_case(pattern),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_moat_adds_must_be_stripped_from_what_senders_write() {
        let strip = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        let all_on = HeadersConfig::default();
        assert!(
            all_on
                .problems(&strip(&["X-Spam", "X-Spam-*", "X-Moat-*"]))
                .is_empty()
        );
        assert!(
            all_on
                .problems(&strip(&["x-spam-*", "X-MOAT-REPORT"]))
                .is_empty()
        );
        let problems = all_on.problems(&strip(&["X-Spam-Flag", "X-Moat-*"]));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .reason
                .starts_with("must remove X-Spam-Score, X-Spam-Level, X-Spam-Status,"),
            "{}",
            problems[0].reason
        );
        let only_the_flag = HeadersConfig {
            spam_score: false,
            spam_level: false,
            spam_status: false,
            report: false,
            ..all_on
        };
        assert!(only_the_flag.problems(&strip(&["X-Spam-Flag"])).is_empty());
    }

    #[test]
    fn submission_mail_gets_the_fields_only_when_asked() {
        let default = HeadersConfig::default();
        assert!(default.on(ListenerKind::Mx));
        assert!(!default.on(ListenerKind::Submission));
        assert!(!default.on(ListenerKind::Submissions));
        let both = HeadersConfig {
            submission: true,
            ..default
        };
        assert!(both.on(ListenerKind::Submissions));
    }
}
