//! `kill -9` while 50 sessions send: every message that got a 250 is in the queue, whole.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use moat_test_support::workspace_root;
use sha2::{Digest, Sha256};

use crate::gateway::Gateway;

#[test]
fn kill_9_under_load_loses_no_message_that_got_a_250() {
    let mut gw = Gateway::start("");
    let addr = gw.mx();
    let script = workspace_root().join("tests/e2e/clients/load_send.py");
    let mut load = Command::new("python3")
        .args([
            script.display().to_string(),
            addr.ip().to_string(),
            addr.port().to_string(),
            "50".into(),
            "30".into(),
            "3000".into(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = load.stdout.take().unwrap();
    let acknowledged = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
            .collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_secs(3));
    gw.crash();
    let status = load.wait().unwrap();
    assert!(status.success());
    let acknowledged = acknowledged.join().unwrap();
    assert!(
        acknowledged.len() >= 50,
        "the load ran: only {} messages were acknowledged",
        acknowledged.len()
    );

    // Read the queue with Moat's own code, as the restarted gateway would.
    let db = moat::store::Database::open(&gw.dir.path().join("data")).unwrap();
    let queue = moat::queue::Queue::open(db).unwrap();
    let queued = queue.ids().unwrap();
    for ack in &acknowledged {
        let id: moat::queue::QueueId = ack["id"].as_str().unwrap().parse().unwrap();
        let stored = queue
            .message(&id)
            .unwrap()
            .unwrap_or_else(|| panic!("{id} got a 250 but is not in the queue after kill -9"));
        let sent = strip_added_fields(&stored);
        assert_eq!(
            hex(&Sha256::digest(sent)),
            ack["sha256"].as_str().unwrap(),
            "{id}: the stored message is not whole"
        );
        assert!(
            queue.envelope(&id).unwrap().is_some(),
            "{id}: the envelope is missing"
        );
    }
    eprintln!(
        "{} messages acknowledged, {} in the queue after kill -9",
        acknowledged.len(),
        queued.len()
    );
}

/// The message without the fields Moat put in front of it: its folded `Received:` field
/// and the verdict (`X-Spam-*`, `X-Moat-Report`).
fn strip_added_fields(stored: &[u8]) -> &[u8] {
    assert!(stored.starts_with(b"Received: "));
    let mut at = 0;
    loop {
        // One field: its first line and any continuation lines.
        let mut end = at;
        loop {
            end = stored[end..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .map(|p| end + p + 2)
                .expect("a complete header field");
            if stored.get(end) != Some(&b'\t') {
                break;
            }
        }
        at = end;
        let next = &stored[at..];
        if !(next.starts_with(b"X-Spam-") || next.starts_with(b"X-Moat-Report: ")) {
            return next;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
