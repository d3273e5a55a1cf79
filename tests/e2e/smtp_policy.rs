//! Relay control, bad input and SMTP smuggling: each gets its proper reply, and the queue
//! never holds a message it should not.

use std::time::Duration;

use moat_test_support::RawSmtp;

use crate::gateway::Gateway;

fn greeted(gw: &Gateway) -> RawSmtp {
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    smtp
}

#[test]
fn relay_attempts_are_refused_with_550_5_7_1() {
    let gw = Gateway::start("");
    let mut smtp = greeted(&gw);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    for rcpt in [
        "<victim@example.org>",
        "<victim%example.org@example.test>",
        "<example.org!victim@example.test>",
        "<\"victim@example.org\"@example.test>",
        "<@example.test:victim@example.org>",
        "<victim@example.test.example.org>",
        "<victim@[127.0.0.1]>",
    ] {
        let reply = smtp.command(&format!("RCPT TO:{rcpt}"));
        assert_eq!(reply.code, 550, "{rcpt}: {reply:?}");
        assert!(reply.text.starts_with("5.7.1"), "{rcpt}: {reply:?}");
    }
    assert_eq!(smtp.command("RCPT TO:<victim@example.test>").code, 250);
}

#[test]
fn bad_input_gets_its_proper_reply_and_the_session_stays_usable() {
    let gw = Gateway::start("[smtp]\nmax_message_size = \"64KiB\"\nmax_errors = 50\n");
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    let cases: &[(&[u8], u16, &str)] = &[
        (b"MAIL FROM:<a@example.org>\r\n", 503, "5.5.1"),
        (b"EHLO\r\n", 501, "5.5.2"),
        (b"FOO bar\r\n", 500, "5.5.1"),
        (b"NOOP \0\r\n", 500, "5.5.2"),
    ];
    for (input, code, enhanced) in cases {
        smtp.send(input);
        let reply = smtp.reply().unwrap();
        assert_eq!(
            (reply.code, &reply.text[..5]),
            (*code, *enhanced),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let long = format!("NOOP {}\r\n", "x".repeat(5000));
    smtp.send(long.as_bytes());
    let reply = smtp.reply().unwrap();
    assert_eq!((reply.code, &reply.text[..5]), (500, "5.5.6"));
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 503);
    assert_eq!(smtp.command("MAIL FROM:<not an address>").code, 501);
    assert_eq!(
        smtp.command("MAIL FROM:<a@example.org> SIZE=999999999")
            .code,
        552
    );
    assert_eq!(smtp.command("MAIL FROM:<a@example.org> FROB=1").code, 555);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    assert_eq!(smtp.command("DATA").code, 503, "no recipients yet");
    assert_eq!(
        smtp.command("MAIL FROM:<a@example.org>").code,
        503,
        "nested MAIL"
    );
    assert_eq!(smtp.command("VRFY bob").code, 252);
    assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 250);
    assert_eq!(smtp.command("DATA").code, 354);
    let big = format!("Subject: big\r\n\r\n{}\r\n.\r\n", "y".repeat(70_000));
    smtp.send(big.as_bytes());
    let reply = smtp.reply().unwrap();
    assert_eq!(
        (reply.code, &reply.text[..5]),
        (552, "5.3.4"),
        "oversized data is refused after reading it"
    );
    assert_eq!(smtp.command("RSET").code, 250);
    assert_eq!(smtp.command("QUIT").code, 221);
}

/// Sends a message whose data contains `trick` then a second message's commands, and
/// returns the replies that came back.
fn smuggle(gw: &Gateway, trick: &str) -> Vec<u16> {
    let mut smtp = greeted(gw);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 250);
    assert_eq!(smtp.command("DATA").code, 354);
    let payload = format!(
        "From: a@example.org\r\nSubject: outer\r\n\r\nouter body{trick}MAIL FROM:<evil@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n"
    );
    smtp.send(payload.as_bytes());
    let mut codes = Vec::new();
    smtp.send(b"QUIT\r\n");
    while let Some(reply) = smtp.reply() {
        codes.push(reply.code);
        if reply.code == 221 {
            break;
        }
    }
    codes
}

#[test]
fn smuggling_never_splits_one_message_into_two() {
    for policy in ["reject", "normalize"] {
        let mut gw = Gateway::start(&format!("[smtp]\nbare_line_endings = \"{policy}\"\n"));
        let tricks = [
            "\n.\n",
            "\r.\r",
            "\n.\r\n",
            "\r\n.\n",
            "\r.\r\n",
            "\n.\r",
            "\r\n.\r",
            "\n.\n\r\n",
            "\r\n\r.\r\n",
        ];
        for trick in tricks {
            let codes = smuggle(&gw, trick);
            assert_eq!(codes.last(), Some(&221), "{policy} {trick:?}: {codes:?}");
            assert_eq!(
                codes.len(),
                2,
                "{policy} {trick:?}: exactly one end of data, then QUIT: {codes:?}"
            );
        }
        gw.stop();
        let ids = gw.queue_ids();
        match policy {
            "reject" => assert!(ids.is_empty(), "every smuggling attempt refused: {ids:?}"),
            _ => assert!(
                ids.len() <= tricks.len(),
                "at most one message per attempt: {ids:?}"
            ),
        }
        for id in &ids {
            let stored = String::from_utf8_lossy(&gw.queued_message(id)).into_owned();
            assert_eq!(stored.matches("Received: from").count(), 1, "{stored}");
        }
    }
}

