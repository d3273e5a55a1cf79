//! What the queue stores about a message besides its bytes: the envelope as accepted and
//! each recipient's delivery state, as serde records.
//!
//! Records are stored as JSON: readable with any fjall dump while debugging, and tolerant of
//! fields added later (`#[serde(default)]`), which matters for a queue that outlives the
//! binary that wrote it. Envelopes are small next to the message bytes, so the size and
//! speed of JSON do not show. This module does no I/O.

use serde::{Deserialize, Serialize};

use super::id::QueueId;

/// What the SMTP side knows of a message when it accepts it: the envelope to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The reverse path from `MAIL FROM`, without angle brackets; `""` for the null sender
    /// (`MAIL FROM:<>`, used by bounces, which must never be bounced themselves).
    pub mail_from: String,
    /// The accepted forward paths from `RCPT TO`, without angle brackets, in the order
    /// given: each `local@domain` with the local part as sent and the domain in its one
    /// spelling (`crate::domain`; `<postmaster>` as the configured postmaster). Must not
    /// be empty, and a recipient without a domain is refused
    /// ([`QueueError::RecipientWithoutDomain`](super::QueueError::RecipientWithoutDomain)).
    pub recipients: Vec<String>,
    /// The client's IP address as text (`192.0.2.1`, `2001:db8::1`), for `Received`
    /// headers, bounces and logs.
    pub client_ip: String,
    /// The name the client gave in `EHLO`/`HELO`.
    pub helo: String,
    /// The account the client authenticated as on a submission listener, if any.
    pub authenticated_user: Option<String>,
    /// The client declared `SMTPUTF8` (RFC 6531): delivery must use it downstream, or
    /// bounce if the next hop lacks it and an address needs it.
    pub smtputf8: bool,
    /// The client declared `BODY=8BITMIME` (RFC 6152): delivery must declare it downstream.
    pub eight_bit_mime: bool,
    /// The filters' score reached the tag threshold: the message is probably spam, and its
    /// sender probably forged, so a failure is not bounced to it (`[delivery]
    /// bounce_spam`).
    pub spam: bool,
}

/// A queued message's envelope and delivery state: the value of `queue.envelopes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedEnvelope {
    /// The message's id (also the key of its envelope and bytes).
    pub id: QueueId,
    /// When the message was accepted (answered `250`), in unix milliseconds: the start of
    /// its maximum time in the queue.
    pub received_at_ms: u64,
    /// The reverse path; `""` is the null sender (no bounce may be sent for it).
    pub mail_from: String,
    /// Every recipient with its own delivery state. The message leaves the queue only when
    /// every one of them has a final state ([`QueuedEnvelope::is_complete`]).
    pub recipients: Vec<RecipientRecord>,
    /// The client's IP address as text.
    pub client_ip: String,
    /// The client's `EHLO`/`HELO` name.
    pub helo: String,
    /// The authenticated account on a submission listener, if any.
    pub authenticated_user: Option<String>,
    /// The message's size in bytes, for `SIZE=` on the downstream `MAIL FROM`.
    pub size: u64,
    /// The `SMTPUTF8` parameter was given on acceptance.
    #[serde(default)]
    pub smtputf8: bool,
    /// `BODY=8BITMIME` was given on acceptance.
    #[serde(default)]
    pub eight_bit_mime: bool,
    /// When the next delivery attempt is due, in unix milliseconds; mirrored by the
    /// message's entry in the due index, which must change with it in one batch.
    pub next_attempt_ms: u64,
    /// How many delivery attempts were made so far, for the retry schedule.
    pub attempts: u32,
    /// An operator has held the message: it is not delivered until released.
    #[serde(default)]
    pub held: bool,
    /// The sender was told that the message is delayed (a delay DSN was queued); it is
    /// told once.
    #[serde(default)]
    pub delay_warned: bool,
    /// Accepted as probably spam ([`NewMessage::spam`]): no bounce, no delay warning.
    #[serde(default)]
    pub spam: bool,
}

impl QueuedEnvelope {
    /// The envelope of a message accepted as `id` at `received_at_ms`, `size` bytes long:
    /// every recipient pending, no attempt yet, due at once.
    pub(super) fn accepted(
        id: QueueId,
        received_at_ms: u64,
        message: NewMessage,
        size: u64,
    ) -> Self {
        Self {
            id,
            received_at_ms,
            mail_from: message.mail_from,
            recipients: message
                .recipients
                .into_iter()
                .map(|address| RecipientRecord {
                    address,
                    state: RecipientState::Pending,
                })
                .collect(),
            client_ip: message.client_ip,
            helo: message.helo,
            authenticated_user: message.authenticated_user,
            size,
            smtputf8: message.smtputf8,
            eight_bit_mime: message.eight_bit_mime,
            next_attempt_ms: received_at_ms,
            attempts: 0,
            held: false,
            delay_warned: false,
            spam: message.spam,
        }
    }

