//! Floods and faults an MX on the internet meets (issue 23): idle connections by the
//! thousand, and the client that comes after them.

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::gateway::Gateway;

/// Raises this test process's open-file limit to its hard limit: the number of files it
/// may now hold.
fn raise_own_file_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one rlimit through a valid pointer.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

/// A connection to `server` from the loopback address `source`.
fn connect_from(runtime: &tokio::runtime::Runtime, source: &str, server: SocketAddr) -> TcpStream {
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(source).unwrap();
        socket.connect(server).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Whether a new client, from an address of its own, is greeted within 2 s.
fn greeted_at_once(runtime: &tokio::runtime::Runtime, server: SocketAddr) -> Result<(), String> {
    let mut client = connect_from(runtime, "127.0.1.1", server);
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut greeting = [0u8; 64];
    let n = client.read(&mut greeting).map_err(|e| e.to_string())?;
    let greeting = String::from_utf8_lossy(&greeting[..n]).into_owned();
    greeting.starts_with("220 ").then_some(()).ok_or(greeting)
}

#[test]
fn a_new_client_is_served_while_thousands_of_idle_connections_are_open() {
    let files = raise_own_file_limit();
    assert!(
        files > 6_000,
        "this test needs 6,000 open files; the hard limit is {files}"
    );
    // No plugins: the point is the listener, and 5,000 connect stages would only slow the
    // flood down.
    let gw = Gateway::start("bundled = []\n");
    let mx = gw.mx();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut idle: Vec<TcpStream> = Vec::new();
    for flood in [1_000, 5_000] {
        while idle.len() < flood {
            // From 250 addresses: 20 each at most, the default per-client cap.
            let source = format!("127.0.0.{}", 2 + idle.len() % 250);
            let mut stream = connect_from(&runtime, &source, mx);
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut greeting = [0u8; 4];
            stream.read_exact(&mut greeting).unwrap();
            assert_eq!(
                &greeting,
                b"220 ",
                "connection {} from {source}",
                idle.len()
            );
            idle.push(stream);
        }
        greeted_at_once(&runtime, mx)
            .unwrap_or_else(|e| panic!("with {flood} idle connections open: {e}"));
    }
    drop(idle);
}

/// Reads what `stream` says within `wait`, if anything.
fn said_within(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut bytes = [0u8; 256];
    match stream.read(&mut bytes) {
        Ok(n) if n > 0 => Some(String::from_utf8_lossy(&bytes[..n]).into_owned()),
        _ => None,
    }
}

/// Under stress (80% of the listener's cap open), sessions that have not started a
/// transaction get `stress_timeout` until the stress is over; one in a transaction keeps
/// `command_timeout`.
#[test]
fn under_stress_idle_sessions_go_first_and_a_transaction_stays() {
    let gw = Gateway::start_with(
        "max_connections = 10\n",
        "bundled = []\n[smtp]\nstress_timeout = \"1s\"\n",
    );
    let mut busy = moat_test_support::RawSmtp::connect(gw.mx());
    assert_eq!(busy.reply().unwrap().code, 220);
    assert_eq!(busy.command("EHLO client.example").code, 250);
    assert_eq!(busy.command("MAIL FROM:<a@example.org>").code, 250);
    let open = |count: usize| -> Vec<TcpStream> {
        (0..count)
            .map(|_| {
                let mut s = TcpStream::connect(gw.mx()).unwrap();
                let greeting = said_within(&mut s, Duration::from_secs(10)).unwrap();
                assert!(greeting.starts_with("220 "), "{greeting}");
                s
            })
            .collect()
    };
    // Seven open: 70%, no stress; idle sessions keep their five minutes.
    let mut idle = open(6);
    std::thread::sleep(Duration::from_millis(2500));
    for session in &mut idle {
        assert_eq!(
            said_within(session, Duration::from_millis(10)),
            None,
            "no stress below 80%"
        );
    }
    // The eighth: 80%, stress. Idle sessions are dropped until it is over.
    idle.extend(open(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut dropped = 0;
    while dropped == 0 && std::time::Instant::now() < deadline {
        for session in &mut idle {
            if let Some(reply) = said_within(session, Duration::from_millis(50)) {
                assert!(reply.starts_with("421 4.4.2"), "{reply}");
                dropped += 1;
            }
        }
    }
    assert!(dropped >= 1, "no idle session was dropped under stress");
    assert_eq!(busy.command("NOOP").code, 250, "the transaction stays");
}

/// `VmHWM` (peak resident memory) and `VmRSS` of process `pid`, in bytes.
fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Sends one message of `body` bytes over a session of its own: the code of the reply
/// that decided it (DATA's refusal, or the end of data's).
fn send_large(mx: SocketAddr, n: usize, message: &[u8]) -> u16 {
    let mut smtp = moat_test_support::RawSmtp::connect(mx);
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    assert_eq!(
        smtp.command(&format!("MAIL FROM:<s{n}@example.org>")).code,
        250
    );
    assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 250);
    let data = smtp.command("DATA");
    if data.code != 354 {
        return data.code;
    }
    smtp.send(message);
    smtp.send(b".\r\n");
    smtp.reply().expect("the end-of-data reply").code
}

#[test]
fn large_messages_at_once_stay_within_the_memory_budget_and_nothing_accepted_is_lost() {
    const BUDGET: u64 = 64 << 20;
    const SESSIONS: usize = 24;
    let mut gw = Gateway::start_with(
        "max_connections_per_ip = 100\n",
        "bundled = []\n[smtp]\nmax_message_size = \"8MiB\"\nmax_inflight_bytes = \"64MiB\"\n",
    );
    let pid = gw.pid();
    let (_, baseline) = memory_of(pid);
    // 6 MiB of text per message, 144 MiB offered at once against a 64 MiB budget.
    let mut message = crate::message("large", "", "").into_bytes();
    let line = b"the quick brown fox jumps over the lazy dog, again and again and again\r\n";
    while message.len() < 6 << 20 {
        message.extend_from_slice(line);
    }
    let message = std::sync::Arc::new(message);
    let mx = gw.mx();
    let codes: Vec<u16> = std::thread::scope(|scope| {
        let senders: Vec<_> = (0..SESSIONS)
            .map(|n| {
                let message = std::sync::Arc::clone(&message);
                scope.spawn(move || send_large(mx, n, &message))
            })
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let (peak, _) = memory_of(pid);
    let accepted = codes.iter().filter(|&&c| c == 250).count();
    assert!(codes.iter().all(|&c| c == 250 || c == 452), "{codes:?}");
    assert!(accepted >= 1, "{codes:?}");
    assert!(accepted < SESSIONS, "the budget refused some: {codes:?}");
    eprintln!(
        "accepted {accepted} of {SESSIONS}; peak {} MiB over a start of {} MiB",
        peak >> 20,
        baseline >> 20
    );
    // The budget plus a fixed overhead above the start: the queue's write buffer (fjall
    // keeps accepted messages in a memtable of up to 64 MiB until it flushes them to its
    // blob files) and 48 MiB of buffers and allocator slack.
    let margin = (64 << 20) + (48 << 20);
    assert!(
        peak <= baseline + BUDGET + margin,
        "peak {} MiB over a start of {} MiB (budget 64 MiB)",
        peak >> 20,
        baseline >> 20
    );
    gw.stop();
    assert_eq!(gw.queue_ids().len(), accepted, "every 250 is queued");
}
