//! Delivery status notifications (RFC 3464): the bounce for recipients that failed, and the
//! warning for a message still undelivered after a while.
//!
//! A DSN is a `multipart/report; report-type=delivery-status` with three parts: a text for
//! people, the `message/delivery-status` fields for programs, and the original message's
//! header as `text/rfc822-headers` (RFC 6522: whole fields, at most
//! [`MAX_RETURNED_HEADER`] bytes, never the body). It goes from the null sender (`MAIL FROM:<>`) to the
//! original envelope sender, so it can never be bounced itself; nothing here is built for
//! a message whose sender is null.

use std::fmt::Write as _;

use crate::config::Config;
use crate::message::header_section::header_prefix;
use crate::queue::{NewMessage, QueuedEnvelope, RecipientState};

/// The most of the original's header a DSN returns (whole fields only): a DSN that
/// returned the message, or an unbounded header, would let anyone mail a third party
/// whatever they like through a forged sender (backscatter).
pub const MAX_RETURNED_HEADER: usize = 16 * 1024;

/// Who sends DSNs and which messages get one: the reporting host (`[server] hostname`),
/// and whether mail accepted as probably spam is bounced (`[delivery] bounce_spam`, off by
/// default: the sender of spam is almost always forged, so its bounce would go to an
/// innocent third party).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounces {
    /// The reporting MTA.
    pub hostname: String,
    /// Whether a message accepted as spam ([`QueuedEnvelope::spam`]) gets DSNs.
    pub bounce_spam: bool,
}

impl Bounces {
    /// The bounce settings of `config`.
    pub fn from_config(config: &Config) -> Self {
        Self {
            hostname: config.server.hostname.clone(),
            bounce_spam: config.delivery.bounce_spam,
        }
    }

    /// The DSN of `kind` about `recipients` of `envelope` (see [`build`]), unless the
    /// message was accepted as spam and such mail is not bounced: then nothing, logged.
    pub fn notice(
        &self,
        kind: DsnKind,
        envelope: &QueuedEnvelope,
        original: &[u8],
        recipients: &[usize],
        now_ms: u64,
    ) -> Option<(NewMessage, Vec<u8>)> {
        if envelope.spam && !self.bounce_spam {
            if !recipients.is_empty() && !envelope.mail_from.is_empty() {
                tracing::info!(
                    queue_id = %envelope.id,
                    kind = ?kind,
                    "no DSN: the message was accepted as spam ([delivery] bounce_spam = false)"
                );
            }
            return None;
        }
        build(kind, &self.hostname, envelope, original, recipients, now_ms)
    }
}

/// Which kind of notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    /// Recipients failed for good (refused, or expired): `Action: failed`.
    Failure,
    /// Recipients are still being retried: `Action: delayed`.
    Delay,
}

/// The DSN about `recipients` (indexes into `envelope.recipients`) of the message
/// `envelope` whose bytes are `original`, from `hostname` at `now_ms`; `None` when the
/// sender is null (nobody to tell, and never a bounce of a bounce) or there is nothing to
/// report.
pub fn build(
    kind: DsnKind,
    hostname: &str,
    envelope: &QueuedEnvelope,
    original: &[u8],
    recipients: &[usize],
    now_ms: u64,
) -> Option<(NewMessage, Vec<u8>)> {
    if envelope.mail_from.is_empty() || recipients.is_empty() {
        return None;
    }
    let notice = Notice {
        kind,
        hostname,
        envelope,
        recipients,
        now: date(now_ms),
        boundary: format!("{}/{}", envelope.id, hostname),
    };
    let mut out = notice.heading();
    notice.write_reasons(&mut out);
    notice.write_status_fields(&mut out);
    let bytes = notice.with_original_header(out, original);

    let new = NewMessage {
        mail_from: String::new(),
        recipients: vec![envelope.mail_from.clone()],
        client_ip: "127.0.0.1".into(),
        helo: hostname.to_owned(),
        authenticated_user: None,
        smtputf8: !envelope.mail_from.is_ascii(),
        eight_bit_mime: !bytes.is_ascii(),
        spam: false,
    };
    Some((new, bytes))
}

/// One DSN being written: what its parts are written from.
struct Notice<'a> {
    kind: DsnKind,
    /// The reporting MTA.
    hostname: &'a str,
    envelope: &'a QueuedEnvelope,
    /// The recipients reported on (indexes into `envelope.recipients`).
    recipients: &'a [usize],
    /// The date of the notice, and of the last attempt.
    now: String,
    boundary: String,
}

