//! The queue against a real fjall database in a temporary directory.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::Barrier;

use super::*;

pub(super) fn open(dir: &Path) -> Queue {
    Queue::open(Database::open(dir).expect("open database")).expect("open queue")
}

pub(super) fn new_message(recipients: &[&str]) -> NewMessage {
    NewMessage {
        mail_from: "sender@example.net".into(),
        recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        client_ip: "192.0.2.7".into(),
        helo: "mail.example.net".into(),
        authenticated_user: Some("alice".into()),
        smtputf8: true,
        eight_bit_mime: false,
        spam: false,
    }
}

/// Queues `n` one-recipient messages and returns their ids, in order.
pub(super) async fn queue_messages(queue: &Queue, n: usize) -> Vec<QueueId> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = queue
            .enqueue(new_message(&["a@example.org"]), b"m\r\n".to_vec())
            .await
            .expect("enqueue");
        ids.push(id);
    }
    ids
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// Bytes that would break a text round trip: CRLF, a lone dot line, NUL, 8-bit, and (for
/// `len` past fjall's separation threshold) enough to be stored as a blob.
fn awkward_message(len: usize) -> Vec<u8> {
    let mut bytes = b"Subject: t\r\n\r\nline\r\n.\r\n\0\xff\xfe\r\n".to_vec();
    bytes.extend((0..len).map(|i| (i * 31 % 256) as u8));
    bytes
}

#[tokio::test]
async fn an_enqueued_message_survives_reopening_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let small = awkward_message(10);
    let large = awkward_message(300_000);
    let (small_id, large_id, envelope) = {
        let queue = open(tmp.path());
        let before = now_ms();
        let small_id = queue
            .enqueue(new_message(&["a@example.org"]), small.clone())
            .await
            .expect("enqueue small");
        let large_id = queue
            .enqueue(
                new_message(&["a@example.org", "b@example.org"]),
                large.clone(),
            )
            .await
            .expect("enqueue large");
        let envelope = queue.envelope(&large_id).expect("read").expect("envelope");
        assert!(envelope.received_at_ms >= before && envelope.received_at_ms <= now_ms());
        assert!(queue.inner.keyspaces.messages.is_kv_separated());
        (small_id, large_id, envelope)
    };

    let queue = open(tmp.path());
    assert_eq!(queue.message(&small_id).expect("read"), Some(small));
    assert_eq!(queue.message(&large_id).expect("read"), Some(large.clone()));
    assert_eq!(
        queue.envelope(&large_id).expect("read"),
        Some(envelope.clone())
    );
    assert_eq!(queue.ids().expect("ids"), vec![small_id, large_id]);
    assert_eq!(queue.len().expect("len"), 2);
    assert!(!queue.is_empty().expect("is_empty"));

    assert_eq!(envelope.id, large_id);
    assert_eq!(envelope.received_at_ms, large_id.timestamp_ms());
    assert_eq!(envelope.next_attempt_ms, envelope.received_at_ms);
    assert_eq!(envelope.mail_from, "sender@example.net");
    assert_eq!(envelope.client_ip, "192.0.2.7");
    assert_eq!(envelope.helo, "mail.example.net");
    assert_eq!(envelope.authenticated_user.as_deref(), Some("alice"));
    assert!(envelope.smtputf8 && !envelope.eight_bit_mime && !envelope.held);
    assert_eq!(envelope.size, large.len() as u64);
    assert_eq!(envelope.attempts, 0);
    assert_eq!(
        envelope.recipients,
        vec![
            RecipientRecord {
                address: "a@example.org".into(),
                state: RecipientState::Pending
            },
            RecipientRecord {
                address: "b@example.org".into(),
                state: RecipientState::Pending
            },
        ]
    );
}

#[tokio::test]
async fn unknown_ids_read_as_none_and_an_empty_queue_is_empty() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let id = QueueId::generate();
    assert_eq!(queue.envelope(&id).expect("read"), None);
    assert_eq!(queue.message(&id).expect("read"), None);
    assert_eq!(queue.ids().expect("ids"), Vec::new());
    assert_eq!(queue.len().expect("len"), 0);
    assert!(queue.is_empty().expect("is_empty"));
    assert_eq!(queue.due(u64::MAX, 10).expect("due"), Vec::new());
    assert_eq!(queue.stats(), CommitStats::default());
}

#[tokio::test]
async fn a_message_without_recipients_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let refused = queue.enqueue(new_message(&[]), b"x".to_vec()).await;
    assert!(
        matches!(refused, Err(QueueError::NoRecipients)),
        "{refused:?}"
    );
    assert_eq!(queue.len().expect("len"), 0);
    assert_eq!(queue.stats().batches, 0);
}

