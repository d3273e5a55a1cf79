//! What one line of the decision log holds: a decision, or what the operator later said
//! a message was.

use serde::{Deserialize, Serialize};

use crate::config::{OnError, Stage};
use crate::filter::Action;
use crate::filter::combine::{PluginOutcome, PluginResult};
use crate::filter::pipeline::Direction;

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A decision.
    Decision(DecisionRecord),
    /// What the operator said a logged message was.
    Label(LabelEvent),
}

/// One decision, with every plugin answer it was combined from (but not the symbols'
/// explanations: the log keeps what re-weighing needs, `moat check` explains).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The queue id, when the message was stored (queued or quarantined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// The body digest (`identity::body_digest`); empty for a refusal before DATA.
    #[serde(default)]
    pub digest: String,
    /// The Message-ID without its brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The Subject, cut to 100 characters, for the operator reading a replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Inbound (MX) or outbound (submission): which thresholds decided.
    pub direction: Direction,
    /// The stage the decision was taken at (`data` for a message).
    pub stage: Stage,
    /// The client.
    pub client: LoggedClient,
    /// The envelope sender (empty for the null sender or before MAIL FROM).
    #[serde(default)]
    pub mail_from: String,
    /// The envelope recipients.
    #[serde(default)]
    pub rcpt_to: Vec<String>,
    /// The action taken.
    pub action: Action,
    /// The score.
    pub score: f64,
    /// Every plugin answer, in the order they were combined.
    pub results: Vec<LoggedResult>,
}

/// The client as the plugins saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedClient {
    /// Its address.
    pub ip: String,
    /// Its EHLO name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// Its verified reverse DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverse_dns: Option<String>,
    /// Its SMTP-AUTH user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// One plugin's answer at one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedResult {
    /// The plugin instance.
    pub plugin: String,
    /// The stage.
    pub stage: Stage,
    /// The plugin's own default weight (what its symbols weigh when no configuration
    /// says otherwise), so that a replay can drop the operator's `weight`.
    pub default_weight: f64,
    /// What it answered.
    #[serde(flatten)]
    pub outcome: LoggedOutcome,
}

/// A plugin's answer, its failure, or that it was not called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoggedOutcome {
    /// Its symbols (name, score) and the hard action it demanded.
    Answered {
        /// Symbol names and their scores.
        symbols: Vec<(String, f64)>,
        /// The action it demanded, honoured or not.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hard_action: Option<Action>,
    },
    /// The call failed; `on_error` is the policy that applied.
    Failed {
        /// How, as reported.
        error: String,
        /// `skip` or `tempfail`.
        on_error: OnError,
    },
    /// Not called: the message was over its size limit.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// What a message turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truth {
    /// Spam.
    Spam,
    /// Not spam.
    Ham,
}

impl From<crate::filter::pipeline::Label> for Truth {
    fn from(label: crate::filter::pipeline::Label) -> Self {
        match label {
            crate::filter::pipeline::Label::Spam => Truth::Spam,
            crate::filter::pipeline::Label::Ham => Truth::Ham,
        }
    }
}

/// Who said what a message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSource {
    /// The operator released it from quarantine: ham.
    Release,
    /// `moat learn spam|ham`.
    Learn,
    /// `moat learn --forget`: what was said before no longer holds.
    Forget,
}

/// What the operator said a logged message was. It names the message by queue id, else
/// by Message-ID, else by body digest (`identity`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelEvent {
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// What the message is; `None` when a label is taken back.
    pub truth: Option<Truth>,
    /// Who said so.
    pub source: LabelSource,
    /// The message's queue id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_id: Option<String>,
    /// Its Message-ID without brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Its body digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The longest Subject kept in the log, in characters.
const SUBJECT_CHARS: usize = 100;

impl DecisionRecord {
    /// The Subject of `message` as the log keeps it (cut to 100 characters).
    pub fn subject_of(message: &crate::message::ParsedMessage) -> Option<String> {
        message
            .header("Subject")
            .map(|s| s.chars().take(SUBJECT_CHARS).collect())
    }
}

