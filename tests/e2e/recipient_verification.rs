//! Recipient verification (`[relay] verify_recipients = "downstream"`, issue 22): the
//! gateway asks the protected server (`clients/downstream.py`, which knows its users)
//! whether a recipient exists before answering RCPT, so mail for unknown users is refused
//! at once instead of bounced later. Answers are cached (one probe per address, seen in
//! the server's log and in `/metrics`); a probe never sends DATA; a server that is down
//! or silent gets the sender a 450 (or, configured so, acceptance) without hanging RCPT.

use std::time::{Duration, Instant};

use moat_test_support::{Downstream, RawSmtp, scratch, wait_until};
use serde_json::Value;

use crate::delivery::delivery_config;
use crate::gateway::{Gateway, step};
use crate::metrics::{parse, scrape};
use crate::submission::{add_user, submission_listeners};

const VERIFY: &str = "verify_recipients = \"downstream\"\n";

/// A session on the MX listener, past EHLO and MAIL.
fn transaction(gw: &Gateway) -> RawSmtp {
    let mut smtp = RawSmtp::connect(gw.mx());
    assert_eq!(smtp.reply().unwrap().code, 220);
    assert_eq!(smtp.command("EHLO client.example.org").code, 250);
    assert_eq!(smtp.command("MAIL FROM:<sender@example.org>").code, 250);
    smtp
}

/// The metric `series` of `gw` (0 when absent).
fn metric(gw: &Gateway, series: &str) -> f64 {
    parse(&scrape(gw)).get(series).copied().unwrap_or(0.0)
}

fn probes(gw: &Gateway, result: &str) -> f64 {
    metric(
        gw,
        &format!("moat_recipient_verify_probes_total{{result=\"{result}\"}}"),
    )
}

fn hits(gw: &Gateway, answer: &str) -> f64 {
    metric(
        gw,
        &format!("moat_recipient_verify_cache_hits_total{{answer=\"{answer}\"}}"),
    )
}

/// The downstream's events named `name`.
fn events(downstream: &Downstream, name: &str) -> Vec<Value> {
    downstream
        .events()
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

/// How many times the downstream was asked about `address`.
fn asked(downstream: &Downstream, address: &str) -> usize {
    events(downstream, "rcpt")
        .iter()
        .filter(|e| e["address"] == address)
        .count()
}

#[test]
fn unknown_users_are_refused_at_rcpt_known_ones_taken_and_each_address_probed_once() {
    let dir = scratch();
    let downstream = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("downstream.log"),
        &[
            "--rcpt",
            "alice@example.test=250 2.1.5 alice is here",
            "--rcpt",
            "carol@example.test=250 2.1.5 carol is here",
            "--rcpt-default",
            "550 5.1.1 no such user",
            "--log-commands",
        ],
    );
    let extra = format!(
        "{}{}",
        delivery_config("", &[(&["example.test", "localhost"], downstream.addr)]),
        submission_listeners("")
    );
    let gw = Gateway::start_with_relay(VERIFY, &extra);

    let mut smtp = transaction(&gw);
    for _ in 0..2 {
        let unknown = smtp.command("RCPT TO:<nobody@example.test>");
        assert_eq!(unknown.code, 550, "{unknown:?}");
        assert!(unknown.text.starts_with("5.1.1 "), "{unknown:?}");
        assert_eq!(smtp.command("RCPT TO:<alice@example.test>").code, 250);
    }
    // Another spelling of the same address is the same cache entry.
    assert_eq!(smtp.command("RCPT TO:<Alice@EXAMPLE.test>").code, 250);
    assert_eq!(smtp.command("QUIT").code, 221);

    assert_eq!(
        asked(&downstream, "nobody@example.test"),
        1,
        "{:?}",
        downstream.events()
    );
    assert_eq!(asked(&downstream, "alice@example.test"), 1);
    assert_eq!(probes(&gw, "known"), 1.0);
    assert_eq!(probes(&gw, "unknown"), 1.0);
    assert_eq!(probes(&gw, "failed"), 0.0);
    assert_eq!(hits(&gw, "known"), 2.0);
    assert_eq!(hits(&gw, "unknown"), 1.0);

    // Every probe: the null sender, one RCPT, QUIT; never DATA.
    let connections = downstream.connections();
    assert_eq!(connections, 2, "{:?}", downstream.events());
    for mail in events(&downstream, "mail") {
        assert_eq!(mail["mail_from"], "", "{mail}");
    }
    assert!(
        wait_until(Duration::from_secs(10), || events(&downstream, "quit")
            .len()
            == connections),
        "{:?}",
        downstream.events()
    );
    assert!(
        events(&downstream, "data").is_empty(),
        "{:?}",
        downstream.events()
    );

    // A logged-in user's recipients: verified at a protected domain, not elsewhere.
    add_user(&gw, "carol@example.test", "carol-password", &[]);
    let steps = gw.talk(
        "submission",
        &[
            "--starttls",
            "--login",
            "carol@example.test",
            "carol-password",
            "--cmd",
            "MAIL FROM:<carol@example.test>",
            "--cmd",
            "RCPT TO:<nobody2@example.test>",
            "--cmd",
            "RCPT TO:<friend@elsewhere.example>",
        ],
    );
    let replies: Vec<&Value> = steps.iter().filter(|s| s["step"] == "cmd").collect();
    assert_eq!(replies.len(), 3, "{steps:?}");
    assert_eq!(replies[1]["code"], 550, "{steps:?}");
    assert_eq!(replies[2]["code"], 250, "{steps:?}");
    assert_eq!(step(&steps, "login")["code"], 235, "{steps:?}");
    assert_eq!(asked(&downstream, "nobody2@example.test"), 1);
    assert_eq!(asked(&downstream, "friend@elsewhere.example"), 0);
}

#[test]
fn a_downstream_that_is_down_gets_450_and_a_silent_one_does_not_hang_rcpt() {
    // The default route goes to 127.0.0.1:9, where nothing listens.
    let down = Gateway::start_with_relay(VERIFY, "[admin]\naddress = \"127.0.0.1:0\"\n");
    let mut smtp = transaction(&down);
    for _ in 0..2 {
        let reply = smtp.command("RCPT TO:<bob@example.test>");
        assert_eq!(reply.code, 450, "{reply:?}");
        assert!(reply.text.starts_with("4.1.1 "), "{reply:?}");
    }
    assert_eq!(probes(&down, "failed"), 2.0, "a failure is not cached");
    drop(down);

    // A server that never answers, and the operator's choice to accept meanwhile.
    let dir = scratch();
    let silent = Downstream::start(
        "127.0.0.1",
        0,
        &dir.path().join("silent.log"),
        &["--silent"],
    );
    let relay =
        format!("{VERIFY}verify_timeout = \"1s\"\nunverified_recipient_action = \"accept\"\n");
    let gw = Gateway::start_with_relay(
        &relay,
        &delivery_config("", &[(&["example.test", "localhost"], silent.addr)]),
    );
    let mut smtp = transaction(&gw);
    let started = Instant::now();
    assert_eq!(smtp.command("RCPT TO:<bob@example.test>").code, 250);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(probes(&gw, "failed"), 1.0);
}
