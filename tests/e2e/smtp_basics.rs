//! Real clients deliver to the real gateway: smtplib (plain and STARTTLS), swaks with
//! pipelining, Postfix's smtp-source with concurrent sessions, BDAT, 8-bit and SMTPUTF8;
//! the queue holds each message byte-identical apart from the headers Moat adds.

use moat_test_support::RawSmtp;

use crate::gateway::{Gateway, queued_id, step, swaks};
use crate::{GTUBE, message};

/// The stored message is `Received: ...` (folded) and Moat's verdict fields (`X-Spam-*`,
/// `X-Moat-Report`), followed by exactly what was sent.
fn assert_stored_as_sent(stored: &[u8], sent: &[u8]) {
    assert!(
        stored.starts_with(b"Received: from "),
        "{}",
        String::from_utf8_lossy(stored)
    );
    assert!(
        stored.ends_with(sent),
        "stored message does not end with the message as sent:\n{}",
        String::from_utf8_lossy(stored)
    );
    let added = &stored[..stored.len() - sent.len()];
    let text = String::from_utf8_lossy(added);
    assert!(
        text.lines().skip(1).all(|l| l.starts_with('\t')
            || l.starts_with("X-Spam-")
            || l.starts_with("X-Moat-Report: ")),
        "only the folded Received field and the verdict are added: {text}"
    );
    assert!(text.contains("\r\nX-Spam-Flag: "), "{text}");
}

