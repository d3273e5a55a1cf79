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
/// the labels given for them at any time, all in memory. [`scan_log`] streams instead.
pub fn read_log(dir: &Path, since_ms: Option<u64>) -> io::Result<LogReading> {
    let mut decisions = Vec::new();
    let unreadable_lines = scan_log(dir, since_ms, |decision| decisions.push(decision))?;
    Ok(LogReading {
        decisions,
        unreadable_lines,
    })
}

/// Hands each decision taken at or after `since_ms`, with its truth, to `each`, oldest
/// first, holding only the labels in memory; returns the lines that could not be read.
pub fn scan_log(
    dir: &Path,
    since_ms: Option<u64>,
    mut each: impl FnMut(LoggedDecision),
) -> io::Result<usize> {
    let segments = list(dir)?;
    let mut labels = LabelIndex::default();
    let mut unreadable = 0;
    for segment in &segments {
        for_each_line(&segment.path, |line| {
            if line.starts_with(LABEL_PREFIX) {
                match serde_json::from_slice::<Entry>(line) {
                    Ok(Entry::Label(label)) => labels.add(label),
                    _ => unreadable += 1,
                }
            }
        })?;
    }
    for (i, segment) in segments.iter().enumerate() {
        // A file whose successor began before `since` holds nothing newer than it.
        if let (Some(since), Some(next)) = (since_ms, segments.get(i + 1))
            && next.start_ms < since
        {
            continue;
        }
        for_each_line(&segment.path, |line| {
            if line.starts_with(LABEL_PREFIX) {
                return;
            }
            match serde_json::from_slice::<Entry>(line) {
                Ok(Entry::Decision(record)) => {
                    if since_ms.is_none_or(|since| record.time >= since) {
                        let truth = labels.truth_for(&record);
                        each(LoggedDecision { record, truth });
                    }
                }
                _ => unreadable += 1,
            }
        })?;
    }
    Ok(unreadable)
}

/// How a label line begins (the tag is written first).
const LABEL_PREFIX: &[u8] = b"{\"kind\":\"label\"";

/// Calls `each` with every non-empty line of the file at `path`; a file pruned meanwhile
/// has no lines.
fn for_each_line(path: &Path, mut each: impl FnMut(&[u8])) -> io::Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for line in io::BufReader::new(file).split(b'\n') {
        let line = line?;
        if !line.is_empty() {
            each(&line);
        }
    }
    Ok(())
}

/// The labels by the three names a message goes by, each with its events in the order
/// given: (time, truth).
#[derive(Default)]
struct LabelIndex {
    by_queue_id: HashMap<String, Vec<(u64, Option<Truth>)>>,
    by_message_id: HashMap<String, Vec<(u64, Option<Truth>)>>,
    by_digest: HashMap<String, Vec<(u64, Option<Truth>)>>,
}

impl LabelIndex {
    fn add(&mut self, label: LabelEvent) {
        let event = (label.time, label.truth);
        for (key, map) in [
            (label.queue_id, &mut self.by_queue_id),
            (label.message_id, &mut self.by_message_id),
            (label.digest, &mut self.by_digest),
        ] {
            if let Some(key) = key {
                map.entry(key).or_default().push(event);
            }
        }
    }

    /// The truth of the last label given after `record` under its queue id, else (none
    /// there) its Message-ID, else its body digest.
    fn truth_for(&self, record: &DecisionRecord) -> Option<Truth> {
        let keys = [
            (record.queue_id.as_deref(), &self.by_queue_id),
            (record.message_id.as_deref(), &self.by_message_id),
            (
                (!record.digest.is_empty()).then_some(record.digest.as_str()),
                &self.by_digest,
            ),
        ];
        for (key, map) in keys {
            let Some(events) = key.and_then(|k| map.get(k)) else {
                continue;
            };
            if let Some((_, truth)) = events.iter().rev().find(|(time, _)| *time >= record.time) {
                return *truth;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::record::LabelSource;
    use crate::decisions::segments::append_now;

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
            ..crate::decisions::testing::record()
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
    fn a_label_whose_message_id_was_never_logged_falls_back_to_the_digest() {
        let dir = tempfile::tempdir().unwrap();
        // A copy whose Message-ID a later hop added: only the body names it.
        write(
            dir.path(),
            &[
                decision(10, None, None, "d5"),
                label(20, Some(Truth::Spam), None, Some("added-later"), Some("d5")),
            ],
            10,
        );
        let reading = read_log(dir.path(), None).unwrap();
        assert_eq!(reading.decisions[0].truth, Some(Truth::Spam));
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
