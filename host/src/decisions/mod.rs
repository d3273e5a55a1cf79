//! The decision log: every verdict the gateway reaches (client, envelope, each plugin's
//! answer with its symbols' scores, the action), and what the operator later said each
//! message was (released from quarantine, learnt as spam or ham). It is what `moat
//! replay` re-weighs to show a candidate configuration's effect before it goes live, and
//! what `moat tune` learns weights from.
//!
//! JSON lines in files under `decisions/` in the data dir, one file per day or per
//! 1/16 of `[decisions] max_size`, the oldest deleted past `max_age` or `max_size`. A
//! writer thread takes lines from the sessions through a bounded channel (a full channel
//! drops the line and counts it: logging never slows mail) and appends them once a
//! second, without fsync: the log is advice, the queue is the record. Readers (`moat
//! replay`, `moat tune`) read the files directly, with or without a running server.
//!
//! * `record`: what one line holds ([`DecisionRecord`], [`LabelEvent`]).
//! * `identity`: how a message is recognised again (body digest, Message-ID).
//! * `segments`: the files, their rotation and their bounds.
//! * `writer`: [`DecisionLog`], the running server's handle.
//! * `reader`: the log read back with each decision's truth.
//! * `replay`: a logged decision re-combined under other weights and thresholds.
//! * `compare`: two sets of decisions on the same messages side by side.

mod compare;
mod identity;
mod reader;
mod record;
mod replay;
mod segments;
#[cfg(test)]
mod testing;
mod writer;

pub use compare::{ACTIONS, Change, Comparison, replay_log};
pub use identity::{MessageIdentity, body_digest};
pub use reader::{LogReading, LoggedDecision, read_log, scan_log};
pub use record::{
    DecisionRecord, Entry, LabelEvent, LabelSource, LoggedClient, LoggedOutcome, LoggedResult,
    Truth,
};
pub use replay::{ReplayWeights, TruthRates};
pub use segments::append_now;
pub use writer::{DecisionLog, REFUSALS_PER_SECOND};

/// The log's folder in a data dir.
pub fn log_dir(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join("decisions")
}
