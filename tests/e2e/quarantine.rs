//! The quarantine end to end: a message the filters hold back is listed, shown, released
//! and delivered downstream (Postfix's smtp-sink), or deleted, through `moat quarantine`
//! while the gateway runs; and released with `--learn-ham`, live and while it is stopped.

use std::time::Duration;

use moat_test_support::{SmtpSink, scratch, wait_until};
use serde_json::Value;

use crate::delivery::{delivery_config, queue, send};
use crate::gateway::Gateway;
use crate::moat;

/// Any message without a Date field scores MISSING_DATE, which these thresholds quarantine.
const THRESHOLDS: &str = "[thresholds]\ntag = 0.5\nquarantine = 0.5\nreject = 60.0\n";

fn undated(subject: &str) -> String {
    format!(
        "From: a@example.org\r\nTo: b@example.test\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\nbody of {subject}\r\n"
    )
}

/// `moat quarantine ARGS --config moat.toml` in the gateway's directory.
fn quarantine(gw: &Gateway, args: &[&str]) -> moat_test_support::Finished {
    let mut all = vec!["quarantine"];
    all.extend_from_slice(args);
    all.extend(["--config", "moat.toml"]);
    moat(gw.dir.path(), &all)
}

fn listed(gw: &Gateway, filter: &[&str]) -> Vec<Value> {
    let mut args = vec!["list", "--json"];
    args.extend_from_slice(filter);
    let out = quarantine(gw, &args);
    out.assert_success();
    out.json_lines()
}

#[test]
fn a_quarantined_message_is_listed_shown_released_and_delivered_or_deleted() {
    let dir = scratch();
    let sink = SmtpSink::start(&dir.path().join("sink"), 0, &[]);
    let config = format!(
        "{THRESHOLDS}{}",
        delivery_config("", &[(&["example.test", "localhost"], sink.addr)])
    );
    let gw = Gateway::start(&config);
    let held = send(&gw, "a@example.org", &["b@example.test"], &undated("held"));
    let dropped = send(
        &gw,
        "a@example.org",
        &["c@example.test"],
        &undated("dropped"),
    );
    assert!(queue(&gw).is_empty(), "quarantined mail is not queued");

    let all = listed(&gw, &[]);
    let ids: Vec<&str> = all
        .iter()
        .filter_map(|r| r["envelope"]["id"].as_str())
        .collect();
    assert_eq!(ids, [held.as_str(), dropped.as_str()], "{all:?}");
    let report: Value = serde_json::from_str(all[0]["report"].as_str().unwrap()).unwrap();
    assert_eq!(report["action"], "quarantine", "{report}");
    assert!(all[0]["report"].as_str().unwrap().contains("MISSING_DATE"));
    // Filters: by recipient (any case), and by age.
    let for_b = listed(&gw, &["--rcpt", "B@example.test"]);
    assert_eq!(for_b.len(), 1);
    assert_eq!(for_b[0]["envelope"]["id"], held.as_str());
    assert!(listed(&gw, &["--rcpt", "nobody@example.test"]).is_empty());
    assert_eq!(listed(&gw, &["--since", "1h"]).len(), 2);
    let human = quarantine(&gw, &["list"]);
    human.assert_success();
    assert!(human.stdout().contains(&held) && human.stdout().contains("<b@example.test>"));

    let shown = quarantine(&gw, &["show", &held]);
    shown.assert_success();
    let text = shown.stdout();
    assert!(
        text.contains("MISSING_DATE") && text.contains("Subject: held"),
        "{text}"
    );
    assert!(
        !text.contains("body of held"),
        "show prints the header only: {text}"
    );
    let raw = quarantine(&gw, &["show", "--raw", &held]);
    assert!(raw.stdout().contains("body of held"));

    quarantine(&gw, &["release", &held]).assert_success();
    // smtp-sink creates its file before it has written it all: wait for the whole message.
    assert!(
        wait_until(Duration::from_secs(30), || {
            sink.messages()
                .first()
                .is_some_and(|m| String::from_utf8_lossy(m).contains("body of held"))
        }),
        "the released message did not reach smtp-sink whole; queue: {:?}",
        queue(&gw)
    );
    let delivered = String::from_utf8_lossy(&sink.messages()[0]).into_owned();
    assert!(delivered.contains("body of held"), "{delivered}");
    assert!(
        delivered.contains("X-Rcpt-Args: <b@example.test>"),
        "{delivered}"
    );
    assert!(
        delivered.contains("\nX-Spam-Flag: YES\n")
            && delivered.contains("\nX-Moat-Report: action=quarantine "),
        "released with its verdict: {delivered}"
    );
    quarantine(&gw, &["release", &held]).assert_failure();
    // The release is the operator's word that the message was ham: the decision log
    // (written within a second) now knows one ham, which the filters flagged.
    let replayed = || -> Value {
        let out = moat(
            gw.dir.path(),
            &["replay", "--config", "moat.toml", "--json"],
        );
        out.assert_success();
        serde_json::from_str(out.stdout().trim()).unwrap()
    };
    assert!(
        wait_until(Duration::from_secs(10), || replayed()["old"]["ham"] == 1),
        "{}",
        replayed()
    );
    let report = replayed();
    assert_eq!(report["old"]["ham_flagged"], 1, "{report}");
    assert_eq!(report["messages"], 2, "{report}");

    quarantine(&gw, &["delete", &dropped]).assert_failure();
    assert_eq!(listed(&gw, &[]).len(), 1, "not deleted without --yes");
    quarantine(&gw, &["delete", &dropped, "--yes"]).assert_success();
    assert!(listed(&gw, &[]).is_empty());
    assert!(wait_until(Duration::from_secs(10), || queue(&gw).is_empty()));
    assert_eq!(
        sink.messages().len(),
        1,
        "the deleted message was not delivered"
    );
}

