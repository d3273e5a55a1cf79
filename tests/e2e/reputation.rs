//! The reputation plugin learns from decisions: a client that sent junk rises, one with a
//! long clean history falls, and what it learnt survives a restart; concurrent sessions
//! from one client all count.

use crate::gateway::{Gateway, step};
use crate::{GTUBE, message, moat};

/// `moat check` of a clean message from `ip` against the gateway's data dir (a new
/// connection from `ip`): the symbols, as JSON.
fn probe(gw: &Gateway, ip: &str) -> Vec<serde_json::Value> {
    std::fs::write(
        gw.dir.path().join("probe.eml"),
        message("probe", "", "hello"),
    )
    .unwrap();
    let out = moat(
        gw.dir.path(),
        &[
            "check",
            "--json",
            "--config",
            "moat.toml",
            "--ip",
            ip,
            "probe.eml",
        ],
    );
    out.assert_success();
    out.json_lines()[0]["symbols"].as_array().unwrap().clone()
}

/// The symbol `name` among `symbols`.
fn symbol<'a>(symbols: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    symbols.iter().find(|s| s["name"] == name)
}

/// The REPUTATION_IP score of a new connection from `ip`, if any.
pub(crate) fn ip_reputation(gw: &Gateway, ip: &str) -> Option<f64> {
    symbol(&probe(gw, ip), "REPUTATION_IP").and_then(|s| s["score"].as_f64())
}

#[test]
fn junk_raises_and_a_clean_history_lowers_a_clients_reputation_across_restarts() {
    let mut gw = Gateway::start("[plugin.reputation.config]\nmin_messages = 3\n");
    for i in 0..12 {
        let junk = gw.smtplib(
            "mx",
            message(&format!("junk {i}"), "", GTUBE).as_bytes(),
            &[
                "--source",
                "127.0.0.5",
                "--from",
                "a@spam.example",
                "--rcpt",
                "b@example.test",
            ],
        );
        assert_eq!(step(&junk, "data")["code"], 550, "{junk:?}");
        let clean = gw.smtplib(
            "mx",
            message(&format!("clean {i}"), "", "hello").as_bytes(),
            &[
                "--source",
                "127.0.0.6",
                "--from",
                "a@good.example",
                "--rcpt",
                "b@example.test",
            ],
        );
        assert_eq!(step(&clean, "data")["code"], 250, "{clean:?}");
    }
    // The outcome stage runs after each reply; let the last ones land.
    std::thread::sleep(std::time::Duration::from_millis(500));
    gw.stop();
    // A restart: `moat check` opens the same data dir afresh.
    let junky = ip_reputation(&gw, "127.0.0.5").expect("a junk sender gets a reputation symbol");
    let clean = ip_reputation(&gw, "127.0.0.6").expect("a clean sender gets a reputation symbol");
    assert!(junky > 0.0, "junk raises the score: {junky}");
    assert!(clean < 0.0, "a clean history lowers it: {clean}");
    assert_eq!(
        ip_reputation(&gw, "127.0.0.7"),
        None,
        "no history, no symbol"
    );
}

/// Postfix's smtp-source opens 60 connections from one client, 20 at a time: the
/// reputation plugin counts every one. Sessions update the client's connection window at
/// the same moment, and each update is a compare-and-swap that retries, so none is lost;
/// with a maximum of 60, the next connection (`moat check`'s) is the 61st, a burst. The
/// client's history, learnt at each message's outcome stage, holds all 60 messages.
#[test]
fn concurrent_connections_from_one_client_are_all_counted() {
    // 20 sessions at once: exactly the listener's default cap per address, which a
    // session gives back before its 221.
    // A generous time budget: on a loaded machine a connect-stage call that ran out of
    // time would not count, and this test is about updates lost to each other.
    let mut gw = Gateway::start_with(
        "",
        "[plugin.reputation]\ntime_budget = \"10s\"\n\
         [plugin.reputation.config]\nmax_connections_per_window = 60\nwindow_seconds = 3600\n",
    );
    std::fs::write(gw.dir.path().join("m.txt"), "Subject: hi\n\nhello\n").unwrap();
    let addr = gw.mx().to_string();
    let out = moat_test_support::run_in(
        &moat_test_support::sbin_program("smtp-source"),
        gw.dir.path(),
        &[
            "-s",
            "20",
            "-m",
            "60",
            "-f",
            "a@example.org",
            "-t",
            "b@example.test",
            "-F",
            "m.txt",
            &addr,
        ],
        crate::COMMAND_LIMIT,
    );
    out.assert_success();
    // The outcome stage runs after each reply; let the last ones land.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = gw.stop();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("reputation"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    assert_eq!(gw.queue_ids().len(), 60);
    let symbols = probe(&gw, "127.0.0.1");
    let burst = symbol(&symbols, "REPUTATION_CONN_BURST")
        .unwrap_or_else(|| panic!("the 61st connection is a burst: {symbols:?}"));
    assert!(
        burst["detail"]
            .as_str()
            .unwrap()
            .starts_with("61 connections from 127.0.0.1"),
        "{burst}"
    );
    let history = symbol(&symbols, "REPUTATION_IP")
        .unwrap_or_else(|| panic!("60 messages make a reputation: {symbols:?}"));
    assert!(
        history["detail"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1: 60 msgs"),
        "{history}"
    );
}