impl Notice<'_> {
    /// The header fields, and the text part for people up to its list of reasons.
    fn heading(&self) -> String {
        let Self {
            kind,
            hostname,
            envelope,
            now,
            boundary,
            ..
        } = self;
        let subject = match kind {
            DsnKind::Failure => "Undelivered Mail Returned to Sender",
            DsnKind::Delay => "Delayed Mail (still being retried)",
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
To: <{to}>\r\n\
Subject: {subject}\r\n\
Date: {now}\r\n\
Message-ID: <{id}.{suffix}@{hostname}>\r\n\
Auto-Submitted: auto-replied\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\"\r\n\
\r\n\
This is a MIME-encapsulated delivery status notification.\r\n\
\r\n\
--{boundary}\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n",
            to = envelope.mail_from,
            id = envelope.id,
            suffix = match kind {
                DsnKind::Failure => "bounce",
                DsnKind::Delay => "delay",
            },
        );
        match kind {
            DsnKind::Failure => out.push_str(
                "This is the mail system at host {hostname}.\r\n\r\n\
Your message could not be delivered to one or more recipients.\r\n\
It is attached below (its header only). The reasons:\r\n\r\n",
            ),
            DsnKind::Delay => out.push_str(
                "This is the mail system at host {hostname}.\r\n\r\n\
Your message has not been delivered yet to one or more recipients.\r\n\
It is still being retried; you do not need to send it again. The reasons:\r\n\r\n",
            ),
        }
        out.replace("{hostname}", hostname)
    }

    /// The text part's list: each recipient with its reason.
    fn write_reasons(&self, out: &mut String) {
        for &index in self.recipients {
            if let Some(recipient) = self.envelope.recipients.get(index) {
                let _ = write!(
                    out,
                    "<{}>: {}\r\n",
                    recipient.address,
                    diagnostic(&recipient.state)
                );
            }
        }
    }

    /// The `message/delivery-status` part: the message's fields, then each recipient's.
    fn write_status_fields(&self, out: &mut String) {
        let Self {
            kind,
            hostname,
            envelope,
            now,
            boundary,
            ..
        } = self;
        let action = match kind {
            DsnKind::Failure => "failed",
            DsnKind::Delay => "delayed",
        };
        let _ = write!(
            out,
            "\r\n--{boundary}\r\n\
Content-Type: message/delivery-status\r\n\
\r\n\
Reporting-MTA: dns; {hostname}\r\n\
X-Moat-Queue-ID: {id}\r\n\
Arrival-Date: {arrival}\r\n",
            id = envelope.id,
            arrival = date(envelope.received_at_ms),
        );
        for &index in self.recipients {
            let Some(recipient) = envelope.recipients.get(index) else {
                continue;
            };
            let diagnostic = diagnostic(&recipient.state);
            let _ = write!(
                out,
                "\r\nFinal-Recipient: rfc822; {address}\r\n\
Action: {action}\r\n\
Status: {status}\r\n\
Diagnostic-Code: smtp; {diagnostic}\r\n\
Last-Attempt-Date: {now}\r\n",
                address = recipient.address,
                status = status(&diagnostic, *kind),
            );
        }
    }

    /// `out` as bytes with the last part, the header of `original`, and the closing
    /// boundary.
    fn with_original_header(&self, mut out: String, original: &[u8]) -> Vec<u8> {
        let boundary = &self.boundary;
        let _ = write!(
            out,
            "\r\n--{boundary}\r\n\
Content-Type: text/rfc822-headers\r\n\
\r\n"
        );
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(header_prefix(original, MAX_RETURNED_HEADER));
        if !bytes.ends_with(b"\r\n") {
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        bytes
    }
}

/// The reason recorded for a recipient, as one line.
fn diagnostic(state: &RecipientState) -> String {
    let text = match state {
        RecipientState::Failed { reply, .. } => reply.as_str(),
        RecipientState::Deferred { last_error } => last_error.as_str(),
        RecipientState::Pending => "not tried yet",
        RecipientState::Delivered { .. } => "delivered",
    };
    text.replace(['\r', '\n'], " ")
}

/// The RFC 3463 status for a diagnostic: its enhanced code where it has one (`550 5.1.1
/// …` → `5.1.1`), else one from its reply code's class.
fn status(diagnostic: &str, kind: DsnKind) -> String {
    let mut words = diagnostic.split_whitespace();
    let code = words.next().unwrap_or_default();
    let enhanced = words.next().unwrap_or_default();
    let looks_enhanced = enhanced.split('.').count() == 3
        && enhanced
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if looks_enhanced {
        return enhanced.to_owned();
    }
    match (code.as_bytes().first(), kind) {
        (Some(b'5'), _) => "5.0.0".into(),
        (_, DsnKind::Delay) => "4.0.0".into(),
        _ => "4.4.7".into(),
    }
}

