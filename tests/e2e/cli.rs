//! `moat check`, `moat config check`, `moat plugin list` and `moat serve --dev`.

use std::time::Duration;

use moat_test_support::{Server, first_corpus_file, scratch, shared_dir, workspace_root};

use crate::{GTUBE, MOAT, message, moat, offline_config};

#[test]
fn check_explains_each_symbol_of_a_corpus_message() {
    let dir = scratch();
    let spam = first_corpus_file("mail/test/spam");
    let out = moat(
        dir.path(),
        &[
            "check",
            "--config",
            offline_config(dir.path()),
            spam.to_str().unwrap(),
        ],
    );
    out.assert_success();
    let text = out.stdout();
    assert!(text.contains(&format!("== {}", spam.display())), "{text}");
    assert!(text.contains("action: "), "{text}");
    for column in [
        "plugin",
        "stage",
        "symbol",
        "score",
        "weight",
        "contribution",
        "detail",
    ] {
        assert!(
            text.contains(column),
            "report header lacks {column}: {text}"
        );
    }
}

#[test]
fn check_reads_each_message_of_an_mbox_file() {
    let dir = scratch();
    let mut mbox = b"From a@example.org Mon Nov 23 10:00:00 2026\n".to_vec();
    mbox.extend_from_slice(message("first", "", "hello").as_bytes());
    mbox.extend_from_slice(b"\nFrom a@example.org Mon Nov 23 10:00:01 2026\n");
    mbox.extend_from_slice(message("second", "", GTUBE).as_bytes());
    std::fs::write(dir.path().join("two.mbox"), &mbox).unwrap();
    let out = moat(
        dir.path(),
        &[
            "check",
            "--json",
            "--config",
            offline_config(dir.path()),
            "two.mbox",
        ],
    );
    out.assert_success();
    let lines = out.json_lines();
    let files: Vec<&str> = lines.iter().filter_map(|l| l["file"].as_str()).collect();
    assert_eq!(files, ["two.mbox#1", "two.mbox#2"], "{lines:?}");
    assert_ne!(lines[0]["action"], "reject", "{}", lines[0]);
    assert_eq!(lines[1]["action"], "reject", "GTUBE: {}", lines[1]);
}

#[test]
fn check_json_over_a_corpus_folder_gives_one_consistent_object_per_message() {
    let dir = scratch();
    let folder = shared_dir().join("corpus/mail/test/spam");
    let out = moat(
        dir.path(),
        &[
            "check",
            "--json",
            "--config",
            offline_config(dir.path()),
            folder.to_str().unwrap(),
        ],
    );
    out.assert_success();
    let lines = out.json_lines();
    let expected = std::fs::read_dir(&folder).unwrap().count();
    assert_eq!(lines.len(), expected, "one JSON object per message");
    let mut symbols_seen = 0;
    for value in &lines {
        assert!(
            value["file"].is_string() && value["action"].is_string(),
            "{value}"
        );
        let score = value["score"].as_f64().unwrap();
        let symbols = value["symbols"].as_array().unwrap();
        let sum: f64 = symbols
            .iter()
            .map(|s| s["contribution"].as_f64().unwrap())
            .sum();
        assert!(
            (sum - score).abs() < 1e-9,
            "score {score} is not the sum of contributions {sum}: {value}"
        );
        for s in symbols {
            assert!(s["plugin"].is_string() && s["name"].is_string(), "{s}");
            let (sc, w, c) = (
                s["score"].as_f64().unwrap(),
                s["weight"].as_f64().unwrap(),
                s["contribution"].as_f64().unwrap(),
            );
            assert!(
                (sc * w - c).abs() < 1e-9,
                "contribution is not weight × score: {s}"
            );
            symbols_seen += 1;
        }
    }
    assert!(
        symbols_seen > 0,
        "the bundled plugins found nothing in {expected} spam messages"
    );
}

#[test]
fn gtube_is_rejected_by_the_bundled_plugins_hard_action() {
    let dir = scratch();
    std::fs::write(dir.path().join("gtube.eml"), message("test", "", GTUBE)).unwrap();
    let out = moat(
        dir.path(),
        &["check", "--json", "--data-dir", "data", "gtube.eml"],
    );
    out.assert_success();
    let value = &out.json_lines()[0];
    assert_eq!(value["action"], "reject", "{value}");
    assert_eq!(value["reason"]["by"], "hard_action", "{value}");
    let gtube = value["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "GTUBE")
        .expect("GTUBE symbol");
    assert_eq!(gtube["plugin"], "headers");
}

#[test]
fn a_reader_that_stops_reading_ends_the_command_quietly() {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};

    let dir = scratch();
    let folder = shared_dir().join("corpus/mail/test/spam");
    let mut child = Command::new(MOAT)
        .current_dir(dir.path())
        .args(["check", "--json", "--config", offline_config(dir.path())])
        .arg(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    // Like `moat check … | head -1`: one line read, then the pipe is closed.
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'), "{first}");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}

#[test]
fn a_file_that_is_not_a_message_is_reported_and_fails_the_run() {
    let dir = scratch();
    std::fs::write(dir.path().join("empty.eml"), "").unwrap();
    let out = moat(
        dir.path(),
        &["check", "--json", "--data-dir", "data", "empty.eml"],
    );
    out.assert_failure();
    assert!(
        out.json_lines()[0]["error"]
            .as_str()
            .unwrap()
            .contains("not an RFC 5322 message"),
        "{}",
        out.stdout()
    );
}

#[test]
fn config_check_accepts_the_documented_example() {
    let dir = scratch();
    let example = workspace_root().join("examples/moat.toml");
    let out = moat(dir.path(), &["config", "check", example.to_str().unwrap()]);
    out.assert_success();
    assert!(out.stdout().contains(": ok ("), "{}", out.stdout());
}

#[test]
fn config_check_names_the_bad_key() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[thresholds]\ntag = 12.0\nquarantine = 10.0\n[filter]\ntime_budjet = \"1s\"\n",
    )
    .unwrap();
    let out = moat(dir.path(), &["config", "check", "bad.toml"]);
    out.assert_failure();
    assert!(
        out.stderr().contains("unknown field `time_budjet`"),
        "{}",
        out.stderr()
    );

    std::fs::write(
        dir.path().join("order.toml"),
        "[thresholds]\ntag = 12.0\nquarantine = 10.0\n",
    )
    .unwrap();
    let out = moat(dir.path(), &["config", "check", "order.toml"]);
    out.assert_failure();
    assert!(
        out.stderr()
            .contains("thresholds.quarantine: must not be below thresholds.tag"),
        "{}",
        out.stderr()
    );
}