impl LabelEvent {
    /// The operator's word on `message` through `moat learn`: `truth`, or with `None`
    /// (`--forget`) that what was said before no longer holds.
    pub fn learnt(
        message: &crate::message::ParsedMessage,
        truth: Option<Truth>,
        time: u64,
    ) -> Self {
        let identity = super::identity::MessageIdentity::of(message);
        Self {
            time,
            truth,
            source: if truth.is_some() {
                LabelSource::Learn
            } else {
                LabelSource::Forget
            },
            queue_id: None,
            message_id: identity.message_id,
            digest: Some(identity.digest),
        }
    }
}

impl LoggedResult {
    /// The logged form of every result, each with its plugin's default weight (1.0 for a
    /// plugin not among `plugins`).
    pub fn all(
        results: &[PluginResult],
        plugins: &[std::sync::Arc<crate::filter::plugin::LoadedPlugin>],
    ) -> Vec<Self> {
        let default_weight = |name: &str| {
            plugins
                .iter()
                .find(|p| p.name == name)
                .map_or(1.0, |p| p.info.default_weight)
        };
        results
            .iter()
            .map(|r| Self::of(r, default_weight(&r.plugin)))
            .collect()
    }

    /// The logged form of `result`; `default_weight` is the plugin's own.
    pub fn of(result: &PluginResult, default_weight: f64) -> Self {
        let outcome = match &result.outcome {
            PluginOutcome::Answered { verdict, .. } => LoggedOutcome::Answered {
                symbols: verdict
                    .symbols
                    .iter()
                    .map(|s| (s.name.clone(), s.score))
                    .collect(),
                hard_action: verdict.action,
            },
            PluginOutcome::Failed { error, on_error } => LoggedOutcome::Failed {
                error: format!("{}: {error}", error.kind()),
                on_error: *on_error,
            },
            PluginOutcome::Skipped { reason } => LoggedOutcome::Skipped {
                reason: reason.clone(),
            },
        };
        Self {
            plugin: result.plugin.clone(),
            stage: result.stage,
            default_weight,
            outcome,
        }
    }
}

impl Entry {
    /// The entry as one line of JSON, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::error::PluginError;
    use crate::filter::{Symbol, Verdict};

    #[test]
    fn a_decision_line_reads_back_as_written() {
        let answered = PluginResult {
            plugin: "bayes".into(),
            stage: Stage::Data,
            outcome: PluginOutcome::Answered {
                verdict: Verdict {
                    symbols: vec![Symbol {
                        name: "BAYES_SPAM".into(),
                        score: 4.5,
                        detail: "not logged".into(),
                    }],
                    action: Some(Action::Reject),
                    annotations: Vec::new(),
                },
                hard_action_allowed: false,
            },
        };
        let failed = PluginResult {
            plugin: "dnsbl".into(),
            stage: Stage::Connect,
            outcome: PluginOutcome::Failed {
                error: PluginError::StackOverflow,
                on_error: OnError::Tempfail,
            },
        };
        let entry = Entry::Decision(DecisionRecord {
            time: 1_700_000_000_000,
            queue_id: Some("Q1".into()),
            digest: "ab".repeat(16),
            message_id: Some("a@b".into()),
            subject: Some("hi".into()),
            direction: Direction::Inbound,
            stage: Stage::Data,
            client: LoggedClient {
                ip: "192.0.2.1".into(),
                helo: Some("mx.example".into()),
                reverse_dns: None,
                user: None,
            },
            mail_from: "a@example.org".into(),
            rcpt_to: vec!["b@example.net".into()],
            action: Action::Tag,
            score: 6.5,
            results: vec![
                LoggedResult::of(&answered, 1.0),
                LoggedResult::of(&failed, 2.0),
            ],
        });
        let line = entry.to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        let text = String::from_utf8(line.clone()).unwrap();
        assert!(!text.contains("not logged"), "{text}");
        let back: Entry = serde_json::from_slice(&line).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn a_label_line_reads_back_as_written() {
        let entry = Entry::Label(LabelEvent {
            time: 5,
            truth: Some(Truth::Ham),
            source: LabelSource::Release,
            queue_id: Some("Q1".into()),
            message_id: None,
            digest: None,
        });
        let back: Entry = serde_json::from_slice(&entry.to_line()).unwrap();
        assert_eq!(back, entry);
    }
}