#[tokio::test]
async fn a_recipient_without_a_domain_is_refused_whatever_the_path() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    for recipients in [
        &["postmaster"][..],
        &["a@example.org", "POSTMASTER"],
        &["a@"],
        &["@example.org"],
    ] {
        let refused = queue.enqueue(new_message(recipients), b"x".to_vec()).await;
        assert!(
            matches!(&refused, Err(QueueError::RecipientWithoutDomain { recipient })
                if recipients.contains(&recipient.as_str())),
            "{recipients:?}: {refused:?}"
        );
        let quarantined = queue
            .quarantine(new_message(recipients), b"x".to_vec(), "{}".into())
            .await;
        assert!(
            matches!(quarantined, Err(QueueError::RecipientWithoutDomain { .. })),
            "{recipients:?}: {quarantined:?}"
        );
    }
    assert_eq!(queue.len().expect("len"), 0);
    assert_eq!(queue.stats().batches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_all_succeed_and_share_fsyncs() {
    const MESSAGES: usize = 200;
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let start = Arc::new(Barrier::new(MESSAGES));
    let tasks: Vec<_> = (0..MESSAGES)
        .map(|n| {
            let queue = queue.clone();
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                let body = format!("Subject: {n}\r\n\r\nmessage {n}\r\n").into_bytes();
                start.wait().await;
                let id = queue
                    .enqueue(new_message(&["a@example.org"]), body.clone())
                    .await?;
                Ok::<_, QueueError>((id, body))
            })
        })
        .collect();

    let mut ids = HashSet::new();
    for task in tasks {
        let (id, body) = task.await.expect("task").expect("enqueue");
        assert_eq!(queue.message(&id).expect("read"), Some(body));
        assert!(ids.insert(id), "duplicate id {id}");
    }
    let stats = queue.stats();
    println!(
        "{} messages committed in {} batches (fsyncs)",
        stats.messages, stats.batches
    );
    assert_eq!(ids.len(), MESSAGES);
    assert_eq!(stats.messages, MESSAGES as u64);
    assert!(stats.batches < stats.messages, "{stats:?}");
    assert_eq!(queue.len().expect("len"), MESSAGES as u64);
    let mut sorted: Vec<_> = ids.into_iter().collect();
    sorted.sort();
    assert_eq!(queue.ids().expect("ids"), sorted);
}

#[tokio::test]
async fn due_lists_enqueued_messages_oldest_first_and_respects_now() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = format!("message {n}").into_bytes();
        ids.push(
            queue
                .enqueue(new_message(&["a@example.org"]), body)
                .await
                .expect("enqueue"),
        );
    }
    let first_ms = ids[0].timestamp_ms();
    assert_eq!(queue.due(first_ms - 1, 10).expect("due"), Vec::new());
    assert_eq!(queue.due(first_ms, 10).expect("due").first(), Some(&ids[0]));
    assert_eq!(queue.due(now_ms(), 10).expect("due"), ids);
    assert_eq!(queue.due(now_ms(), 2).expect("due"), ids[..2]);
    assert_eq!(queue.due(now_ms(), 0).expect("due"), Vec::new());
}

