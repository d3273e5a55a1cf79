//! `[submission]`: the accounts that may send through the submission listeners, how
//! failed logins are limited, how much each account may send, and the thresholds the
//! outbound filter pipeline decides with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::filter::Thresholds;
use super::units::HumanDuration;

/// `[submission]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SubmissionConfig {
    /// `users_file = "users.toml"`: the accounts (`moat user` edits it; the server reads
    /// changes without a restart). Unset: `users.toml` in the data directory.
    #[serde(default)]
    pub users_file: Option<PathBuf>,
    /// `max_auth_failures = 5`: failed logins from one client address, or as one account,
    /// within `auth_failure_window` that lock it out.
    #[serde(default = "default_max_auth_failures")]
    pub max_auth_failures: u32,
    /// `auth_failure_window = "5m"`: how long a failed login counts.
    #[serde(default = "default_auth_failure_window")]
    pub auth_failure_window: HumanDuration,
    /// `auth_lockout = "10m"`: how long a locked-out address or account is refused
    /// (`454 4.7.0`) without its password being looked at.
    #[serde(default = "default_auth_lockout")]
    pub auth_lockout: HumanDuration,
    /// `max_messages_per_hour = 200`: messages one account may send per hour (a burst of
    /// that many, then that rate); more get `450 4.7.1`. 0: unlimited.
    #[serde(default = "default_max_messages_per_hour")]
    pub max_messages_per_hour: u32,
    /// `max_recipients_per_hour = 1000`: recipients one account may send to per hour.
    /// 0: unlimited.
    #[serde(default = "default_max_recipients_per_hour")]
    pub max_recipients_per_hour: u32,
    /// `[submission.thresholds]`: score → action for mail from authenticated users (the
    /// outbound pipeline), separate from the inbound `[thresholds]`.
    #[serde(default)]
    pub thresholds: Thresholds,
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        Self {
            users_file: None,
            max_auth_failures: default_max_auth_failures(),
            auth_failure_window: default_auth_failure_window(),
            auth_lockout: default_auth_lockout(),
            max_messages_per_hour: default_max_messages_per_hour(),
            max_recipients_per_hour: default_max_recipients_per_hour(),
            thresholds: Thresholds::default(),
        }
    }
}

fn default_max_auth_failures() -> u32 {
    5
}
fn default_auth_failure_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_auth_lockout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_max_messages_per_hour() -> u32 {
    200
}
fn default_max_recipients_per_hour() -> u32 {
    1000
}

impl SubmissionConfig {
    /// The users file: `users_file`, or `users.toml` in `data_dir`.
    pub fn users_path(&self, data_dir: &Path) -> PathBuf {
        self.users_file
            .clone()
            .unwrap_or_else(|| data_dir.join("users.toml"))
    }

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = self.thresholds.problems_at("submission.thresholds");
        if self.max_auth_failures == 0 {
            problems.push(Problem {
                key: "submission.max_auth_failures".into(),
                reason: "must be at least 1".into(),
            });
        }
        for (key, value) in [
            ("auth_failure_window", self.auth_failure_window),
            ("auth_lockout", self.auth_lockout),
        ] {
            if value.0.is_zero() {
                problems.push(Problem {
                    key: format!("submission.{key}"),
                    reason: "must be more than 0s".into(),
                });
            }
        }
        problems
    }
}
