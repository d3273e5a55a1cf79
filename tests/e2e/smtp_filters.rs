//! Filters at every stage of a live session: refusals before DATA, tag and quarantine
//! after it, and the outcome stage running after the decision.

use moat::test_guests::TEST_MISBEHAVE;
use moat_test_support::RawSmtp;

use crate::gateway::{Gateway, queued_id, step};
use crate::message;

/// The misbehave guest, behaving, with `config` as its config table body.
fn misbehave(config: &str, extra: &str) -> String {
    format!(
        "[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\n{extra}[plugin.misbehave.config]\nmode = \"none\"\n{config}\n"
    )
}

#[test]
fn a_connect_stage_reject_answers_554_at_the_greeting_and_serves_only_quit() {
    let gw = Gateway::start(&misbehave(
        "act_at = \"connect\"\nact = \"reject\"",
        "allow_hard_action = true\n",
    ));
    let mut smtp = RawSmtp::connect(gw.mx());
    let greeting = smtp.reply().unwrap();
    assert_eq!(
        (greeting.code, &greeting.text[..5]),
        (554, "5.7.1"),
        "{greeting:?}"
    );
    assert!(greeting.text.contains("MISBEHAVE_ACT"), "{greeting:?}");
    assert_eq!(smtp.command("EHLO client.example").code, 503);
    assert_eq!(smtp.command("QUIT").code, 221);
}

#[test]
fn rcpt_and_mail_stage_decisions_are_answered_before_data() {
    let gw = Gateway::start(&misbehave(
        "act_at = \"rcpt_to\"\nact = \"reject\"",
        "allow_hard_action = true\n",
    ));
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    let rcpt = smtp.command("RCPT TO:<b@example.test>");
    assert_eq!((rcpt.code, &rcpt.text[..5]), (554, "5.7.1"), "{rcpt:?}");
    assert_eq!(smtp.command("DATA").code, 503, "no recipient was accepted");

    let gw = Gateway::start(&misbehave(
        "act_at = \"mail_from\"\nact = \"tempfail\"",
        "allow_hard_action = true\n",
    ));
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    let mail = smtp.command("MAIL FROM:<a@example.org>");
    assert_eq!((mail.code, &mail.text[..5]), (450, "4.7.1"), "{mail:?}");
}

#[test]
fn a_hard_action_from_an_untrusted_plugin_is_ignored() {
    let gw = Gateway::start(&misbehave(
        "act_at = \"rcpt_to\"\nact = \"reject\"",
        "allow_hard_action = false\nweight = 0.0\n",
    ));
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    assert_eq!(smtp.command("RCPT TO:<b@example.test>").code, 250);
}

#[test]
fn tagged_messages_carry_the_verdict_headers() {
    let mut gw = Gateway::start("[thresholds]\ntag = 0.5\nquarantine = 50.0\nreject = 60.0\n");
    // No Date header: the bundled headers plugin scores MISSING_DATE.
    let sent = "From: a@example.org\r\nTo: b@example.test\r\nSubject: no date\r\nMessage-ID: <x@example.org>\r\n\r\nbody\r\n";
    let steps = gw.smtplib(
        "mx",
        sent.as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    let id = queued_id(step(&steps, "data")["text"].as_str().unwrap());
    gw.stop();
    let stored = String::from_utf8(gw.queued_message(&id)).unwrap();
    assert!(
        stored.contains("\r\nX-Spam-Flag: YES\r\nX-Spam-Score: "),
        "{stored}"
    );
    assert!(
        stored.contains("X-Moat-Report: action=tag") && stored.contains("headers.MISSING_DATE("),
        "{stored}"
    );
    assert!(stored.ends_with(sent), "{stored}");
}

#[test]
fn quarantined_messages_get_250_and_stay_out_of_the_delivery_queue() {
    let mut gw = Gateway::start("[thresholds]\ntag = 0.5\nquarantine = 0.5\nreject = 60.0\n");
    let sent = "From: a@example.org\r\nTo: b@example.test\r\nSubject: no date\r\nMessage-ID: <x@example.org>\r\n\r\nbody\r\n";
    let steps = gw.smtplib(
        "mx",
        sent.as_bytes(),
        &["--from", "a@example.org", "--rcpt", "b@example.test"],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    gw.stop();
    assert!(gw.queue_ids().is_empty(), "not queued for delivery");
    let db = moat::store::Database::open(&gw.dir.path().join("data")).unwrap();
    let queue = moat::queue::Queue::open(db).unwrap();
    let quarantined = queue
        .quarantined(&id.parse().unwrap())
        .unwrap()
        .expect("in quarantine");
    assert!(
        quarantined.report.contains("MISSING_DATE"),
        "{}",
        quarantined.report
    );
}

#[test]
fn the_outcome_stage_runs_after_each_decision() {
    let mut gw = Gateway::start(&misbehave("", "capabilities = [\"kv\"]\n"));
    for i in 0..3 {
        let steps = gw.smtplib(
            "mx",
            message(&format!("m{i}"), "", "hi").as_bytes(),
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    }
    // The outcome stage runs after the reply; give the last one a moment.
    std::thread::sleep(std::time::Duration::from_millis(500));
    gw.stop();
    let kv_dir = gw
        .dir
        .path()
        .join("data")
        .join(moat::filter::assemble::KV_DIR);
    let db = moat::store::Database::open(&kv_dir).unwrap();
    use moat::store::KvBackend as _;
    let kv = moat::store::FjallKv::new(db)
        .namespace("misbehave")
        .unwrap();
    let count = kv
        .get("outcomes")
        .unwrap()
        .map(|v| i64::from_le_bytes(v.try_into().unwrap()));
    assert_eq!(count, Some(3));
}

#[test]
fn nul_in_data_and_unknown_listed_recipients_are_refused() {
    let gw = Gateway::start("[relay.recipients]\n\"example.test\" = [\"bob\"]\n");
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example").code, 250);
    assert_eq!(smtp.command("MAIL FROM:<a@example.org>").code, 250);
    let unknown = smtp.command("RCPT TO:<mallory@example.test>");
    assert_eq!(
        (unknown.code, &unknown.text[..5]),
        (550, "5.1.1"),
        "{unknown:?}"
    );
    assert_eq!(smtp.command("RCPT TO:<Bob@Example.Test>").code, 250);
    assert_eq!(smtp.command("DATA").code, 354);
    smtp.send(b"Subject: nul\r\n\r\nbad \0 byte\r\n.\r\n");
    let reply = smtp.reply().unwrap();
    assert_eq!((reply.code, &reply.text[..5]), (550, "5.6.0"), "{reply:?}");
}

#[test]
fn each_message_gets_one_log_line_with_its_id_client_envelope_and_decision() {
    let mut gw = Gateway::start("");
    let steps = gw.smtplib(
        "mx",
        message("logged", "", "hello").as_bytes(),
        &[
            "--from",
            "a@example.org",
            "--rcpt",
            "b@example.test",
            "--rcpt",
            "c@example.test",
        ],
    );
    let data = step(&steps, "data");
    assert_eq!(data["code"], 250, "{steps:?}");
    let id = queued_id(data["text"].as_str().unwrap());
    let log = gw.stop();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!(" message queue_id={id} ")))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    let line = lines[0];
    for field in [
        "client_ip=127.0.0.1",
        "from=<a@example.org>",
        "rcpts=b@example.test,c@example.test",
        "score=",
        "symbols=",
        "reply=250",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        line.contains("action=\"accept\"") || line.contains("action=\"tag\""),
        "{line}"
    );
}
