//! [`Queue::modify`] and the operator's commands against a real fjall database.

use std::collections::HashSet;

use super::tests::{new_message, now_ms, open};
use super::*;

#[tokio::test]
async fn a_change_moves_the_due_entry_and_survives_reopening() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let id = {
        let queue = open(tmp.path());
        let id = queue
            .enqueue(new_message(&["a@example.org"]), b"m\r\n".to_vec())
            .await
            .expect("enqueue");
        let later = now_ms() + 60_000;
        queue
            .modify(&id, |envelope| {
                envelope.next_attempt_ms = later;
                envelope.attempts = 1;
                envelope.recipients[0].state = RecipientState::Deferred {
                    last_error: "451 later".into(),
                };
                (Settle::default(), ())
            })
            .expect("modify")
            .expect("queued");
        assert!(queue.due(now_ms(), 10).expect("due").is_empty());
        assert_eq!(queue.due(later, 10).expect("due"), [id]);
        id
    };
    let queue = open(tmp.path());
    let envelope = queue.envelope(&id).expect("read").expect("envelope");
    assert_eq!(envelope.attempts, 1);
    assert_eq!(
        queue.next_due(&HashSet::new()).expect("next"),
        Some(envelope.next_attempt_ms)
    );
    assert_eq!(queue.next_due(&HashSet::from([id])).expect("next"), None);
}

#[tokio::test]
async fn removal_and_the_bounce_are_one_batch() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let id = queue
        .enqueue(new_message(&["a@example.org"]), b"m\r\n".to_vec())
        .await
        .expect("enqueue");
    let (_, bounces) = queue
        .modify(&id, |_| {
            let mut bounce = new_message(&["sender@example.net"]);
            bounce.mail_from.clear();
            (
                Settle {
                    remove: true,
                    enqueue: vec![(bounce, b"dsn\r\n".to_vec())],
                },
                (),
            )
        })
        .expect("modify")
        .expect("queued");
    assert_eq!(bounces.len(), 1);
    assert_eq!(queue.ids().expect("ids"), bounces);
    assert_eq!(queue.message(&id).expect("read"), None);
    assert_eq!(queue.due(now_ms(), 10).expect("due"), bounces);
    let bounce = queue.envelope(&bounces[0]).expect("read").expect("bounce");
    assert_eq!(bounce.mail_from, "");
    assert_eq!(
        queue.message(&bounces[0]).expect("read"),
        Some(b"dsn\r\n".to_vec())
    );
    assert!(
        queue
            .modify(&id, |_| (Settle::default(), ()))
            .expect("modify")
            .is_none(),
        "a removed message reads as gone, and the change is not applied"
    );
}

#[tokio::test]
async fn hold_release_flush_and_delete() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let id = queue
        .enqueue(new_message(&["a@example.org"]), b"m\r\n".to_vec())
        .await
        .expect("enqueue");
    assert!(queue.hold(&id).expect("hold"));
    assert!(
        queue.due(u64::MAX, 10).expect("due").is_empty(),
        "held: no due entry"
    );
    assert!(queue.envelope(&id).expect("read").expect("envelope").held);
    assert_eq!(queue.summary().expect("summary").held, 1);

    let now = now_ms();
    assert!(queue.release(&id, now).expect("release"));
    assert_eq!(queue.due(now, 10).expect("due"), [id]);

    queue
        .modify(&id, |envelope| {
            envelope.next_attempt_ms = now + 3_600_000;
            (Settle::default(), ())
        })
        .expect("modify");
    assert!(queue.due(now, 10).expect("due").is_empty());
    assert_eq!(queue.flush_all(now).expect("flush"), 1);
    assert_eq!(queue.due(now, 10).expect("due"), [id]);

    let unknown = QueueId::generate();
    assert!(!queue.hold(&unknown).expect("hold"));
    assert!(!queue.delete(&unknown).expect("delete"));
    assert!(queue.delete(&id).expect("delete"));
    assert!(queue.is_empty().expect("empty"));
    assert!(queue.due(u64::MAX, 10).expect("due").is_empty());
    assert_eq!(queue.message(&id).expect("read"), None);
}
