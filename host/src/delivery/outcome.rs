//! What one attempt did to a message: each recipient's outcome recorded in its envelope,
//! the next attempt scheduled, expiry and delay warnings decided. Pure: no I/O, the clock
//! is an argument.

use std::time::Duration;

use super::retry::RetryPolicy;
use crate::queue::{QueuedEnvelope, RecipientState};

/// One recipient's result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The next hop took it (2xx after the message).
    Delivered {
        /// The reply, for the log.
        reply: String,
    },
    /// Try again later: a 4xx, a timeout, a refused or broken connection, a DNS failure.
    Deferred {
        /// What went wrong, with the host that said so.
        error: String,
    },
    /// Refused for good (5xx, or no way to reach the domain): bounced.
    Failed {
        /// The reply (`550 5.1.1 …`) or Moat's own reason in the same form.
        reply: String,
    },
}

/// What the caller must do after [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Recipients (indexes) that became failed in this attempt, refused or expired: the
    /// bounce lists them.
    pub newly_failed: Vec<usize>,
    /// Some recipients were failed because the message is too old.
    pub expired: bool,
    /// Tell the sender the message is delayed (once).
    pub warn_delay: bool,
    /// Every recipient is final: remove the message.
    pub complete: bool,
}

/// Records `outcomes` (recipient index, outcome) in `envelope` after an attempt at
/// `now_ms`, counts the attempt, and schedules the next one by `policy`; recipients still
/// not final when the message is older than the policy's maximum age fail as expired.
/// Outcomes for recipients already final are ignored.
pub fn apply(
    envelope: &mut QueuedEnvelope,
    outcomes: &[(usize, Outcome)],
    now_ms: u64,
    policy: &RetryPolicy,
    delay_warning: Option<Duration>,
) -> Applied {
    let mut applied = Applied::default();
    for (index, outcome) in outcomes {
        let Some(recipient) = envelope.recipients.get_mut(*index) else {
            continue;
        };
        if recipient.state.is_final() {
            continue;
        }
        recipient.state = match outcome {
            Outcome::Delivered { .. } => RecipientState::Delivered { at_ms: now_ms },
            Outcome::Deferred { error } => RecipientState::Deferred {
                last_error: error.clone(),
            },
            Outcome::Failed { reply } => {
                applied.newly_failed.push(*index);
                RecipientState::Failed {
                    at_ms: now_ms,
                    reply: reply.clone(),
                }
            }
        };
    }
    envelope.attempts = envelope.attempts.saturating_add(1);
    if envelope.is_complete() {
        applied.complete = true;
        return applied;
    }

    let age_ms = now_ms.saturating_sub(envelope.received_at_ms);
    let expires_at_ms = policy
        .max_age()
        .map(|max| envelope.received_at_ms.saturating_add(millis(max)));
    if expires_at_ms.is_some_and(|at| now_ms >= at) {
        for (index, recipient) in envelope.recipients.iter_mut().enumerate() {
            if recipient.state.is_final() {
                continue;
            }
            let last = match &recipient.state {
                RecipientState::Deferred { last_error } => last_error.clone(),
                _ => "never tried".to_owned(),
            };
            recipient.state = RecipientState::Failed {
                at_ms: now_ms,
                reply: format!(
                    "450 4.4.7 gave up after {} in the queue; last error: {last}",
                    crate::config::HumanDuration(Duration::from_secs(age_ms / 1000))
                ),
            };
            applied.newly_failed.push(index);
        }
        applied.expired = true;
        applied.complete = true;
        return applied;
    }

    let next = now_ms.saturating_add(millis(policy.delay_after(envelope.attempts)));
    // The last retry happens at the expiry time, not an interval after it.
    envelope.next_attempt_ms = expires_at_ms.map_or(next, |at| next.min(at));
    if let Some(warning) = delay_warning
        && !envelope.delay_warned
        && !envelope.mail_from.is_empty()
        && age_ms >= millis(warning)
    {
        envelope.delay_warned = true;
        applied.warn_delay = true;
    }
    applied
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{QueueId, RecipientRecord};

    const SEC: u64 = 1000;

    fn envelope(recipients: &[&str]) -> QueuedEnvelope {
        let json = serde_json::json!({
            "id": QueueId::generate(),
            "received_at_ms": 1_000_000,
            "mail_from": "alice@example.org",
            "recipients": recipients.iter().map(|r| RecipientRecord {
                address: (*r).to_owned(),
                state: RecipientState::Pending,
            }).collect::<Vec<_>>(),
            "client_ip": "192.0.2.1",
            "helo": "client.example",
            "authenticated_user": null,
            "size": 10,
            "next_attempt_ms": 1_000_000,
            "attempts": 0,
        });
        serde_json::from_value(json).unwrap()
    }

    fn policy() -> RetryPolicy {
        RetryPolicy::new(
            vec![Duration::from_secs(60)],
            Some(Duration::from_secs(3600)),
        )
    }

    #[test]
    fn mixed_results_are_kept_per_recipient_and_only_the_deferred_one_is_retried() {
        let mut env = envelope(&["ok@t", "later@t", "gone@t"]);
        let applied = apply(
            &mut env,
            &[
                (
                    0,
                    Outcome::Delivered {
                        reply: "250 ok".into(),
                    },
                ),
                (
                    1,
                    Outcome::Deferred {
                        error: "450 busy".into(),
                    },
                ),
                (
                    2,
                    Outcome::Failed {
                        reply: "550 5.1.1 gone".into(),
                    },
                ),
            ],
            1_000_000 + 10 * SEC,
            &policy(),
            None,
        );
        assert_eq!(applied.newly_failed, [2]);
        assert!(!applied.complete && !applied.expired);
        assert_eq!(env.attempts, 1);
        assert_eq!(env.next_attempt_ms, 1_000_000 + 70 * SEC);
        assert!(matches!(
            env.recipients[0].state,
            RecipientState::Delivered { .. }
        ));
        assert!(matches!(
            env.recipients[1].state,
            RecipientState::Deferred { .. }
        ));
        assert!(matches!(
            env.recipients[2].state,
            RecipientState::Failed { .. }
        ));

        // The retry reports only the deferred one; the others stay as they were.
        let applied = apply(
            &mut env,
            &[(
                1,
                Outcome::Delivered {
                    reply: "250 ok".into(),
                },
            )],
            1_000_000 + 80 * SEC,
            &policy(),
            None,
        );
        assert!(applied.complete && applied.newly_failed.is_empty());
        assert_eq!(env.attempts, 2);
    }

    #[test]
    fn what_is_still_deferred_at_the_maximum_age_fails_as_expired() {
        let mut env = envelope(&["a@t", "b@t"]);
        let applied = apply(
            &mut env,
            &[
                (
                    0,
                    Outcome::Delivered {
                        reply: "250".into(),
                    },
                ),
                (
                    1,
                    Outcome::Deferred {
                        error: "sink[127.0.0.1:1]: connection refused".into(),
                    },
                ),
            ],
            1_000_000 + 3600 * SEC,
            &policy(),
            None,
        );
        assert!(applied.expired && applied.complete);
        assert_eq!(applied.newly_failed, [1]);
        let RecipientState::Failed { reply, .. } = &env.recipients[1].state else {
            panic!("{:?}", env.recipients[1]);
        };
        assert!(reply.starts_with("450 4.4.7 gave up after 1h"), "{reply}");
        assert!(reply.contains("connection refused"), "{reply}");
    }

    #[test]
    fn the_last_retry_is_at_the_expiry_time_and_forever_never_expires() {
        let mut env = envelope(&["a@t"]);
        let deferred = [(
            0,
            Outcome::Deferred {
                error: "451".into(),
            },
        )];
        apply(&mut env, &deferred, 1_000_000 + 3590 * SEC, &policy(), None);
        assert_eq!(env.next_attempt_ms, 1_000_000 + 3600 * SEC);

        let forever = RetryPolicy::new(vec![Duration::from_secs(60)], None);
        let mut env = envelope(&["a@t"]);
        let applied = apply(
            &mut env,
            &deferred,
            1_000_000 + 365 * 86_400 * SEC,
            &forever,
            None,
        );
        assert!(!applied.complete && !applied.expired);
    }

    #[test]
    fn the_delay_warning_is_given_once_and_never_to_the_null_sender() {
        let deferred = [(
            0,
            Outcome::Deferred {
                error: "451".into(),
            },
        )];
        let warning = Some(Duration::from_secs(600));
        let mut env = envelope(&["a@t"]);
        let early = apply(
            &mut env,
            &deferred,
            1_000_000 + 60 * SEC,
            &policy(),
            warning,
        );
        assert!(!early.warn_delay);
        let late = apply(
            &mut env,
            &deferred,
            1_000_000 + 660 * SEC,
            &policy(),
            warning,
        );
        assert!(late.warn_delay && env.delay_warned);
        let again = apply(
            &mut env,
            &deferred,
            1_000_000 + 900 * SEC,
            &policy(),
            warning,
        );
        assert!(!again.warn_delay);

        let mut bounce = envelope(&["a@t"]);
        bounce.mail_from.clear();
        let applied = apply(
            &mut bounce,
            &deferred,
            1_000_000 + 660 * SEC,
            &policy(),
            warning,
        );
        assert!(!applied.warn_delay);
    }
}