#[test]
fn smtplib_plain_message_is_queued_byte_identical_apart_from_the_added_fields() {
    let mut gw = Gateway::start("");
    let sent = message("hello", "", "Plain body.\r\nSecond line.");
    let steps = gw.smtplib(
        "mx",
        sent.as_bytes(),
        &["--from", "alice@example.org", "--rcpt", "bob@example.test"],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    gw.stop();
    assert_eq!(gw.queue_ids(), vec![id.clone()]);
    let stored = gw.queued_message(&id);
    assert_stored_as_sent(&stored, sent.as_bytes());
    let text = String::from_utf8_lossy(&stored);
    assert!(text.contains("by mx.test (Moat) with ESMTP\r\n"), "{text}");
    assert!(text.contains("for <bob@example.test>"), "{text}");
}

#[test]
fn smtplib_starttls_is_recorded_in_the_received_field() {
    let mut gw = Gateway::start("");
    let sent = message("tls", "", "Over TLS.");
    let steps = gw.smtplib(
        "mx",
        sent.as_bytes(),
        &[
            "--starttls",
            "--from",
            "alice@example.org",
            "--rcpt",
            "bob@example.test",
        ],
    );
    assert_eq!(step(&steps, "starttls")["code"], 220, "{steps:?}");
    let ehlo_after = step(&steps, "ehlo")["text"].as_str().unwrap();
    assert!(
        !ehlo_after.contains("STARTTLS"),
        "STARTTLS is not offered again inside TLS: {ehlo_after}"
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    gw.stop();
    let stored = gw.queued_message(&id);
    assert_stored_as_sent(&stored, sent.as_bytes());
    let text = String::from_utf8_lossy(&stored);
    assert!(
        text.contains("with ESMTPS") && text.contains("version=TLSv1.3"),
        "{text}"
    );
}

#[test]
fn eight_bit_and_smtputf8_messages_are_accepted_unchanged() {
    let mut gw = Gateway::start("");
    let sent = message(
        "Grüße",
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        "Schöne Grüße, ünïcödé.",
    );
    let steps = gw.smtplib(
        "mx",
        sent.as_bytes(),
        &[
            "--from",
            "jürgen@example.org",
            "--rcpt",
            "ünïcode@example.test",
            "--mail-option",
            "SMTPUTF8",
            "--mail-option",
            "BODY=8BITMIME",
        ],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    gw.stop();
    assert_stored_as_sent(&gw.queued_message(&id), sent.as_bytes());
}

#[test]
fn swaks_with_pipelining_delivers() {
    let mut gw = Gateway::start("");
    let out = swaks(
        gw.dir.path(),
        gw.mx(),
        &[
            "--pipeline",
            "--from",
            "alice@example.org",
            "--to",
            "bob@example.test",
            "--header",
            "Subject: swaks pipelined",
            "--body",
            "piped",
        ],
    );
    out.assert_success();
    assert!(
        out.stdout().contains("<-  250 2.0.0 OK: queued as"),
        "{}",
        out.stdout()
    );
    gw.stop();
    assert_eq!(gw.queue_ids().len(), 1);
}

#[test]
fn bdat_chunks_make_one_message_and_pipelined_commands_after_them_work() {
    let mut gw = Gateway::start("");
    let sent = message("chunked", "", "first part, second part");
    let (a, b) = sent.as_bytes().split_at(40);
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert!(
        smtp.command("EHLO client.example")
            .text
            .contains("CHUNKING")
    );
    let mut pipelined = format!(
        "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.test>\r\nBDAT {}\r\n",
        a.len()
    )
    .into_bytes();
    pipelined.extend_from_slice(a);
    pipelined.extend_from_slice(format!("BDAT {} LAST\r\n", b.len()).as_bytes());
    pipelined.extend_from_slice(b);
    pipelined.extend_from_slice(b"NOOP\r\n");
    smtp.send(&pipelined);
    let codes: Vec<u16> = (0..5).map(|_| smtp.reply().unwrap().code).collect();
    assert_eq!(
        codes,
        [250, 250, 250, 250, 250],
        "MAIL, RCPT, chunk, last chunk, NOOP"
    );
    assert_eq!(smtp.command("QUIT").code, 221);
    gw.stop();
    let ids = gw.queue_ids();
    assert_eq!(ids.len(), 1);
    assert_stored_as_sent(&gw.queued_message(&ids[0]), sent.as_bytes());
}

#[test]
fn gtube_is_rejected_at_data_with_the_top_symbols_on_every_listener() {
    let mut gw = Gateway::start("[[listener]]\nname = \"backup\"\naddress = \"127.0.0.1:0\"\n");
    for listener in ["mx", "backup"] {
        let steps = gw.smtplib(
            listener,
            message("t", "", GTUBE).as_bytes(),
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        let data = step(&steps, "data");
        assert_eq!(data["code"], 550, "{listener}: {steps:?}");
        assert!(
            data["text"].as_str().unwrap().starts_with("5.7.1")
                && data["text"].as_str().unwrap().contains("GTUBE"),
            "{data}"
        );
    }
    gw.stop();
    assert!(gw.queue_ids().is_empty());
}

/// Postfix's smtp-source, 10 sessions at once and a connection per message, sending a
/// pre-formatted message (a line starting with a dot, which it stuffs, and 8-bit text):
/// every one of the 40 is queued, each byte-identical apart from the fields Moat adds.
#[test]
fn smtp_source_delivers_concurrently_and_every_message_is_queued_whole() {
    let mut gw = Gateway::start("");
    let sent = message(
        "from smtp-source",
        "",
        "First line.\r\n.a line that starts with a dot\r\nCaf\u{e9} cr\u{e8}me.",
    );
    // smtp-source ends each line of the file with CRLF itself.
    std::fs::write(gw.dir.path().join("m.txt"), sent.replace("\r\n", "\n")).unwrap();
    let addr = gw.mx().to_string();
    let out = moat_test_support::run_in(
        &moat_test_support::sbin_program("smtp-source"),
        gw.dir.path(),
        &[
            "-s",
            "10",
            "-m",
            "40",
            "-f",
            "alice@example.org",
            "-t",
            "bob@example.test",
            "-F",
            "m.txt",
            &addr,
        ],
        crate::COMMAND_LIMIT,
    );
    out.assert_success();
    gw.stop();
    let ids = gw.queue_ids();
    assert_eq!(ids.len(), 40, "{ids:?}");
    // smtp-source sends an empty line after the file's last one (Postfix's smtp-sink
    // records the same).
    let as_sent = format!("{sent}\r\n");
    for id in ids {
        assert_stored_as_sent(&gw.queued_message(&id), as_sent.as_bytes());
    }
}