#[tokio::test]
async fn due_orders_by_next_attempt_time_not_by_id_as_stored() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let (old, middle, young) = (
        QueueId::generate(),
        QueueId::generate(),
        QueueId::generate(),
    );
    // Retries give older messages later attempts than younger ones.
    let due = &queue.inner.keyspaces.due;
    for (at, id) in [
        (3_000, &old),
        (1_000, &young),
        (2_000, &middle),
        (2_000, &old),
    ] {
        due.insert(keys::due_key(at, id), Vec::new())
            .expect("insert due entry");
    }
    // A key that is not a due key is passed over, not a reason to refuse to open.
    due.insert(b"stray", Vec::new())
        .expect("insert a stray key");
    // The schedule in memory is read from the keyspace when the queue opens.
    drop(queue);
    let queue = open(tmp.path());
    assert_eq!(queue.due(999, 10).expect("due"), Vec::new());
    assert_eq!(queue.due(1_000, 10).expect("due"), vec![young]);
    assert_eq!(queue.due(2_500, 10).expect("due"), vec![young, old, middle]);
    assert_eq!(
        queue.due(u64::MAX, 10).expect("due"),
        vec![young, old, middle, old]
    );
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_committer_and_releases_the_database() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let queue = open(tmp.path());
    let clone = queue.clone();
    let id = clone
        .enqueue(new_message(&["a@example.org"]), b"body".to_vec())
        .await
        .expect("enqueue");
    drop(queue);
    assert_eq!(clone.message(&id).expect("read"), Some(b"body".to_vec()));
    drop(clone);
    // The committer thread held the database; reopening proves it is gone.
    let reopened = open(tmp.path());
    assert_eq!(reopened.ids().expect("ids"), vec![id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_message_survives_reopening_and_is_never_due() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let body = awkward_message(5_000);
    let report = r#"{"action":"quarantine","score":12.5}"#.to_owned();
    let (held, queued) = {
        let queue = open(tmp.path());
        let (held, queued) = tokio::join!(
            queue.quarantine(
                new_message(&["a@example.org"]),
                body.clone(),
                report.clone()
            ),
            queue.enqueue(new_message(&["b@example.org"]), b"queued".to_vec()),
        );
        (held.expect("quarantine"), queued.expect("enqueue"))
    };

    let queue = open(tmp.path());
    let record = queue.quarantined(&held).expect("read").expect("record");
    assert_eq!(record.report, report);
    assert_eq!(record.envelope.id, held);
    assert_eq!(record.envelope.recipients[0].address, "a@example.org");
    assert_eq!(record.envelope.size, body.len() as u64);
    assert_eq!(queue.message(&held).expect("read"), Some(body));
    assert_eq!(queue.quarantined_ids().expect("ids"), vec![held]);

    assert_eq!(queue.envelope(&held).expect("read"), None);
    assert_eq!(queue.quarantined(&queued).expect("read"), None);
    assert_eq!(queue.ids().expect("ids"), vec![queued]);
    assert_eq!(queue.due(u64::MAX, 10).expect("due"), vec![queued]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_message_is_queued_due_now_and_leaves_quarantine_across_reopening() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (released, deleted, expired, kept) = {
        let queue = open(tmp.path());
        let mut ids = Vec::new();
        for rcpt in ["r@example.org", "d@example.org", "e@example.org"] {
            let id = queue
                .quarantine(new_message(&[rcpt]), rcpt.as_bytes().to_vec(), "{}".into())
                .await
                .expect("quarantine");
            ids.push(id);
        }
        let now = now_ms();
        let envelope = queue
            .release_quarantined(&ids[0], now + 1_000)
            .expect("release")
            .expect("was quarantined");
        assert_eq!(envelope.next_attempt_ms, now + 1_000);
        assert_eq!(envelope.received_at_ms, now + 1_000);
        assert!(queue.delete_quarantined(&ids[1]).expect("delete"));
        assert!(!queue.delete_quarantined(&ids[1]).expect("delete twice"));
        assert_eq!(
            queue.release_quarantined(&ids[1], now).expect("release"),
            None
        );
        // A new one, quarantined after the cut-off, outlives the expiry.
        let cutoff = now_ms() + 1;
        std::thread::sleep(std::time::Duration::from_millis(5));
        let kept = queue
            .quarantine(new_message(&["k@example.org"]), b"k".to_vec(), "{}".into())
            .await
            .expect("quarantine");
        assert_eq!(queue.expire_quarantine(cutoff).expect("expire"), 1);
        (ids[0], ids[1], ids[2], kept)
    };
    let queue = open(tmp.path());
    assert_eq!(queue.quarantined_ids().expect("ids"), vec![kept]);
    assert_eq!(queue.ids().expect("ids"), vec![released]);
    assert_eq!(queue.due(u64::MAX, 10).expect("due"), vec![released]);
    assert_eq!(
        queue.message(&released).expect("read"),
        Some(b"r@example.org".to_vec())
    );
    for gone in [deleted, expired] {
        assert_eq!(
            queue.message(&gone).expect("read"),
            None,
            "bytes of {gone} remain"
        );
        assert_eq!(queue.envelope(&gone).expect("read"), None);
    }
}

#[test]
fn the_queue_and_its_errors_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Queue>();
    send_sync::<QueueError>();
}

#[tokio::test]
async fn a_message_that_would_eat_into_the_reserve_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // 1 MiB reserve, 600 KiB available: a message may leave 512 KiB, so 88 KiB fit.
    let space = FreeSpace::with_probe(tmp.path(), 1 << 20, Box::new(|_| Ok(600 << 10)));
    let db = Database::open(tmp.path()).expect("open database");
    let queue = Queue::open_with(db, space).expect("open queue");
    let refused = queue
        .enqueue(new_message(&["a@example.org"]), vec![b'x'; 100 << 10])
        .await;
    assert!(
        matches!(refused, Err(QueueError::NoRoom { .. })),
        "{refused:?}"
    );
    let quarantined = queue
        .quarantine(
            new_message(&["a@example.org"]),
            vec![b'x'; 100 << 10],
            "{}".into(),
        )
        .await;
    assert!(matches!(quarantined, Err(QueueError::NoRoom { .. })));
    assert!(queue.is_empty().expect("read"));
    assert!(queue.quarantined_ids().expect("read").is_empty());
    queue
        .enqueue(new_message(&["a@example.org"]), vec![b'x'; 50 << 10])
        .await
        .expect("a message that leaves the half reserve is queued");
    assert!(
        queue.space().for_mail(0).is_err(),
        "below the reserve: no new transaction"
    );
    assert!(queue.failure().is_none(), "refusing is not failing");
}

#[test]
fn the_start_up_write_check_leaves_nothing_a_reader_sees() {
    let tmp = tempfile::tempdir().expect("temp dir");
    {
        let queue = open(tmp.path());
        queue
            .check_writable()
            .expect("a healthy database takes writes");
        queue.check_writable().expect("twice too");
        assert!(queue.failure().is_none());
    }
    let queue = open(tmp.path());
    assert!(queue.ids().expect("ids").is_empty());
    assert_eq!(queue.len().expect("len"), 0);
    assert!(queue.due(u64::MAX, 10).expect("due").is_empty());
}