/// The `ham` line of `moat learn stats`, run in the gateway's directory.
fn ham_learnt(gw: &Gateway) -> String {
    let stats = moat(gw.dir.path(), &["learn", "stats", "--config", "moat.toml"]);
    stats.assert_success();
    stats
        .stdout()
        .lines()
        .find(|l| l.trim_start().starts_with("ham"))
        .map(|l| l.trim().to_owned())
        .unwrap_or_else(|| stats.stdout())
}

#[test]
fn releasing_with_learn_ham_teaches_bayes_live_and_while_stopped() {
    let mut gw = Gateway::start(&format!("{THRESHOLDS}[admin]\naddress = \"127.0.0.1:0\"\n"));
    let live = send(&gw, "a@example.org", &["b@example.test"], &undated("live"));
    let offline = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &undated("offline"),
    );

    // While the server runs: taught to its live plugins through the admin endpoint.
    quarantine(&gw, &["release", &live, "--learn-ham"]).assert_success();
    assert_eq!(ham_learnt(&gw), "ham                      1");
    let queued: Vec<String> = queue(&gw)
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        queued,
        std::slice::from_ref(&live),
        "released into the delivery queue"
    );

    // While it is stopped: `moat learn` opens the data dir itself.
    gw.stop();
    quarantine(&gw, &["release", &offline, "--learn-ham"]).assert_success();
    assert!(listed(&gw, &[]).is_empty());
    assert_eq!(ham_learnt(&gw), "ham                      2");
    let mut ids = gw.queue_ids();
    ids.sort();
    let mut expected = vec![live, offline];
    expected.sort();
    assert_eq!(ids, expected);
}

#[test]
fn quarantined_messages_older_than_max_age_are_deleted() {
    let mut gw = Gateway::start(&format!(
        "{THRESHOLDS}[quarantine]\nmax_age = \"2s\"\n[admin]\naddress = \"127.0.0.1:0\"\n"
    ));
    let old = send(&gw, "a@example.org", &["b@example.test"], &undated("old"));
    std::thread::sleep(Duration::from_millis(2_500));
    // Expiry runs when the server starts (and every few minutes after).
    gw.restart();
    let fresh = send(&gw, "a@example.org", &["b@example.test"], &undated("fresh"));
    assert!(
        wait_until(Duration::from_secs(10), || {
            let ids: Vec<String> = listed(&gw, &[])
                .iter()
                .filter_map(|r| r["envelope"]["id"].as_str().map(str::to_owned))
                .collect();
            ids == [fresh.clone()]
        }),
        "{old} should be gone and {fresh} kept: {:?}",
        listed(&gw, &[])
    );
    gw.stop();
    let out = quarantine(&gw, &["show", "--raw", &old]);
    out.assert_failure();
}