#[test]
fn a_client_that_talks_before_the_greeting_is_refused() {
    let gw = Gateway::start("[smtp]\ngreeting_delay = \"500ms\"\n");
    let mut eager = RawSmtp::connect(gw.mx());
    eager.send(b"EHLO eager.example\r\n");
    let reply = eager.reply().unwrap();
    assert_eq!((reply.code, &reply.text[..5]), (554, "5.5.1"), "{reply:?}");
    assert!(eager.reply().is_none(), "the connection is closed");
    let mut patient = RawSmtp::connect(gw.mx());
    assert_eq!(patient.reply().unwrap().code, 220);
}

#[test]
fn starttls_discards_commands_pipelined_before_the_handshake() {
    let gw = Gateway::start("");
    let addr = gw.mx();
    let script =
        moat_test_support::workspace_root().join("tests/e2e/clients/starttls_injection.py");
    let out = moat_test_support::run_in(
        "python3",
        gw.dir.path(),
        &[
            &script.display().to_string(),
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ],
        Duration::from_secs(60),
    );
    out.assert_success();
    let lines: Vec<String> = out.stdout().lines().map(str::to_owned).collect();
    assert_eq!(lines, ["220", "503", "250 250 250"], "{}", out.stderr());
}

#[test]
fn too_many_connections_from_one_address_are_answered_421() {
    let gw = Gateway::start_with("max_connections_per_ip = 2\n", "");
    let mut first = RawSmtp::connect(gw.mx());
    let mut second = RawSmtp::connect(gw.mx());
    assert_eq!(first.reply().unwrap().code, 220);
    assert_eq!(second.reply().unwrap().code, 220);
    let mut third = RawSmtp::connect(gw.mx());
    let reply = third.reply().unwrap();
    assert_eq!((reply.code, &reply.text[..5]), (421, "4.7.0"), "{reply:?}");
}

/// A client may reconnect as soon as it reads 221: the session gives its slot back before
/// that reply, not when its task ends a moment later.
#[test]
fn a_client_may_reconnect_at_once_after_quit_at_the_per_address_cap() {
    let gw = Gateway::start_with("max_connections_per_ip = 1\n", "");
    for round in 0..300 {
        let mut smtp = RawSmtp::connect(gw.mx());
        let greeting = smtp.reply().unwrap();
        assert_eq!(greeting.code, 220, "round {round}: {greeting:?}");
        assert_eq!(smtp.command("QUIT").code, 221, "round {round}");
    }
}

#[test]
fn shutdown_answers_open_sessions_421() {
    let mut gw = Gateway::start("");
    let mut smtp = greeted(&gw);
    gw.stop();
    let reply = smtp.reply().unwrap();
    assert_eq!((reply.code, &reply.text[..5]), (421, "4.3.2"), "{reply:?}");
}

/// A client that pipelines commands and never reads the replies: the server's writes time
/// out after `command_timeout` and the session gives its slot back.
#[test]
fn a_client_that_never_reads_its_replies_loses_its_slot_after_the_write_timeout() {
    let gw = Gateway::start_with(
        "max_connections_per_ip = 1\n",
        // No plugins: each EHLO would run the helo stage, and the test is about writes.
        "bundled = []\n[smtp]\ncommand_timeout = \"2s\"\nmax_commands = 1000000\n",
    );
    let mut stuck = std::net::TcpStream::connect(gw.mx()).unwrap();
    stuck
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // EHLO's reply is ten times its command: the server's send buffer fills long before
    // ours, and then it stops reading too. Write until that happens (bounded).
    let burst = "EHLO client.example\r\n".repeat(1000);
    let mut blocked = false;
    for _ in 0..2000 {
        if std::io::Write::write_all(&mut stuck, burst.as_bytes()).is_err() {
            blocked = true;
            break;
        }
    }
    assert!(blocked, "the server kept reading without being read");
    // The slot is taken until the write timeout: then a new session is served.
    let served = moat_test_support::wait_until(Duration::from_secs(15), || {
        let mut next = RawSmtp::connect(gw.mx());
        next.reply().is_some_and(|r| r.code == 220)
    });
    assert!(served, "the stuck session kept its slot");
    drop(stuck);
}

/// A client that keeps a session alive with a command now and then ends at
/// `max_session_time`, with 421 4.3.2.
#[test]
fn a_session_ends_at_its_deadline_however_busy() {
    let gw = Gateway::start("[smtp]\nmax_session_time = \"2s\"\n");
    let mut smtp = greeted(&gw);
    let started = std::time::Instant::now();
    let last = loop {
        let reply = smtp.command("NOOP");
        if reply.code != 250 || started.elapsed() > Duration::from_secs(20) {
            break reply;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!((last.code, &last.text[..5]), (421, "4.3.2"), "{last:?}");
    assert!(last.text.contains("too long"), "{last:?}");
}
