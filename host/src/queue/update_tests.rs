//! [`Queue::modify`] and the operator's commands against a real fjall database.

use std::collections::HashSet;

use super::tests::{new_message, now_ms, open, queue_messages};
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
    assert_eq!(queue.summary().held, 1);

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

/// An operator's action on many messages: each named message once, the unknown ones
/// left out of the answer, across more than one batch, and the counts kept.
#[tokio::test]
async fn an_action_on_many_messages_goes_in_batches_and_names_what_it_found() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let tasks: Vec<_> = (0..OPERATOR_BATCH + 5)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                queue
                    .enqueue(new_message(&["a@example.org"]), b"m\r\n".to_vec())
                    .await
                    .expect("enqueue")
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task"));
    }
    let unknown = QueueId::generate();
    let mut asked = ids.clone();
    asked.insert(3, unknown);
    asked.push(ids[0]);

    let held = queue
        .apply(OperatorAction::Hold, &asked, now_ms())
        .expect("hold");
    assert_eq!(held, ids, "every queued message once, in the order asked");
    assert_eq!(queue.summary().held, ids.len() as u64);
    assert!(queue.due(u64::MAX, 10).expect("due").is_empty());

    let now = now_ms();
    let released = queue
        .apply(OperatorAction::Release, &ids[..2], now)
        .expect("release");
    assert_eq!(released, ids[..2]);
    assert_eq!(queue.due(now, 10).expect("due").len(), 2);

    let deleted = queue
        .apply(OperatorAction::Delete, &asked, now)
        .expect("delete");
    assert_eq!(deleted, ids);
    assert!(queue.is_empty().expect("empty"));
    assert_eq!(queue.summary().held, 0);
    assert!(
        queue
            .apply(OperatorAction::Flush, &ids, now)
            .expect("flush")
            .is_empty()
    );
}

/// The counts the writers keep match a count of every envelope after each kind of write,
/// and after reopening.
#[tokio::test]
async fn the_kept_counts_match_a_recount_after_every_kind_of_write() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let check = |queue: &Queue, step: &str| {
        assert_eq!(queue.summary(), queue.recount().expect("recount"), "{step}");
    };
    let (first, second) = {
        let queue = open(tmp.path());
        check(&queue, "empty");
        let first = queue
            .enqueue(
                new_message(&["a@example.org", "b@example.org"]),
                b"m1\r\n".to_vec(),
            )
            .await
            .expect("enqueue");
        let second = queue
            .enqueue(new_message(&["c@example.org"]), b"message 2\r\n".to_vec())
            .await
            .expect("enqueue");
        check(&queue, "two enqueued");
        assert_eq!(queue.summary().messages, 2);
        assert_eq!(queue.summary().pending, 3);

        queue
            .modify(&first, |envelope| {
                envelope.recipients[0].state = RecipientState::Delivered { at_ms: now_ms() };
                envelope.recipients[1].state = RecipientState::Deferred {
                    last_error: "451 later".into(),
                };
                (Settle::default(), ())
            })
            .expect("modify")
            .expect("queued");
        check(&queue, "one delivered, one deferred");
        assert_eq!(
            (queue.summary().delivered, queue.summary().deferred),
            (1, 1)
        );

        assert!(queue.hold(&second).expect("hold"));
        check(&queue, "held");
        assert_eq!(queue.summary().held, 1);
        assert!(queue.release(&second, now_ms()).expect("release"));
        check(&queue, "released");

        let held = queue
            .quarantine(
                new_message(&["q@example.org"]),
                b"q\r\n".to_vec(),
                "{}".into(),
            )
            .await
            .expect("quarantine");
        check(&queue, "quarantined: not counted");
        queue
            .release_quarantined(&held, now_ms())
            .expect("release")
            .expect("was quarantined");
        check(&queue, "released from quarantine");
        assert_eq!(queue.summary().messages, 3);
        assert!(queue.delete(&held).expect("delete"));
        check(&queue, "deleted");
        (first, second)
    };
    let queue = open(tmp.path());
    check(&queue, "reopened");
    assert_eq!(queue.summary().messages, 2);
    let oldest = queue.envelope(&first).expect("read").expect("envelope");
    assert_eq!(
        queue.summary().oldest_received_at_ms,
        Some(oldest.received_at_ms)
    );
    queue
        .modify(&second, |_| {
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
    check(&queue, "removed with a bounce");
    assert_eq!(queue.summary().null_sender, 1);
}

#[tokio::test]
async fn the_schedule_in_memory_is_the_one_on_disk() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let scheduled = {
        let queue = open(tmp.path());
        let ids = queue_messages(&queue, 4).await;
        let later = now_ms() + 60_000;
        queue
            .modify(&ids[0], |envelope| {
                envelope.next_attempt_ms = later;
                (Settle::default(), ())
            })
            .expect("defer")
            .expect("queued");
        queue
            .apply(OperatorAction::Hold, &ids[1..2], now_ms())
            .expect("hold");
        queue
            .modify(&ids[2], |_| {
                (
                    Settle {
                        remove: true,
                        ..Settle::default()
                    },
                    (),
                )
            })
            .expect("remove")
            .expect("queued");
        let scheduled = queue.due(u64::MAX, 10).expect("due");
        assert_eq!(
            scheduled,
            [ids[3], ids[0]],
            "soonest first, held and removed gone"
        );
        scheduled
    };
    let queue = open(tmp.path());
    assert_eq!(queue.due(u64::MAX, 10).expect("due"), scheduled);
}
