//! The recipient verification keys of `[relay]` (`verify_recipients` and the keys that
//! tune it): their values, defaults and checks.
//!
//! The defaults follow Postfix's address verification: a known address is probed again
//! after 7 days (`address_verify_positive_refresh_time`) and an unknown one after 3 hours
//! (`address_verify_negative_refresh_time`); Proxmox Mail Gateway's "verify receivers"
//! is that Postfix feature. Moat has no background refresh, so its TTL is the refresh
//! time: after it, the next RCPT probes again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RelayConfig;
use super::error::Problem;
use super::units::HumanDuration;

/// The longest `verify_timeout`: a sender waits 5 minutes for a RCPT reply (RFC 5321
/// §4.5.3.2.3), and the probe must be answered well within that.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// `[relay] verify_recipients`: whether recipients at protected domains are checked with
/// the protected server before RCPT is answered.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyRecipients {
    /// Any local part is accepted (unless `[relay.recipients]` lists the domain's).
    #[default]
    Off,
    /// Each new recipient is probed on its domain's `[[delivery.route]]` (EHLO, `MAIL
    /// FROM:<>`, `RCPT TO`, `QUIT`) and refused when the server refuses it.
    Downstream,
}

/// `[relay] unverified_recipient_action`: the answer to a recipient whose probe failed
/// (the server down, a 4xx, a timeout).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnverifiedRecipientAction {
    /// 450 4.1.1: the sender tries again later, when the server can answer.
    #[default]
    Tempfail,
    /// Accept, as without verification: mail queues here while the server is down.
    Accept,
}

pub(super) fn default_positive_ttl() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 86_400))
}
pub(super) fn default_negative_ttl() -> HumanDuration {
    HumanDuration(Duration::from_secs(3 * 3600))
}
pub(super) fn default_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}
pub(super) fn default_cache_size() -> usize {
    20_000
}
pub(super) fn default_max_probes() -> usize {
    10
}

/// The problems of `relay`'s verification keys, named `relay.KEY`.
pub(super) fn problems(relay: &RelayConfig) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, key: &str, reason: String| {
        if !ok {
            problems.push(Problem {
                key: format!("relay.{key}"),
                reason,
            });
        }
    };
    let timeout = relay.verify_timeout.0;
    check(
        !timeout.is_zero() && timeout <= MAX_TIMEOUT,
        "verify_timeout",
        format!(
            "must be more than 0s and at most 5m (a sender waits 5 minutes for a RCPT reply), not {}",
            relay.verify_timeout
        ),
    );
    check(
        relay.verify_cache_size >= 1,
        "verify_cache_size",
        "must be at least 1".into(),
    );
    check(
        relay.verify_max_probes >= 1,
        "verify_max_probes",
        "must be at least 1".into(),
    );
    problems
}