    /// Every recipient has a final state (delivered or failed): the message may leave the
    /// queue. Nothing is deleted before this holds.
    pub fn is_complete(&self) -> bool {
        self.recipients.iter().all(|r| r.state.is_final())
    }
}

/// One recipient of a queued message and how far its delivery got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientRecord {
    /// The forward path, without angle brackets.
    pub address: String,
    /// Its delivery state.
    pub state: RecipientState,
}

/// Where the delivery to one recipient stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecipientState {
    /// Not tried yet.
    Pending,
    /// Accepted by the next hop (final).
    Delivered {
        /// When, in unix milliseconds.
        at_ms: u64,
    },
    /// Refused for good, or given up on after the maximum time in the queue (final); a
    /// bounce reports `reply` to the sender unless the sender is null.
    Failed {
        /// When, in unix milliseconds.
        at_ms: u64,
        /// The next hop's reply or Moat's own reason, for the bounce.
        reply: String,
    },
    /// Tried and failed temporarily; tried again at the envelope's `next_attempt_ms`.
    Deferred {
        /// The last temporary failure, for `moat queue show` and a delay notice.
        last_error: String,
    },
}

impl RecipientState {
    /// Delivered or failed: nothing more will be tried for this recipient.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Delivered { .. } | Self::Failed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_message() -> NewMessage {
        NewMessage {
            mail_from: String::new(),
            recipients: vec!["a@example.org".into(), "b@example.org".into()],
            client_ip: "2001:db8::1".into(),
            helo: "mx.example.net".into(),
            authenticated_user: None,
            smtputf8: false,
            eight_bit_mime: true,
            spam: false,
        }
    }

    #[test]
    fn an_accepted_envelope_is_due_at_once_with_every_recipient_pending() {
        let id = QueueId::generate();
        let envelope = QueuedEnvelope::accepted(id, 1_000, new_message(), 321);
        assert_eq!(envelope.next_attempt_ms, 1_000);
        assert_eq!(envelope.attempts, 0);
        assert!(!envelope.held);
        assert_eq!(envelope.size, 321);
        assert!(envelope.eight_bit_mime);
        assert_eq!(envelope.recipients.len(), 2);
        assert!(
            envelope
                .recipients
                .iter()
                .all(|r| r.state == RecipientState::Pending)
        );
        assert!(!envelope.is_complete());
    }

    #[test]
    fn complete_only_when_every_recipient_is_final() {
        let mut envelope = QueuedEnvelope::accepted(QueueId::generate(), 1, new_message(), 1);
        envelope.recipients[0].state = RecipientState::Delivered { at_ms: 2 };
        envelope.recipients[1].state = RecipientState::Deferred {
            last_error: "451 try later".into(),
        };
        assert!(!envelope.is_complete());
        envelope.recipients[1].state = RecipientState::Failed {
            at_ms: 3,
            reply: "550 5.1.1 no such user".into(),
        };
        assert!(envelope.is_complete());
    }

    #[test]
    fn records_round_trip_through_json_with_readable_states() {
        let mut envelope = QueuedEnvelope::accepted(QueueId::generate(), 5, new_message(), 9);
        envelope.recipients[1].state = RecipientState::Failed {
            at_ms: 6,
            reply: "550 nope".into(),
        };
        let json = serde_json::to_string(&envelope).expect("encode");
        assert!(json.contains(r#""state":"pending""#), "{json}");
        assert!(json.contains(r#""state":"failed","at_ms":6"#), "{json}");
        let decoded: QueuedEnvelope = serde_json::from_str(&json).expect("decode");
        assert_eq!(decoded, envelope);
    }

    #[test]
    fn fields_added_later_default_when_an_old_record_lacks_them() {
        let id = QueueId::generate();
        let old = format!(
            r#"{{"id":"{id}","received_at_ms":1,"mail_from":"","recipients":[],
            "client_ip":"192.0.2.1","helo":"h","authenticated_user":null,"size":0,
            "next_attempt_ms":1,"attempts":0}}"#
        );
        let decoded: QueuedEnvelope = serde_json::from_str(&old).expect("decode");
        assert!(!decoded.smtputf8 && !decoded.eight_bit_mime && !decoded.held);
        assert!(!decoded.delay_warned);
    }
}
