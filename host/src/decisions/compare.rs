//! Two sets of decisions on the same messages side by side: how many went from each
//! action to each other, which messages changed, and — where the truth is known — spam
//! caught and ham flagged under each. What `moat replay` prints.

use serde::Serialize;

use super::record::{DecisionRecord, Truth};
use super::replay::TruthRates;
use crate::filter::Action;

/// The actions in the order the matrix lists them.
pub const ACTIONS: [Action; 5] = [
    Action::Accept,
    Action::Tag,
    Action::Quarantine,
    Action::Reject,
    Action::Tempfail,
];

fn index(action: Action) -> usize {
    ACTIONS.iter().position(|a| *a == action).unwrap_or(0)
}

/// One message whose action changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// When it was decided (ms since the epoch).
    pub time: u64,
    /// Its queue id, else its Message-ID, else its body digest.
    pub id: String,
    /// The envelope sender.
    pub mail_from: String,
    /// Its Subject.
    pub subject: Option<String>,
    /// What it was known to be.
    pub truth: Option<Truth>,
    /// The action before.
    pub old_action: Action,
    /// The score before.
    pub old_score: f64,
    /// The action now.
    pub new_action: Action,
    /// The score now.
    pub new_score: f64,
}

/// The comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Comparison {
    /// Messages compared.
    pub messages: usize,
    /// `matrix[old][new]`: messages that went from the old action to the new, in
    /// [`ACTIONS`] order.
    pub matrix: [[usize; 5]; 5],
    /// The messages whose action changed, in the order given.
    pub changed: Vec<Change>,
    /// Caught and flagged before, where the truth is known.
    pub old_rates: TruthRates,
    /// Caught and flagged now.
    pub new_rates: TruthRates,
}

/// The log in `dir` (decisions since `since_ms`) re-weighed under `weights`, compared with
/// what was logged; and the lines that could not be read. What `moat replay` prints.
pub fn replay_log(
    dir: &std::path::Path,
    since_ms: Option<u64>,
    weights: &super::ReplayWeights,
) -> std::io::Result<(Comparison, usize)> {
    let mut comparison = Comparison::default();
    let unreadable = super::scan_log(dir, since_ms, |logged| {
        let decision = weights.decide(&logged.record);
        comparison.add(
            &logged.record,
            logged.truth,
            decision.action,
            decision.score,
        );
    })?;
    Ok((comparison, unreadable))
}

impl Comparison {
    /// Adds one message: `record` (its old action and score) and what it is now.
    pub fn add(
        &mut self,
        record: &DecisionRecord,
        truth: Option<Truth>,
        new_action: Action,
        new_score: f64,
    ) {
        self.add_pair(
            record,
            truth,
            (record.action, record.score),
            (new_action, new_score),
        );
    }

    /// Adds one message decided `old` before and `new` now.
    pub fn add_pair(
        &mut self,
        record: &DecisionRecord,
        truth: Option<Truth>,
        (old_action, old_score): (Action, f64),
        (new_action, new_score): (Action, f64),
    ) {
        self.messages += 1;
        self.matrix[index(old_action)][index(new_action)] += 1;
        if let Some(truth) = truth {
            self.old_rates.count(truth, old_action);
            self.new_rates.count(truth, new_action);
        }
        if old_action != new_action {
            self.changed.push(Change {
                time: record.time,
                id: record
                    .queue_id
                    .clone()
                    .or_else(|| record.message_id.clone())
                    .unwrap_or_else(|| record.digest.clone()),
                mail_from: record.mail_from.clone(),
                subject: record.subject.clone(),
                truth,
                old_action,
                old_score,
                new_action,
                new_score,
            });
        }
    }

    /// How many messages the matrix row of `old` holds.
    pub fn row_total(&self, old: Action) -> usize {
        self.matrix[index(old)].iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, action: Action, score: f64) -> DecisionRecord {
        DecisionRecord {
            queue_id: Some(id.into()),
            action,
            score,
            ..crate::decisions::testing::record()
        }
    }

    #[test]
    fn the_matrix_counts_every_message_and_only_changes_are_listed() {
        let mut comparison = Comparison::default();
        comparison.add(
            &record("a", Action::Accept, 1.0),
            Some(Truth::Ham),
            Action::Accept,
            2.0,
        );
        comparison.add(
            &record("b", Action::Accept, 4.0),
            Some(Truth::Spam),
            Action::Tag,
            6.0,
        );
        comparison.add(
            &record("c", Action::Reject, 20.0),
            None,
            Action::Reject,
            20.0,
        );
        assert_eq!(comparison.messages, 3);
        assert_eq!(comparison.matrix[0][0], 1);
        assert_eq!(comparison.matrix[0][1], 1);
        assert_eq!(comparison.matrix[3][3], 1);
        assert_eq!(comparison.row_total(Action::Accept), 2);
        let ids: Vec<&str> = comparison.changed.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["b"]);
        assert_eq!(comparison.old_rates.spam_caught, 0);
        assert_eq!(comparison.new_rates.spam_caught, 1);
        assert_eq!(comparison.new_rates.ham, 1);
    }
}
