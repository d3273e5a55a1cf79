//! `kill -9` while 50 sessions send: every message that got a 250 is in the queue, whole.
//! `kill -9` while mail is also being delivered, again and again: every message that got a
//! 250 arrives downstream, and no more are delivered twice than had an attempt in progress.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use moat_test_support::{SmtpSink, scratch, wait_until, workspace_root};
use sha2::{Digest, Sha256};

use crate::delivery::delivery_config;
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

/// Crashes while delivering: how many kills, and how long each load runs before its kill.
const CRASHES: usize = 3;
const LOAD_BEFORE_KILL: Duration = Duration::from_secs(3);

#[test]
fn kill_9_while_delivering_loses_nothing_and_duplicates_at_most_the_attempts_in_flight() {
    let sink_dir = scratch();
    let sink = SmtpSink::start(&sink_dir.path().join("sink"), 0, &[]);
    let keys =
        "max_connections = 4\nmax_connections_per_destination = 4\nretry_intervals = [\"1s\"]";
    let config = delivery_config(keys, &[(&["example.test"], sink.addr)]);
    let mut gw = Gateway::start(&config);
    let in_flight = moat::config::Config::parse(
        &std::fs::read_to_string(gw.dir.path().join("moat.toml")).unwrap(),
        "moat.toml",
    )
    .unwrap()
    .delivery
    .max_messages_in_flight();

    let mut acknowledged = Vec::new();
    for crash in 0..CRASHES {
        if crash > 0 {
            gw.start_again();
        }
        let load = start_load(gw.mx(), 20, LOAD_BEFORE_KILL.as_secs() + 30);
        std::thread::sleep(LOAD_BEFORE_KILL);
        gw.crash();
        acknowledged.extend(load.finish());
    }
    gw.start_again();
    assert!(
        acknowledged.len() >= 100,
        "the load ran: only {} messages were acknowledged",
        acknowledged.len()
    );

    let wanted: std::collections::HashSet<String> = acknowledged
        .iter()
        .map(|ack| ack["message_id"].as_str().unwrap().to_owned())
        .collect();
    let mut received = Vec::new();
    let all_arrived = wait_until(Duration::from_secs(120), || {
        received = sink
            .messages()
            .iter()
            .filter_map(|m| message_id(m))
            .collect();
        let arrived: std::collections::HashSet<&String> = received.iter().collect();
        wanted.iter().all(|id| arrived.contains(id))
    });
    let arrived: std::collections::HashSet<&String> = received.iter().collect();
    let missing = wanted.iter().filter(|id| !arrived.contains(id)).count();
    assert!(
        all_arrived,
        "{missing} of {} acknowledged messages never arrived downstream",
        wanted.len()
    );
    let duplicates = received.len() - arrived.len();
    eprintln!(
        "{} messages acknowledged over {CRASHES} kills, {} deliveries, {duplicates} duplicates \
         (bound: {in_flight} attempts in flight per kill)",
        wanted.len(),
        received.len()
    );
    assert!(
        duplicates <= CRASHES * in_flight,
        "{duplicates} messages delivered twice after {CRASHES} kills: more than the \
         {in_flight} attempts a crash can leave unrecorded, per kill"
    );
    gw.stop();
}

/// `load_send.py` against `mx`: `sessions` sessions for at most `seconds`.
pub(crate) fn start_load(mx: std::net::SocketAddr, sessions: u32, seconds: u64) -> Load {
    let script = workspace_root().join("tests/e2e/clients/load_send.py");
    let mut child = Command::new("python3")
        .args([
            script.display().to_string(),
            mx.ip().to_string(),
            mx.port().to_string(),
            sessions.to_string(),
            seconds.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap())
            .collect::<Vec<_>>()
    });
    Load { child, lines }
}

/// A running `load_send.py` and the acknowledgements it prints.
pub(crate) struct Load {
    child: std::process::Child,
    lines: std::thread::JoinHandle<Vec<serde_json::Value>>,
}

impl Load {
    /// Waits for the load to end (its sessions stop at their first error) and returns
    /// every acknowledged message.
    pub(crate) fn finish(mut self) -> Vec<serde_json::Value> {
        assert!(self.child.wait().unwrap().success());
        self.lines.join().unwrap()
    }
}

/// The Message-ID of a message smtp-sink dumped.
fn message_id(dump: &[u8]) -> Option<String> {
    String::from_utf8_lossy(dump)
        .lines()
        .find_map(|line| line.strip_prefix("Message-ID: "))
        .map(str::to_owned)
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
