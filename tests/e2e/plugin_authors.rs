//! The plugin author's path: `moat plugin test` with the message's envelope and the
//! capabilities granted on the command line, `moat plugin list`, and `moat config check`
//! on a plugin directory whose files do not match their plugins.

use std::path::Path;

use moat::test_guests::TEST_COUNTER;
use moat_test_support::{Finished, scratch};

use crate::{message, moat};

/// Writes `m.eml`: a message with the Return-Path `return_path` (none if empty).
fn write_message(dir: &Path, return_path: &str) {
    let extra = if return_path.is_empty() {
        String::new()
    } else {
        format!("Return-Path: {return_path}\r\nCc: carol@example.test\r\n")
    };
    std::fs::write(dir.join("m.eml"), message("hello", &extra, "hello")).unwrap();
}

/// `moat plugin test --json` of the counter plugin on `m.eml` with `extra` arguments.
fn plugin_test(dir: &Path, extra: &[&str]) -> Finished {
    let mut args = vec!["plugin", "test", "--json", TEST_COUNTER, "m.eml"];
    args.extend_from_slice(extra);
    moat(dir, &args)
}

/// The symbols of the stage `stage` in `plugin test --json` output, as (name, score).
fn symbols_at(out: &Finished, stage: &str) -> Vec<(String, f64)> {
    let lines = out.json_lines();
    let line = lines
        .iter()
        .find(|l| l["stage"] == stage)
        .unwrap_or_else(|| panic!("no {stage} stage: {}", out.stdout()));
    line["verdict"]["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn plugin_test_runs_the_plugin_with_the_messages_envelope() {
    let dir = scratch();
    write_message(dir.path(), "<bounces@lists.example.org>");
    let out = plugin_test(dir.path(), &[]);
    out.assert_success();
    let header = &out.json_lines()[0];
    assert_eq!(header["plugin"], "counter", "{header}");
    assert_eq!(header["mail_from"], "bounces@lists.example.org", "{header}");
    assert_eq!(
        header["rcpt_to"],
        serde_json::json!(["bob@example.test", "carol@example.test"]),
        "{header}"
    );
    assert_eq!(header["client"]["ip"], "127.0.0.1", "{header}");
    assert_eq!(header["capabilities"], serde_json::json!([]), "{header}");
    assert_eq!(
        symbols_at(&out, "mail_from"),
        [("COUNTER_SENDER".to_owned(), 1.0)],
        "the plugin skips only the null sender"
    );

    // A bounce (Return-Path <>) is run with the null sender, which the plugin skips.
    write_message(dir.path(), "<>");
    let out = plugin_test(dir.path(), &[]);
    out.assert_success();
    assert_eq!(out.json_lines()[0]["mail_from"], "");
    assert!(symbols_at(&out, "mail_from").is_empty(), "{}", out.stdout());

    // The overrides of `moat check`.
    let out = plugin_test(
        dir.path(),
        &[
            "--from",
            "alice@example.org",
            "--rcpt",
            "x@example.test",
            "--rcpt",
            "y@example.test",
            "--ip",
            "192.0.2.7",
            "--helo",
            "mx.example.net",
        ],
    );
    out.assert_success();
    let header = &out.json_lines()[0];
    assert_eq!(header["mail_from"], "alice@example.org", "{header}");
    assert_eq!(
        header["rcpt_to"],
        serde_json::json!(["x@example.test", "y@example.test"])
    );
    assert_eq!(header["client"]["ip"], "192.0.2.7");
    assert_eq!(header["client"]["helo"], "mx.example.net");
}

#[test]
fn plugin_test_prints_the_envelope_and_grants_as_text() {
    let dir = scratch();
    write_message(dir.path(), "<bounces@lists.example.org>");
    let out = moat(
        dir.path(),
        &["plugin", "test", "--grant", "kv", TEST_COUNTER, "m.eml"],
    );
    out.assert_success();
    let text = out.stdout();
    for expected in [
        "plugin counter ",
        "(in a plugin directory: counter.wasm, its settings counter.toml)",
        "envelope from <bounces@lists.example.org> to <bob@example.test>, <carol@example.test>",
        "capabilities kv",
        "kv starts empty (a scratch data dir, forgotten after the run",
        "COUNTER_SENDER",
        "COUNTER_SEEN",
    ] {
        assert!(text.contains(expected), "{expected:?} missing: {text}");
    }
}

#[test]
fn grant_kv_with_a_data_dir_keeps_the_count_across_runs() {
    let dir = scratch();
    write_message(dir.path(), "<a@example.org>");
    let seen = |out: &Finished| {
        out.assert_success();
        symbols_at(out, "data")
    };
    let counted = |n: f64| vec![("COUNTER_SEEN".to_owned(), n)];

    let kept = ["--grant", "kv", "--data-dir", "state"];
    let first = plugin_test(dir.path(), &kept);
    assert_eq!(seen(&first), counted(1.0));
    let header = &first.json_lines()[0];
    assert_eq!(
        header["capabilities"],
        serde_json::json!(["kv"]),
        "{header}"
    );
    assert_eq!(header["kv"]["persists"], true, "{header}");
    assert_eq!(header["kv"]["data_dir"], "state", "{header}");
    assert_eq!(seen(&plugin_test(dir.path(), &kept)), counted(2.0));

    // Without --data-dir, kv starts empty every run.
    for _ in 0..2 {
        let scratch_run = plugin_test(dir.path(), &["--grant", "kv"]);
        assert_eq!(seen(&scratch_run), counted(1.0));
        assert_eq!(scratch_run.json_lines()[0]["kv"]["persists"], false);
    }

    // Without the grant, kv is denied, and the operator is warned naming plugin and
    // capability.
    let denied = plugin_test(dir.path(), &["--data-dir", "state"]);
    assert_eq!(
        seen(&denied),
        [("COUNTER_KV_DENIED".to_owned(), 0.0)],
        "{}",
        denied.stdout()
    );
    assert_eq!(denied.json_lines()[0]["kv"]["granted"], false);
    let warning = denied
        .stderr()
        .lines()
        .find(|l| l.contains("not granted"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no warning: {}", denied.stderr()));
    assert!(
        warning.contains("counter") && warning.contains("kv"),
        "{warning}"
    );
    // The kept count was not touched by the denied run.
    assert_eq!(seen(&plugin_test(dir.path(), &kept)), counted(3.0));
}

/// The counter plugin reads the From address through `message.addresses`, which the
/// gateway parsed: a quoted display name with a comma and a domain in capitals come out
/// as the name and the lower-cased domain.
#[test]
fn a_plugin_reads_the_addresses_the_gateway_parsed() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("m.eml"),
        "From: \"Example, Alice\" <Alice@Example.ORG>\r\nTo: bob@example.test\r\n\
         Subject: hi\r\nMessage-ID: <a1@example.org>\r\n\r\nhello\r\n",
    )
    .unwrap();
    let out = plugin_test(dir.path(), &["--grant", "kv"]);
    out.assert_success();
    let lines = out.json_lines();
    let data = lines.iter().find(|l| l["stage"] == "data").unwrap();
    let detail = data["verdict"]["symbols"][0]["detail"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        detail, "message 1 from example.org (Example, Alice)",
        "{data}"
    );
}

#[test]
fn an_unknown_capability_is_a_command_line_error() {
    let dir = scratch();
    write_message(dir.path(), "");
    let out = plugin_test(dir.path(), &["--grant", "kv,network"]);
    out.assert_failure();
    assert!(
        out.stderr()
            .contains("unknown capability `network` (capabilities: dns, kv, ocr)"),
        "{}",
        out.stderr()
    );
}

#[test]
fn plugin_list_shows_grants_stages_weight_and_source() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[filter]\nbundled = [\"headers\"]\n\
[plugin.counter]\nsource = {TEST_COUNTER:?}\ncapabilities = [\"kv\", \"dns\"]\nweight = 2.5\n"
        ),
    )
    .unwrap();
    let out = moat(
        dir.path(),
        &["plugin", "list", "--json", "--config", "moat.toml"],
    );
    out.assert_success();
    let plugins = out.json_lines();
    let find = |name: &str| {
        plugins
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {}", out.stdout()))
    };
    let counter = find("counter");
    assert_eq!(counter["capabilities"], serde_json::json!(["dns", "kv"]));
    assert_eq!(counter["stages"], serde_json::json!(["mail_from", "data"]));
    assert_eq!(counter["weight"], 2.5);
    assert_eq!(counter["source"], TEST_COUNTER);
    let headers = find("headers");
    assert_eq!(headers["source"], "bundled:headers");
    assert_eq!(headers["capabilities"], serde_json::json!([]));

    let text = moat(dir.path(), &["plugin", "list", "--config", "moat.toml"]);
    text.assert_success();
    let row = text
        .stdout()
        .lines()
        .find(|l| l.starts_with("counter "))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("{}", text.stdout()));
    for expected in [
        "capabilities dns,kv",
        "stages mail_from,data",
        "weight 2.5",
        &format!("source {TEST_COUNTER}"),
    ] {
        assert!(row.contains(expected), "{expected:?} missing: {row}");
    }
}

