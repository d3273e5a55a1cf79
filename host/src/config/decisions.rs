//! `[decisions]`: the decision log, every verdict with its symbols kept in the data dir
//! for `moat replay` and `moat tune`.

use serde::{Deserialize, Serialize};

use super::delivery::MaxAge;
use super::error::Problem;
use super::units::{ByteSize, HumanDuration};

/// `[decisions]`: whether decisions are logged and how much of the log is kept.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DecisionsConfig {
    /// `enabled = true`: log every decision (client, envelope, each symbol's score, the
    /// action) under `decisions/` in the data dir. Off: `moat replay` and `moat tune`
    /// have only labelled corpora to work from.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// `max_age = "30d"`: decisions older than this are deleted (a day's file at a time);
    /// `"forever"` keeps them until `max_size`.
    #[serde(default = "default_max_age")]
    pub max_age: MaxAge,
    /// `max_size = "1GiB"`: the log's size on disk at most; past it the oldest file goes.
    #[serde(default = "default_max_size")]
    pub max_size: ByteSize,
}

impl Default for DecisionsConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            max_age: default_max_age(),
            max_size: default_max_size(),
        }
    }
}

fn default_enabled() -> bool {
    true
}
fn default_max_age() -> MaxAge {
    MaxAge::Limit(HumanDuration(std::time::Duration::from_secs(30 * 86_400)))
}
fn default_max_size() -> ByteSize {
    ByteSize(1 << 30)
}

/// The smallest `max_size`: room for a few thousand decisions.
const MIN_MAX_SIZE: u64 = 1 << 20;

impl DecisionsConfig {
    /// Problems with the log's bounds.
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.max_size.0 < MIN_MAX_SIZE {
            problems.push(Problem {
                key: "decisions.max_size".into(),
                reason: format!("must be at least 1MiB, not {}", self.max_size),
            });
        }
        if let MaxAge::Limit(age) = self.max_age
            && age.0 < std::time::Duration::from_secs(3600)
        {
            problems.push(Problem {
                key: "decisions.max_age".into(),
                reason: format!("must be at least 1h, not {age}"),
            });
        }
        problems
    }
}
