//! A misbehaving plugin is a plugin failure, never a gateway failure: each mode of the
//! `misbehave` test guest yields PLUGIN_FAILED with the right kind, the other plugins'
//! verdicts stay intact, and a plugin that keeps failing is switched off.

use std::path::Path;

use moat::test_guests::TEST_MISBEHAVE;
use moat_test_support::scratch;

use crate::{GTUBE, message, moat};

/// A config running the bundled plugins plus `misbehave` in `mode`.
fn config(dir: &Path, mode: &str, failure_threshold: u32) -> String {
    let text = format!(
        "[server]\ndata_dir = \"data\"\n\
[filter]\nfailure_threshold = {failure_threshold}\n\
[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\ntime_budget = \"200ms\"\nmemory_limit = \"16MiB\"\n\
[plugin.misbehave.config]\nmode = {mode:?}\n"
    );
    let path = dir.join(format!("{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn failed_kind(value: &serde_json::Value) -> Option<String> {
    value["symbols"]
        .as_array()?
        .iter()
        .find(|s| s["plugin"] == "misbehave" && s["name"] == "PLUGIN_FAILED")
        .and_then(|s| s["detail"].as_str())
        .map(|d| d.split(':').next().unwrap_or_default().to_owned())
}

fn has_gtube_from_headers(value: &serde_json::Value) -> bool {
    value["symbols"].as_array().is_some_and(|a| {
        a.iter()
            .any(|s| s["plugin"] == "headers" && s["name"] == "GTUBE")
    })
}

#[test]
fn each_misbehaviour_is_a_plugin_failure_of_its_own_kind() {
    let dir = scratch();
    std::fs::write(dir.path().join("gtube.eml"), message("test", "", GTUBE)).unwrap();
    for (mode, kind) in [
        ("loop", "timeout"),
        ("memory-bomb", "memory"),
        ("panic", "panic"),
        ("stack-overflow", "stack-overflow"),
        ("invalid-verdict", "invalid-verdict"),
    ] {
        let config = config(dir.path(), mode, 100);
        let out = moat(
            dir.path(),
            &["check", "--json", "--config", &config, "gtube.eml"],
        );
        out.assert_success();
        let value = &out.json_lines()[0];
        assert_eq!(
            failed_kind(value).as_deref(),
            Some(kind),
            "mode {mode}: {value}"
        );
        assert!(
            has_gtube_from_headers(value),
            "mode {mode}: the other plugin's verdict is intact: {value}"
        );
        assert_eq!(
            value["action"], "reject",
            "mode {mode}: on_error skip keeps the decision: {value}"
        );
    }
}

#[test]
fn a_well_behaved_run_of_the_same_guest_answers_normally() {
    let dir = scratch();
    std::fs::write(dir.path().join("ok.eml"), message("hello", "", "hi")).unwrap();
    let config = config(dir.path(), "none", 100);
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", &config, "ok.eml"],
    );
    out.assert_success();
    let value = &out.json_lines()[0];
    assert_eq!(failed_kind(value), None, "{value}");
    assert!(
        value["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "MISBEHAVE_OK"),
        "{value}"
    );
}

#[test]
fn many_messages_with_one_misbehaving_plugin_all_complete_with_other_verdicts_intact() {
    let dir = scratch();
    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    let modes = [
        "none",
        "panic",
        "invalid-verdict",
        "stack-overflow",
        "memory-bomb",
        "none",
        "loop",
        "panic",
    ];
    for i in 0..40 {
        let mode = modes[i % modes.len()];
        let body = format!("message {i}\r\n{GTUBE}");
        std::fs::write(
            messages.join(format!("{i:03}.eml")),
            message(&format!("m{i}"), &format!("X-Misbehave: {mode}\r\n"), &body),
        )
        .unwrap();
    }
    let config = config(dir.path(), "none", 1000);
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", &config, "messages"],
    );
    out.assert_success();
    let lines = out.json_lines();
    assert_eq!(lines.len(), 40);
    for (i, value) in lines.iter().enumerate() {
        assert!(has_gtube_from_headers(value), "message {i}: {value}");
        let expected = match modes[i % modes.len()] {
            "none" => None,
            "loop" => Some("timeout"),
            "memory-bomb" => Some("memory"),
            other => Some(other),
        };
        assert_eq!(
            failed_kind(value).as_deref(),
            expected,
            "message {i}: {value}"
        );
    }
}

#[test]
fn a_plugin_that_keeps_failing_is_switched_off() {
    let dir = scratch();
    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    for i in 0..6 {
        std::fs::write(messages.join(format!("{i}.eml")), message("x", "", "hello")).unwrap();
    }
    let config = config(dir.path(), "panic", 3);
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", &config, "messages"],
    );
    out.assert_success();
    let kinds: Vec<Option<String>> = out.json_lines().iter().map(failed_kind).collect();
    let panic = Some("panic".to_owned());
    let disabled = Some("disabled".to_owned());
    assert_eq!(
        kinds,
        vec![
            panic.clone(),
            panic.clone(),
            panic,
            disabled.clone(),
            disabled.clone(),
            disabled
        ]
    );
    assert!(
        out.stderr()
            .contains("plugin switched off after repeated failures"),
        "{}",
        out.stderr()
    );
}

#[test]
fn plugin_test_shows_the_failure_kind_and_the_plugins_stderr() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("m.eml"),
        message("x", "X-Misbehave: panic\r\n", "hello"),
    )
    .unwrap();
    let out = moat(dir.path(), &["plugin", "test", TEST_MISBEHAVE, "m.eml"]);
    out.assert_failure();
    let text = out.stdout();
    assert!(text.contains("PLUGIN_FAILED (panic)"), "{text}");
    assert!(
        text.contains("misbehave plugin panicked on purpose"),
        "stderr is shown: {text}"
    );
}
