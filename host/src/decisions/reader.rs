//! The log read back: every decision since a time, each with what the operator later
//! said it was. Lines that do not parse (the line a running writer is half-way through,
//! a damaged file) are counted, not fatal.

use std::collections::HashMap;
use std::io::{self, BufRead as _};
use std::path::Path;

use super::record::{DecisionRecord, Entry, LabelEvent, Truth};
use super::segments::list;

/// A logged decision and the truth about its message, where the operator told it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedDecision {
    /// The decision.
    pub record: DecisionRecord,
    /// Spam or ham, from the last label that named the message.
    pub truth: Option<Truth>,
}

/// What reading the log found.
#[derive(Debug, Default)]
pub struct LogReading {
    /// The decisions, oldest first.
    pub decisions: Vec<LoggedDecision>,
    /// Lines that could not be read.
    pub unreadable_lines: usize,
}

impl LogReading {
    /// How many decisions have a truth, as (spam, ham).
    pub fn labelled(&self) -> (usize, usize) {
        self.decisions
            .iter()
            .fold((0, 0), |(spam, ham), d| match d.truth {
                Some(Truth::Spam) => (spam + 1, ham),
                Some(Truth::Ham) => (spam, ham + 1),
                None => (spam, ham),
            })
    }
}

/// Reads the log in `dir`: decisions taken at or after `since_ms` (all without it), with
/// the labels given for them at any time.
pub fn read_log(dir: &Path, since_ms: Option<u64>) -> io::Result<LogReading> {
    let segments = list(dir)?;
    let mut reading = LogReading::default();
    let mut labels = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        // A file whose successor began before `since` holds nothing newer than it.
        if let (Some(since), Some(next)) = (since_ms, segments.get(i + 1))
            && next.start_ms < since
        {
            continue;
        }
        let file = match std::fs::File::open(&segment.path) {
            Ok(file) => file,
            // Pruned since it was listed.
            Err(error) if error.kind() == io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error),
        };
        for line in io::BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Entry>(&line) {
                Ok(Entry::Decision(record)) => {
                    if since_ms.is_none_or(|since| record.time >= since) {
                        reading.decisions.push(LoggedDecision {
                            record,
                            truth: None,
                        });
                    }
                }
                Ok(Entry::Label(label)) => labels.push(label),
                Err(_) => reading.unreadable_lines += 1,
            }
        }
    }
    apply_labels(&mut reading.decisions, &labels);
    Ok(reading)
}

/// Gives each decision the truth of the last label naming its message (by queue id,
/// else Message-ID, else body digest) given after it.
fn apply_labels(decisions: &mut [LoggedDecision], labels: &[LabelEvent]) {
    let mut by_queue_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_message_id: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_digest: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, decision) in decisions.iter().enumerate() {
        let record = &decision.record;
        if let Some(id) = &record.queue_id {
            by_queue_id.entry(id).or_default().push(i);
        }
        if let Some(id) = &record.message_id {
            by_message_id.entry(id).or_default().push(i);
        }
        if !record.digest.is_empty() {
            by_digest.entry(&record.digest).or_default().push(i);
        }
    }
    let mut truths: Vec<(usize, Option<Truth>)> = Vec::new();
    for label in labels {
        let named = if let Some(id) = &label.queue_id {
            by_queue_id.get(id.as_str())
        } else if let Some(id) = &label.message_id {
            by_message_id.get(id.as_str())
        } else if let Some(digest) = &label.digest {
            by_digest.get(digest.as_str())
        } else {
            None
        };
        for &i in named.into_iter().flatten() {
            if decisions[i].record.time <= label.time {
                truths.push((i, label.truth));
            }
        }
    }
    for (i, truth) in truths {
        decisions[i].truth = truth;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Stage;
    use crate::decisions::record::{LabelSource, LoggedClient};
    use crate::decisions::segments::append_now;
    use crate::filter::Action;
    use crate::filter::pipeline::Direction;

    fn decision(
        time: u64,
        queue_id: Option<&str>,
        message_id: Option<&str>,
        digest: &str,
    ) -> Entry {
        Entry::Decision(DecisionRecord {
            time,
            queue_id: queue_id.map(Into::into),
            digest: digest.into(),
            message_id: message_id.map(Into::into),
            subject: None,
            direction: Direction::Inbound,
            stage: Stage::Data,
            client: LoggedClient {
                ip: "192.0.2.1".into(),
                helo: None,
                reverse_dns: None,
                user: None,
            },
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            action: Action::Accept,
            score: 0.0,
            results: Vec::new(),
        })
    }

    fn label(
        time: u64,
        truth: Option<Truth>,
        queue_id: Option<&str>,
        message_id: Option<&str>,
        digest: Option<&str>,
    ) -> Entry {
        Entry::Label(LabelEvent {
            time,
            truth,
            source: LabelSource::Learn,
            queue_id: queue_id.map(Into::into),
            message_id: message_id.map(Into::into),
            digest: digest.map(Into::into),
        })
    }

    fn write(dir: &Path, entries: &[Entry], now_ms: u64) {
        let lines: Vec<u8> = entries.iter().flat_map(Entry::to_line).collect();
        append_now(dir, &lines, now_ms).unwrap();
    }

    #[test]
    fn labels_find_their_decisions_by_queue_id_message_id_or_digest() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                decision(10, Some("Q1"), Some("m1"), "d1"),
                decision(11, None, Some("m2"), "d2"),
                decision(12, None, None, "d3"),
                decision(13, None, None, "d4"),
                label(20, Some(Truth::Ham), Some("Q1"), None, None),
                label(21, Some(Truth::Spam), None, Some("m2"), Some("other")),
                label(22, Some(Truth::Spam), None, None, Some("d3")),
                // Said, then taken back.
                label(23, Some(Truth::Spam), None, None, Some("d4")),
                label(24, None, None, None, Some("d4")),
            ],
            10,
        );
        let reading = read_log(dir.path(), None).unwrap();
        let truths: Vec<_> = reading.decisions.iter().map(|d| d.truth).collect();
        assert_eq!(
            truths,
            [Some(Truth::Ham), Some(Truth::Spam), Some(Truth::Spam), None]
        );
        assert_eq!(reading.labelled(), (2, 1));
        assert_eq!(reading.unreadable_lines, 0);
    }

    #[test]
    fn since_keeps_later_decisions_and_a_torn_line_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[decision(10, None, None, "a"), decision(30, None, None, "b")],
            10,
        );
        append_now(dir.path(), b"{\"kind\":\"decis", 40).unwrap();
        let reading = read_log(dir.path(), Some(20)).unwrap();
        assert_eq!(reading.decisions.len(), 1);
        assert_eq!(reading.decisions[0].record.digest, "b");
        assert_eq!(reading.unreadable_lines, 1);
    }

    #[test]
    fn a_label_given_before_a_decision_does_not_apply_to_it() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            &[
                label(5, Some(Truth::Spam), None, None, Some("d")),
                decision(10, None, None, "d"),
            ],
            5,
        );
        let reading = read_log(dir.path(), None).unwrap();
        assert_eq!(reading.decisions[0].truth, None);
    }

    #[test]
    fn no_log_reads_as_no_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let reading = read_log(&dir.path().join("missing"), None).unwrap();
        assert!(reading.decisions.is_empty());
    }
}
