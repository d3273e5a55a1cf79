//! A misbehaving plugin is a plugin failure, never a gateway failure: each mode of the
//! `misbehave` test guest yields PLUGIN_FAILED with the right kind, the other plugins'
//! verdicts stay intact, and a plugin that keeps failing is switched off — but not by
//! large messages, which are the sender's doing; a switched-off plugin shows in
//! `/metrics` and can tempfail mail while it is off.

use std::path::Path;

use moat::test_guests::TEST_MISBEHAVE;
use moat_test_support::scratch;

use crate::gateway::{Gateway, step};
use crate::metrics::{parse, scrape};
use crate::{GTUBE, message, moat};

/// A config running the bundled plugins plus `misbehave` in `mode`.
fn config(dir: &Path, mode: &str, failure_threshold: u32) -> String {
    config_with(
        dir,
        mode,
        &format!("failure_threshold = {failure_threshold}\n"),
        "",
    )
}

/// A config running the bundled plugins plus `misbehave` in `mode`, with `filter` keys in
/// `[filter]` and `plugin` keys in `[plugin.misbehave]` (whose memory limit is 16MiB
/// unless they say otherwise).
fn config_with(dir: &Path, mode: &str, filter: &str, plugin: &str) -> String {
    let memory = if plugin.contains("memory_limit") {
        ""
    } else {
        "memory_limit = \"16MiB\"\n"
    };
    let text = format!(
        "[server]\ndata_dir = \"data\"\n\
[filter]\n{filter}\
[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\ntime_budget = \"200ms\"\n{memory}{plugin}\
[plugin.misbehave.config]\nmode = {mode:?}\n"
    );
    let path = dir.join(format!("{mode}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A message of about `bytes` bytes of text lines.
fn large_message(subject: &str, extra_headers: &str, bytes: usize) -> String {
    let line = "the quick brown fox jumps over the lazy dog again and again and again\r\n";
    message(subject, extra_headers, &line.repeat(bytes / line.len() + 1))
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

#[test]
fn large_messages_that_blow_a_plugins_limits_do_not_switch_it_off() {
    let dir = scratch();
    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    // Five 300 KiB messages (at least large_message_size): three whose 16 copies of the
    // text blow the 4MiB cap, two that run out of time.
    for (i, mode) in ["hoard-body", "loop", "hoard-body", "loop", "hoard-body"]
        .iter()
        .enumerate()
    {
        let header = format!("X-Misbehave: {mode}\r\n");
        let text = large_message(&format!("big {i}"), &header, 300 << 10);
        std::fs::write(messages.join(format!("{i:02}.eml")), text).unwrap();
    }
    // Then an ordinary message, and five small ones that blow the cap, which count.
    std::fs::write(messages.join("05.eml"), message("hi", "", "hello")).unwrap();
    for i in 6..12 {
        let text = message("x", "X-Misbehave: memory-bomb\r\n", "hello");
        std::fs::write(messages.join(format!("{i:02}.eml")), text).unwrap();
    }
    let config = config_with(
        dir.path(),
        "hoard-body",
        "failure_threshold = 5\nlarge_message_size = \"256KiB\"\nbundled = [\"headers\"]\n",
        "memory_limit = \"4MiB\"\n",
    );
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", &config, "messages"],
    );
    out.assert_success();
    let lines = out.json_lines();
    let kinds: Vec<Option<String>> = lines.iter().map(failed_kind).collect();
    let kind = |k: &str| Some(k.to_owned());
    assert_eq!(
        kinds,
        [
            kind("memory"),
            kind("timeout"),
            kind("memory"),
            kind("timeout"),
            kind("memory"),
            None,
            kind("memory"),
            kind("memory"),
            kind("memory"),
            kind("memory"),
            kind("memory"),
            kind("disabled"),
        ],
        "{}",
        out.stderr()
    );
    assert!(
        lines[5]["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["plugin"] == "misbehave" && s["name"] == "MISBEHAVE_OK"),
        "the plugin still answers the ordinary message: {}",
        lines[5]
    );
    assert!(
        out.stderr()
            .contains("not counted towards switching it off"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_message_over_max_message_size_skips_the_plugin_with_a_symbol() {
    let dir = scratch();
    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    std::fs::write(
        messages.join("1-large.eml"),
        large_message("big", "", 100 << 10),
    )
    .unwrap();
    std::fs::write(messages.join("2-small.eml"), message("x", "", "hello")).unwrap();
    let config = config_with(
        dir.path(),
        "panic",
        "bundled = [\"headers\"]\n",
        "max_message_size = \"64KiB\"\n",
    );
    let out = moat(
        dir.path(),
        &["check", "--json", "--config", &config, "messages"],
    );
    out.assert_success();
    let lines = out.json_lines();
    let misbehave = |value: &serde_json::Value| -> Vec<(String, String)> {
        value["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["plugin"] == "misbehave")
            .map(|s| {
                let name = s["name"].as_str().unwrap_or_default().to_owned();
                (name, s["detail"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    };
    let large = misbehave(&lines[0]);
    assert_eq!(large.len(), 1, "{large:?}");
    assert_eq!(large[0].0, "PLUGIN_SKIPPED");
    assert!(
        large[0]
            .1
            .contains("over the plugin's max_message_size of 64KiB"),
        "{large:?}"
    );
    assert_eq!(failed_kind(&lines[1]).as_deref(), Some("panic"));
    let small = misbehave(&lines[1]);
    assert!(
        small
            .iter()
            .any(|(_, detail)| detail.contains("misbehave plugin panicked on purpose")),
        "the report has the panic's message, not only its location: {small:?}"
    );
}

#[test]
fn a_switched_off_plugin_shows_in_metrics_and_tempfails_with_on_disabled() {
    let gw = Gateway::start(&format!(
        "failure_threshold = 2\n\
[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\nstages = [\"data\"]\non_disabled = \"tempfail\"\n\
[plugin.misbehave.config]\nmode = \"panic\"\n\
[admin]\naddress = \"127.0.0.1:0\"\n"
    ));
    let disabled = |gw: &Gateway, plugin: &str| {
        parse(&scrape(gw))[&format!("moat_plugin_disabled{{plugin=\"{plugin}\"}}")]
    };
    assert_eq!(disabled(&gw, "misbehave"), 0.0);
    let send = |i: usize| {
        let steps = gw.smtplib(
            "mx",
            message(&format!("m{i}"), "", "hello").as_bytes(),
            &["--from", "a@example.org", "--rcpt", "b@example.test"],
        );
        step(&steps, "data")["code"].clone()
    };
    // Two panics (on_error skip: the mail goes through) switch it off.
    assert_eq!(send(1), 250);
    assert_eq!(send(2), 250);
    assert_eq!(disabled(&gw, "misbehave"), 1.0);
    assert_eq!(disabled(&gw, "bayes"), 0.0);
    // While it is off, on_disabled = "tempfail" defers mail instead of skipping it.
    assert_eq!(send(3), 451);
}

/// The map of compiled plugin functions for `perf` (`MOAT_WASM_PERFMAP`) has a predictable
/// name in `/tmp`, which another local user could have linked elsewhere first: unset, as
/// by default, the gateway writes none while it loads and runs its plugins.
#[test]
fn no_perf_map_is_written_in_tmp_unless_asked_for() {
    let mut gw = Gateway::start("");
    let steps = gw.smtplib(
        "mx",
        message("perf map", "", "body").as_bytes(),
        &["--from", "alice@example.org", "--rcpt", "bob@example.test"],
    );
    assert_eq!(step(&steps, "data")["code"], 250, "{steps:?}");
    let map = Path::new("/tmp").join(format!("perf-{}.map", gw.pid()));
    let asked = std::env::var_os("MOAT_WASM_PERFMAP").is_some();
    let written = map.exists();
    gw.stop();
    if written {
        let _ = std::fs::remove_file(&map);
    }
    assert_eq!(written, asked, "{map:?}");
}
