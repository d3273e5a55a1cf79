//! The decision log end to end: what a running gateway decided is logged with every
//! plugin answer, `moat replay` re-weighs it under a candidate configuration and lists
//! exactly the messages whose action changes, `moat learn` labels logged messages; and
//! `moat check` decides real mail as the live gateway does when the mail comes through a
//! trusted relay.

use std::collections::HashMap;
use std::path::Path;

use moat_test_support::shared_dir;
use serde_json::Value;

use crate::delivery::send;
use crate::gateway::{Gateway, step};
use crate::moat;

fn message(subject: &str, headers: &str) -> String {
    format!(
        "From: a@example.org\r\nTo: b@example.test\r\nSubject: {subject}\r\n{headers}\r\nbody of {subject}\r\n"
    )
}

/// The decision entries in the log under `data`.
fn logged_decisions(data: &Path) -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(data.join("decisions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .filter(|e| e["kind"] == "decision")
        .collect()
}

#[test]
fn replay_lists_exactly_the_messages_a_changed_weight_moves_and_learn_labels_them() {
    // bayes, untrained, adds nothing to a score but learns what `moat learn` teaches.
    let extra = "bundled = [\"headers\", \"bayes\"]\n";
    let mut gw = Gateway::start(extra);
    let date = "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n";
    let clean = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &message(
            "clean",
            &format!("{date}Message-ID: <clean@example.org>\r\n"),
        ),
    );
    // MISSING_DATE (1.0) and MISSING_MESSAGE_ID (2.5): 3.5, accepted.
    let moved_text = message("moved", "");
    let moved = send(&gw, "a@example.org", &["b@example.test"], &moved_text);
    // MISSING_DATE only: 1.0.
    let undated = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &message("undated", "Message-ID: <undated@example.org>\r\n"),
    );
    gw.stop();

    let dir = gw.dir.path();
    let logged = logged_decisions(&dir.join("data"));
    let ids: Vec<&str> = logged
        .iter()
        .map(|d| d["queue_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [clean.as_str(), moved.as_str(), undated.as_str()],
        "{logged:?}"
    );
    assert!(logged.iter().all(|d| d["action"] == "accept"), "{logged:?}");
    let results = logged[1]["results"].to_string();
    assert!(
        results.contains("MISSING_MESSAGE_ID") && results.contains("BAYES_UNTRAINED"),
        "{results}"
    );

    // Doubling one weight moves exactly one message to tag.
    let config = std::fs::read_to_string(dir.join("moat.toml")).unwrap();
    std::fs::write(
        dir.join("candidate.toml"),
        format!("{config}\n[plugin.headers.symbols]\nMISSING_MESSAGE_ID = 2.0\n"),
    )
    .unwrap();
    let replay = |config: &str| -> Value {
        let out = moat(dir, &["replay", "--config", config, "--json"]);
        out.assert_success();
        serde_json::from_str(out.stdout().trim()).unwrap()
    };
    let unchanged = replay("moat.toml");
    assert_eq!(unchanged["messages"], 3, "{unchanged}");
    assert_eq!(
        unchanged["changed"].as_array().unwrap().len(),
        0,
        "{unchanged}"
    );
    let report = replay("candidate.toml");
    assert_eq!(report["matrix"]["accept"]["accept"], 2, "{report}");
    assert_eq!(report["matrix"]["accept"]["tag"], 1, "{report}");
    let changed = report["changed"].as_array().unwrap();
    assert_eq!(changed.len(), 1, "{report}");
    assert_eq!(changed[0]["id"], moved.as_str(), "{report}");
    assert_eq!(changed[0]["old_score"], 3.5);
    assert_eq!(changed[0]["new_score"], 6.0);
    assert_eq!(
        report["new"]["spam"], 0,
        "nothing is labelled yet: {report}"
    );

    // The operator says the moved one is spam (a copy as delivered, with fields added on
    // top): the candidate catches it, the logged decision did not.
    std::fs::write(
        dir.join("moved.eml"),
        format!("Received: from x by mx.test; Mon, 23 Nov 2026 10:00:00 +0000\r\nX-Spam-Status: No\r\n{moved_text}"),
    )
    .unwrap();
    moat(
        dir,
        &["learn", "--config", "moat.toml", "spam", "moved.eml"],
    )
    .assert_success();
    let labelled = replay("candidate.toml");
    assert_eq!(labelled["old"]["spam"], 1, "{labelled}");
    assert_eq!(labelled["old"]["spam_caught"], 0, "{labelled}");
    assert_eq!(labelled["new"]["spam_caught"], 1, "{labelled}");
    assert_eq!(labelled["changed"][0]["truth"], "spam", "{labelled}");

    let human = moat(dir, &["replay", "--config", "candidate.toml"]);
    human.assert_success();
    let text = human.stdout();
    assert!(
        text.contains("1 messages change action") && text.contains(&moved),
        "{text}"
    );
}