/// `now_ms` as an RFC 5322 date, in UTC.
fn date(ms: u64) -> String {
    let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
    mail_parser::DateTime::from_timestamp(seconds).to_rfc822()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{QueueId, RecipientRecord};

    fn envelope(from: &str) -> QueuedEnvelope {
        let json = serde_json::json!({
            "id": QueueId::generate(),
            "received_at_ms": 1_700_000_000_000_u64,
            "mail_from": from,
            "recipients": [
                RecipientRecord { address: "ok@example.test".into(), state: RecipientState::Delivered { at_ms: 1 } },
                RecipientRecord { address: "gone@example.test".into(), state: RecipientState::Failed { at_ms: 1, reply: "550 5.1.1 no such user".into() } },
                RecipientRecord { address: "late@example.test".into(), state: RecipientState::Failed { at_ms: 1, reply: "450 4.4.7 gave up after 2d; last error: x".into() } },
            ],
            "client_ip": "192.0.2.1",
            "helo": "client.example",
            "authenticated_user": null,
            "size": 10,
            "next_attempt_ms": 0,
            "attempts": 3,
        });
        serde_json::from_value(json).unwrap()
    }

    const ORIGINAL: &[u8] =
        b"Received: from x\r\nSubject: hello\r\nFrom: alice@example.org\r\n\r\nsecret body\r\n";

    #[test]
    fn a_bounce_is_a_delivery_status_report_with_the_original_header_only() {
        let env = envelope("alice@example.org");
        let (new, bytes) = build(
            DsnKind::Failure,
            "mx.test",
            &env,
            ORIGINAL,
            &[1, 2],
            1_700_000_100_000,
        )
        .unwrap();
        assert_eq!(new.mail_from, "", "bounces come from the null sender");
        assert_eq!(new.recipients, ["alice@example.org"]);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status;"));
        assert!(text.contains("Content-Type: message/delivery-status\r\n"));
        assert!(text.contains(
            "Final-Recipient: rfc822; gone@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        ));
        assert!(text.contains(
            "Final-Recipient: rfc822; late@example.test\r\nAction: failed\r\nStatus: 4.4.7\r\n"
        ));
        assert!(!text.contains("Final-Recipient: rfc822; ok@example.test"));
        assert!(text.contains(
            "Content-Type: text/rfc822-headers\r\n\r\nReceived: from x\r\nSubject: hello\r\n"
        ));
        assert!(!text.contains("secret body"), "only the header is returned");
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));

        let parsed = mail_parser::MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Undelivered Mail Returned to Sender")
        );
        assert_eq!(parsed.parts.len(), 4, "the multipart and its three parts");
    }

    #[test]
    fn nothing_is_sent_to_the_null_sender() {
        let env = envelope("");
        assert!(build(DsnKind::Failure, "mx.test", &env, ORIGINAL, &[1], 0).is_none());
        assert!(build(DsnKind::Delay, "mx.test", &env, ORIGINAL, &[1], 0).is_none());
    }

    #[test]
    fn a_delay_warning_says_delayed() {
        let mut env = envelope("alice@example.org");
        env.recipients[2].state = RecipientState::Deferred {
            last_error: "sink[127.0.0.1:2526] said: 451 4.3.0 later".into(),
        };
        let (_, bytes) = build(DsnKind::Delay, "mx.test", &env, ORIGINAL, &[2], 0).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.contains("Action: delayed\r\nStatus: 4.0.0\r\n"),
            "{text}"
        );
        assert!(text.contains("Subject: Delayed Mail"));
    }

    #[test]
    fn mail_accepted_as_spam_gets_no_dsn_unless_the_operator_wants_it() {
        let mut env = envelope("victim@example.org");
        env.spam = true;
        let quiet = Bounces {
            hostname: "mx.test".into(),
            bounce_spam: false,
        };
        assert!(
            quiet
                .notice(DsnKind::Failure, &env, ORIGINAL, &[1], 0)
                .is_none()
        );
        assert!(
            quiet
                .notice(DsnKind::Delay, &env, ORIGINAL, &[1], 0)
                .is_none()
        );
        let loud = Bounces {
            bounce_spam: true,
            ..quiet.clone()
        };
        assert!(
            loud.notice(DsnKind::Failure, &env, ORIGINAL, &[1], 0)
                .is_some()
        );
        env.spam = false;
        assert!(
            quiet
                .notice(DsnKind::Failure, &env, ORIGINAL, &[1], 0)
                .is_some()
        );
    }

    #[test]
    fn a_header_only_original_returns_at_most_16_kib_of_whole_fields() {
        let env = envelope("alice@example.org");
        let mut original = Vec::new();
        for i in 0..5_000 {
            original.extend_from_slice(format!("X-Filler-{i}: some text\r\n").as_bytes());
        }
        original.extend_from_slice(b"a line that is not a field, then more\r\n");
        let (_, bytes) = build(DsnKind::Failure, "mx.test", &env, &original, &[1], 0).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let (_, returned) = text
            .split_once("Content-Type: text/rfc822-headers\r\n\r\n")
            .unwrap();
        let returned = returned.split("\r\n--").next().unwrap();
        assert!(returned.len() <= MAX_RETURNED_HEADER, "{}", returned.len());
        assert!(returned.len() > MAX_RETURNED_HEADER - 64);
        assert!(returned.ends_with("some text\r\n"), "whole fields only");
        assert!(!text.contains("a line that is not a field"));
    }
}
