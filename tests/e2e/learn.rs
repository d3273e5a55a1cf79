//! `moat learn` end to end: the bundled bayes plugin trained from files and an mbox,
//! idempotently, forgotten, and its totals read back by `moat learn stats` in later
//! processes (so they are on disk); and, while the gateway runs, through its admin
//! endpoint to its live plugins.

use std::path::Path;

use moat_test_support::{first_corpus_file, scratch};

use crate::gateway::Gateway;
use crate::{moat, offline_config};

/// `moat learn stats`'s counter `name` for bayes.
fn stat(dir: &Path, config: &str, name: &str) -> i64 {
    let out = moat(dir, &["learn", "stats", "--config", config]);
    out.assert_success();
    out.stdout()
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(name)).then(|| words.next().unwrap().parse().unwrap())
        })
        .unwrap_or(0)
}

#[test]
fn learning_is_idempotent_forgetting_restores_and_the_totals_persist() {
    let dir = scratch();
    let config = offline_config(dir.path());
    let spam = first_corpus_file("mail/train/spam");
    let ham = first_corpus_file("mail/train/ham");
    // An mbox of the ham message twice: one message, learnt once.
    let ham_bytes = std::fs::read(&ham).unwrap();
    let mut mbox = b"From a@example.org Mon Nov 23 10:00:00 2026\n".to_vec();
    mbox.extend_from_slice(&ham_bytes);
    mbox.extend_from_slice(b"\nFrom a@example.org Mon Nov 23 10:00:01 2026\n");
    mbox.extend_from_slice(&ham_bytes);
    std::fs::write(dir.path().join("ham.mbox"), &mbox).unwrap();

    let learn = |args: &[&str]| {
        let mut full = vec!["learn", "--config", config];
        full.extend_from_slice(args);
        let out = moat(dir.path(), &full);
        out.assert_success();
        out.stdout()
    };
    let first = learn(&["spam", spam.to_str().unwrap()]);
    assert!(first.contains("bayes: 1 learnt, 0 unchanged"), "{first}");
    let again = learn(&["spam", spam.to_str().unwrap()]);
    assert!(again.contains("bayes: 0 learnt, 1 unchanged"), "{again}");
    let boxed = learn(&["ham", "ham.mbox"]);
    assert!(boxed.contains("bayes: 1 learnt, 1 unchanged"), "{boxed}");
    assert_eq!(
        (
            stat(dir.path(), config, "spam"),
            stat(dir.path(), config, "ham")
        ),
        (1, 1)
    );

    let forgot = learn(&["--forget", spam.to_str().unwrap()]);
    assert!(forgot.contains("bayes: 1 forgotten"), "{forgot}");
    assert_eq!(
        (
            stat(dir.path(), config, "spam"),
            stat(dir.path(), config, "ham")
        ),
        (0, 1)
    );
    let twice = learn(&["--forget", spam.to_str().unwrap()]);
    assert!(twice.contains("bayes: 0 forgotten, 1 unchanged"), "{twice}");
}

#[test]
fn learn_says_what_is_wrong_with_its_arguments() {
    let dir = scratch();
    let config = offline_config(dir.path());
    let out = moat(dir.path(), &["learn", "--config", config, "junk", "x.eml"]);
    out.assert_failure();
    assert!(
        out.stderr().contains("not spam, ham or stats"),
        "{}",
        out.stderr()
    );
    let out = moat(
        dir.path(),
        &["learn", "--config", config, "spam", "missing.eml"],
    );
    out.assert_failure();
    assert!(out.stderr().contains("missing.eml"), "{}", out.stderr());
}

#[test]
fn learning_while_the_gateway_runs_goes_to_its_live_plugins() {
    let gw = Gateway::start("[admin]\naddress = \"127.0.0.1:0\"\n");
    let dir = gw.dir.path();
    let spam = first_corpus_file("mail/train/spam");
    let spam = spam.to_str().unwrap();
    let learn = |args: &[&str]| {
        let mut all = vec!["learn", "--config", "moat.toml"];
        all.extend_from_slice(args);
        moat(dir, &all)
    };
    let first = learn(&["spam", spam]);
    first.assert_success();
    assert!(
        first
            .stdout()
            .contains("bayes: 1 learnt, 0 unchanged, 0 failed (by the running server)"),
        "{}",
        first.stdout()
    );
    let again = learn(&["spam", spam]);
    again.assert_success();
    assert!(
        again.stdout().contains("bayes: 0 learnt, 1 unchanged"),
        "{}",
        again.stdout()
    );
    assert_eq!(stat(dir, "moat.toml", "spam"), 1);
    learn(&["--forget", spam]).assert_success();
    assert_eq!(stat(dir, "moat.toml", "spam"), 0);
    // Not a message: refused with a reason, and the command fails.
    std::fs::write(dir.join("empty.eml"), b"").unwrap();
    let refused = learn(&["ham", "empty.eml"]);
    refused.assert_failure();
    assert_eq!(stat(dir, "moat.toml", "ham"), 0);
}