/// A config whose plugin directory is `plugins/`, holding what `files` names (file name,
/// then `Some` text, or `None` for a copy of the counter plugin).
fn plugin_dir_config(dir: &Path, files: &[(&str, Option<&str>)]) {
    let plugins = dir.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    for (name, text) in files {
        match text {
            Some(text) => std::fs::write(plugins.join(name), text).unwrap(),
            None => {
                std::fs::copy(TEST_COUNTER, plugins.join(name)).unwrap();
            }
        }
    }
    std::fs::write(
        dir.join("moat.toml"),
        "[server]\ndata_dir = \"data\"\n[filter]\nbundled = []\nplugin_dir = \"plugins\"\n",
    )
    .unwrap();
}

#[test]
fn config_check_refuses_settings_without_their_plugin() {
    let dir = scratch();
    plugin_dir_config(
        dir.path(),
        &[
            ("counter.wasm", None),
            ("counter.toml", Some("weight = 2.0\n")),
            ("link-count.toml", Some("capabilities = [\"kv\"]\n")),
        ],
    );
    let out = moat(dir.path(), &["config", "check", "moat.toml"]);
    out.assert_failure();
    let stderr = out.stderr();
    assert!(
        stderr.contains("plugins/link-count.toml has no plugin beside it")
            && stderr.contains("plugins/link-count.wasm does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("counter.toml"), "{stderr}");
}

#[test]
fn config_check_refuses_a_plugin_file_not_named_after_its_plugin() {
    let dir = scratch();
    plugin_dir_config(dir.path(), &[("link-count.wasm", None)]);
    let out = moat(dir.path(), &["config", "check", "moat.toml"]);
    out.assert_failure();
    let stderr = out.stderr();
    assert!(
        stderr.contains("plugins/link-count.wasm: the plugin calls itself `counter`")
            && stderr.contains("plugins/counter.wasm"),
        "{stderr}"
    );
}

#[test]
fn a_plugin_name_with_capitals_and_spaces_is_refused_at_load() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[filter]\nbundled = []\n\
[plugin.linkcount]\nsource = {TEST_COUNTER:?}\n[plugin.linkcount.config]\nname = \"Link Count\"\n"
        ),
    )
    .unwrap();
    let out = moat(dir.path(), &["config", "check", "moat.toml"]);
    out.assert_failure();
    assert!(
        out.stderr()
            .contains("it calls itself \"Link Count\", which is not a plugin name"),
        "{}",
        out.stderr()
    );
}