#[test]
fn plugin_list_shows_the_bundled_plugins() {
    let dir = scratch();
    let out = moat(dir.path(), &["plugin", "list", "--json"]);
    out.assert_success();
    let plugins = out.json_lines();
    let headers = plugins
        .iter()
        .find(|p| p["name"] == "headers")
        .expect("bundled headers plugin listed");
    assert_eq!(headers["source"], "bundled:headers");
    assert!(
        headers["stages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "data"),
        "{headers}"
    );
    assert!(headers["version"].as_str().is_some_and(|v| !v.is_empty()));
}

#[test]
fn serve_dev_starts_on_the_embedded_default_and_stops_on_sigterm() {
    let dir = scratch();
    let server = Server::start(
        MOAT,
        dir.path(),
        &["serve", "--dev"],
        Duration::from_secs(120),
    );
    assert!(
        server.ready_line.contains("headers"),
        "{}",
        server.ready_line
    );
    assert!(
        dir.path().join("moat-data").is_dir(),
        "data lives under ./moat-data by default"
    );
    let (status, stderr) = server.stop();
    assert!(status.success(), "moat exited with {status}: {stderr}");
}

#[test]
fn serve_without_a_config_says_what_to_do() {
    let dir = scratch();
    let out = moat(dir.path(), &["serve"]);
    out.assert_failure();
    assert!(out.stderr().contains("--dev"), "{}", out.stderr());
}

#[test]
fn check_takes_the_client_from_the_received_chain_unless_told() {
    let dir = scratch();
    let fetched = format!(
        "Received: from localhost (localhost [127.0.0.1])\r\n\tby home.example (Postfix); \
Mon, 23 Nov 2026 10:00:02 +0000\r\nReceived: from mail.sender.example \
(mail.sender.example [203.0.113.9])\r\n\tby mx.example.net (Postfix); \
Mon, 23 Nov 2026 10:00:01 +0000\r\n{}",
        message("fetched", "", "hello")
    );
    std::fs::write(dir.path().join("fetched.eml"), fetched).unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--json", "--config", offline_config(dir.path())];
        args.extend_from_slice(extra);
        args.push("fetched.eml");
        let out = moat(dir.path(), &args);
        out.assert_success();
        out.json_lines()[0]["client"].clone()
    };
    // Past the loopback hop (a fetch), as a live MX would have seen it.
    let client = check(&[]);
    assert_eq!(client["ip"], "203.0.113.9", "{client}");
    assert_eq!(client["helo"], "mail.sender.example", "{client}");
    assert_eq!(client["reverse_dns"], "mail.sender.example", "{client}");
    let told = check(&["--ip", "192.0.2.1", "--helo", "given.example"]);
    assert_eq!(told["ip"], "192.0.2.1", "{told}");
    assert_eq!(told["helo"], "given.example", "{told}");
}

#[test]
fn checking_teaches_nothing_the_live_kv_state_is_as_before() {
    let dir = scratch();
    let config = offline_config(dir.path());
    let text = std::fs::read_to_string(dir.path().join(config)).unwrap();
    std::fs::write(
        dir.path().join(config),
        format!("{text}[plugin.reputation.config]\nmax_connections_per_window = 3\n"),
    )
    .unwrap();
    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    for i in 0..3 {
        std::fs::write(
            messages.join(format!("{i}.eml")),
            message(&format!("m{i}"), "", "hello"),
        )
        .unwrap();
    }
    let bursts = || {
        let out = moat(
            dir.path(),
            &[
                "check",
                "--json",
                "--config",
                config,
                "--ip",
                "192.0.2.77",
                "messages",
            ],
        );
        out.assert_success();
        let lines = out.json_lines();
        assert_eq!(lines.len(), 3);
        lines
            .iter()
            .filter(|line| line.to_string().contains("REPUTATION_CONN_BURST"))
            .count()
    };
    // Three connections in the window are within the limit; a second run counting on
    // the first one's (which a live data dir would hold) would make a burst.
    assert_eq!(bursts(), 0);
    assert_eq!(bursts(), 0, "the first check's connections were kept");
}