/// The first `n` files of a corpus folder, in name order.
pub(crate) fn first_files(folder: &Path, n: usize) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.truncate(n);
    files
}

/// The address in a message's first `Return-Path` field, if it has one.
fn return_path(message: &str) -> Option<&str> {
    let header = message.split("\r\n\r\n").next()?;
    let value = header.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("return-path").then_some(value)
    })?;
    let address = value.trim().trim_start_matches('<').trim_end_matches('>');
    address.contains('@').then_some(address)
}

#[test]
fn moat_check_decides_real_mail_as_the_live_gateway_behind_a_trusted_relay() {
    let corpus = shared_dir().join("corpus/mail");
    let extra = "bundled = [\"headers\", \"bayes\"]\n\
[plugin.bayes.config]\nmin_spam = 40\nmin_ham = 40\n\
[sender_auth]\nverify = false\n\
[thresholds]\ntag = 3.0\nquarantine = 6.0\nreject = 100.0\n";
    // Loopback is the trusted relay the mail comes through, as from a fetching MTA: the
    // plugins judge the first hop outside it, the one `moat check` takes.
    let mut gw = Gateway::start_with_relay("trusted_relays = [\"127.0.0.0/8\"]\n", extra);
    gw.stop();
    let dir = gw.dir.path().to_owned();
    let dir = dir.as_path();
    for (label, folder) in [("spam", "train/spam"), ("ham", "train/ham")] {
        let training: Vec<String> = first_files(&corpus.join(folder), 60)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let mut args = vec!["learn", "--config", "moat.toml", label];
        args.extend(training.iter().map(String::as_str));
        moat(dir, &args).assert_success();
    }
    gw.start_again();

    let mut sample = first_files(&corpus.join("test/spam"), 12);
    sample.extend(first_files(&corpus.join("test/ham"), 12));
    for file in &sample {
        let raw = std::fs::read(file).unwrap();
        let crlf = String::from_utf8_lossy(&raw)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        // The envelope sender `moat check` takes: the Return-Path.
        let sender = return_path(&crlf).unwrap_or("sender@example.org");
        let steps = gw.smtplib(
            "mx",
            crlf.as_bytes(),
            &["--from", sender, "--rcpt", "b@example.test"],
        );
        let code = step(&steps, "data")["code"].as_u64().unwrap();
        assert!(code == 250 || code == 550, "{file:?}: {steps:?}");
    }
    gw.stop();
    // Sent one after the other: the log holds them in the order sent.
    let live: Vec<String> = logged_decisions(&dir.join("data"))
        .iter()
        .map(|d| d["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(live.len(), sample.len(), "{live:?}");

    let files: Vec<String> = sample.iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["check", "--config", "moat.toml", "--json"];
    args.extend(files.iter().map(String::as_str));
    let out = moat(dir, &args);
    out.assert_success();
    let checked = out.json_lines();
    assert_eq!(checked.len(), sample.len());
    let mut actions = HashMap::new();
    for ((file, check), live_action) in sample.iter().zip(&checked).zip(&live) {
        assert_eq!(
            check["action"].as_str().unwrap(),
            live_action,
            "{file:?}: check {check} against the live gateway's {live_action}"
        );
        *actions.entry(live_action.clone()).or_insert(0) += 1;
    }
    // The sample is decided both ways, or the comparison says little.
    assert!(actions.len() >= 2, "{actions:?}");
}

#[test]
fn moat_tune_learns_weights_from_a_corpus_keeps_pins_and_replay_reads_them() {
    let corpus = shared_dir().join("corpus/mail");
    let dir = moat_test_support::scratch();
    let dir = dir.path();
    let cache = moat_test_support::workspace_root().join("target/e2e-plugin-cache");
    std::fs::write(
        dir.join("moat.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[filter]\nbundled = [\"headers\", \"bayes\"]\ncache_dir = {:?}\n\
[plugin.bayes.config]\nmin_spam = 40\nmin_ham = 40\n[sender_auth]\nverify = false\n\
[plugin.headers.symbols]\nMISSING_DATE = 0.25\n",
            cache.display().to_string()
        ),
    )
    .unwrap();
    // Bayes taught the first 60 of each class; the corpus tuned on is other mail.
    let all_spam = first_files(&corpus.join("train/spam"), 160);
    let all_ham = first_files(&corpus.join("train/ham"), 160);
    for (label, files) in [("spam", &all_spam[..60]), ("ham", &all_ham[..60])] {
        let mut args = vec!["learn", "--config", "moat.toml", label];
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        args.extend(names.iter().map(String::as_str));
        moat(dir, &args).assert_success();
    }
    for (label, files) in [("spam", &all_spam[60..]), ("ham", &all_ham[60..])] {
        let folder = dir.join("corpus").join(label);
        std::fs::create_dir_all(&folder).unwrap();
        for file in files {
            std::fs::copy(file, folder.join(file.file_name().unwrap())).unwrap();
        }
    }

    let out = moat(
        dir,
        &[
            "tune",
            "--config",
            "moat.toml",
            "--corpus",
            "corpus",
            "--out",
            "learnt.toml",
            "--json",
        ],
    );
    out.assert_success();
    let report: Value = serde_json::from_str(out.stdout().trim()).unwrap();
    let fitted = report["fitted_on"]["spam"].as_u64().unwrap()
        + report["fitted_on"]["ham"].as_u64().unwrap();
    let held = &report["held_out"]["before"];
    let held_out = held["spam"].as_u64().unwrap() + held["ham"].as_u64().unwrap();
    assert_eq!(fitted + held_out, 200, "{report}");
    assert!(held_out > 0 && fitted > held_out, "{report}");
    let moved = report["moved"].as_array().unwrap();
    assert!(
        moved.iter().any(|m| m["symbol"] == "BAYES_SPAM"),
        "{report}"
    );
    assert!(
        moved.iter().all(|m| m["symbol"] != "MISSING_DATE"),
        "pinned: {report}"
    );
    let learnt = std::fs::read_to_string(dir.join("learnt.toml")).unwrap();
    assert!(
        learnt.starts_with("# Symbol weights learnt by `moat tune`")
            && learnt.contains("[bayes]")
            && learnt.contains("BAYES_SPAM = ")
            && !learnt.contains("MISSING_DATE"),
        "{learnt}"
    );

    // A candidate reading them: the configuration loads, replay runs it over the corpus.
    let config = std::fs::read_to_string(dir.join("moat.toml")).unwrap();
    std::fs::write(
        dir.join("candidate.toml"),
        config.replace("[filter]\n", "[filter]\nweights_file = \"learnt.toml\"\n"),
    )
    .unwrap();
    moat(dir, &["config", "check", "candidate.toml"]).assert_success();
    let out = moat(
        dir,
        &[
            "replay",
            "--config",
            "candidate.toml",
            "--corpus",
            "corpus",
            "--baseline",
            "moat.toml",
            "--json",
        ],
    );
    out.assert_success();
    let replayed: Value = serde_json::from_str(out.stdout().trim()).unwrap();
    assert_eq!(replayed["messages"], 200, "{replayed}");
    assert_eq!(replayed["new"]["spam"], 100, "{replayed}");
    assert_eq!(replayed["old"]["ham"], 100, "{replayed}");
}
