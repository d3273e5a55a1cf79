//! Returning queued mail to its sender on the operator's word (`moat queue bounce`, as
//! Postfix's `postsuper -e`): when a destination will not come back, the senders learn
//! it now, with a bounce, instead of after the retry period, and nothing goes silently as
//! with `delete`. Every recipient not yet final fails with [`RETURNED`] (and the last
//! error it was deferred with), the DSN is queued and the message removed, a thousand
//! messages to an fsync.

use tracing::info;

use super::dsn::{Bounces, DsnKind};
use crate::queue::{Queue, QueueError, QueueId, RecipientState, Settle};

/// The reply recorded for each recipient returned, and shown in the bounce.
pub const RETURNED: &str = "550 5.0.0 returned to the sender by the mail system's operator";

/// Returns each message of `ids` to its sender, by `bounces` (the reporting MTA, and
/// whether mail accepted as spam is bounced) at `now_ms`: the ids that were queued. A
/// message from the null sender, or accepted as spam, is removed without a bounce (never
/// a bounce of a bounce, no backscatter). A delivery in progress may still
/// complete; its outcome then finds the message gone.
pub fn return_to_sender(
    queue: &Queue,
    bounces: &Bounces,
    ids: &[QueueId],
    now_ms: u64,
) -> Result<Vec<QueueId>, QueueError> {
    let returned = queue.modify_many(ids, |envelope| {
        let mut failed = Vec::new();
        for (index, recipient) in envelope.recipients.iter_mut().enumerate() {
            if recipient.state.is_final() {
                continue;
            }
            let reply = match &recipient.state {
                RecipientState::Deferred { last_error } => {
                    format!("{RETURNED}; last error: {last_error}")
                }
                _ => RETURNED.to_owned(),
            };
            recipient.state = RecipientState::Failed {
                at_ms: now_ms,
                reply,
            };
            failed.push(index);
        }
        let original = queue.message(&envelope.id)?;
        let bounce = bounces.notice(
            DsnKind::Failure,
            envelope,
            original.as_deref().unwrap_or_default(),
            &failed,
            now_ms,
        );
        Ok(Settle {
            remove: true,
            enqueue: bounce.into_iter().collect(),
        })
    })?;
    for id in &returned {
        info!(queue_id = %id, "message returned to its sender by the operator");
    }
    Ok(returned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{NewMessage, RecipientRecord};
    use crate::store::Database;

    fn message(from: &str) -> NewMessage {
        NewMessage {
            mail_from: from.into(),
            recipients: vec!["bob@example.test".into(), "carol@example.test".into()],
            client_ip: "192.0.2.7".into(),
            helo: "mail.example.net".into(),
            authenticated_user: None,
            smtputf8: false,
            eight_bit_mime: false,
            spam: false,
        }
    }

    #[tokio::test]
    async fn the_sender_gets_a_bounce_naming_the_recipients_still_waiting() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let queue = Queue::open(Database::open(tmp.path()).expect("db")).expect("queue");
        let id = queue
            .enqueue(
                message("alice@example.org"),
                b"Subject: hi\r\n\r\nhello\r\n".to_vec(),
            )
            .await
            .expect("enqueue");
        queue
            .modify(&id, |envelope| {
                envelope.recipients[0] = RecipientRecord {
                    address: "bob@example.test".into(),
                    state: RecipientState::Delivered { at_ms: 1 },
                };
                envelope.recipients[1].state = RecipientState::Deferred {
                    last_error: "connection refused".into(),
                };
                (Settle::default(), ())
            })
            .expect("modify");
        let null = queue
            .enqueue(message(""), b"Subject: dsn\r\n\r\n".to_vec())
            .await
            .expect("enqueue");

        let unknown = QueueId::generate();
        let returned = return_to_sender(
            &queue,
            &Bounces {
                hostname: "mx.example.test".into(),
                bounce_spam: false,
            },
            &[id, unknown, null, id],
            5_000,
        )
        .expect("return");
        assert_eq!(returned, [id, null]);
        let left = queue.ids().expect("ids");
        assert_eq!(left.len(), 1, "only the bounce is queued: {left:?}");
        let bounce = queue.envelope(&left[0]).expect("read").expect("bounce");
        assert_eq!(bounce.mail_from, "");
        assert_eq!(bounce.recipients[0].address, "alice@example.org");
        let text = String::from_utf8(queue.message(&left[0]).expect("read").expect("bytes"))
            .expect("text");
        assert!(
            text.contains("<carol@example.test>: 550 5.0.0 returned to the sender"),
            "{text}"
        );
        assert!(text.contains("last error: connection refused"), "{text}");
        assert!(
            !text.contains("<bob@example.test>"),
            "a delivered recipient is not reported: {text}"
        );
        assert!(text.contains("Status: 5.0.0"), "{text}");
    }
}
