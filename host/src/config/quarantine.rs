//! `[quarantine]`: how long messages the filters held back are kept.

use serde::{Deserialize, Serialize};

use super::delivery::MaxAge;
use super::units::HumanDuration;

/// `[quarantine]`: the retention of quarantined messages.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuarantineConfig {
    /// `max_age = "30d"`: a quarantined message not released or deleted by then is deleted
    /// (checked every few minutes); `"forever"` keeps everything.
    #[serde(default = "default_max_age")]
    pub max_age: MaxAge,
}

impl Default for QuarantineConfig {
    fn default() -> Self {
        Self {
            max_age: default_max_age(),
        }
    }
}

fn default_max_age() -> MaxAge {
    MaxAge::Limit(HumanDuration(std::time::Duration::from_secs(30 * 86_400)))
}
