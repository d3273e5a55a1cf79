//! The second guest language: Python plugins, built with componentize-py (pinned in their
//! build scripts, fetched from PyPI), load in `moat serve` beside the bundled Rust plugins
//! and score a message; and the Python misbehave plugin fails as the Rust one does (a loop
//! times out, a memory bomb hits the memory limit, an exception is a panic) while the
//! other plugins' verdicts stay intact and the gateway answers.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use moat_test_support::{run_in, scratch, workspace_root};

use crate::delivery::send;
use crate::gateway::Gateway;
use crate::{GTUBE, message, moat};

/// How long building one Python plugin may take (a first build installs componentize-py).
const BUILD_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// The plugin directory holding `pyscore.wasm` and `misbehave-python.wasm`, built once per
/// test run by their build scripts.
fn python_plugins() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let dir = root.join("target/python/plugins");
        std::fs::create_dir_all(&dir).unwrap();
        for (script, wasm) in [
            ("examples/plugin-python/build.sh", "pyscore.wasm"),
            (
                "tests/plugins/misbehave-python/build.sh",
                "misbehave-python.wasm",
            ),
        ] {
            let out = dir.join(wasm).display().to_string();
            let script = root.join(script).display().to_string();
            run_in("bash", &root, &[&script, &out], BUILD_LIMIT).assert_success();
        }
        dir
    })
}

/// `[filter]` keys loading the Python plugins from their directory, misbehave-python
/// with a time budget of `budget` and 32 MiB.
fn python_filter_keys(budget: &str) -> String {
    format!(
        "plugin_dir = {:?}\n[plugin.misbehave-python]\ntime_budget = {budget:?}\nmemory_limit = \"32MiB\"\n",
        python_plugins().display().to_string()
    )
}

#[test]
fn python_plugins_load_beside_the_rust_ones_and_score() {
    let mut gw = Gateway::start(&format!(
        "{}[thresholds]\ntag = 50.0\nquarantine = 60.0\nreject = 100.0\n[sender_auth]\nverify = false\n",
        python_filter_keys("2s")
    ));
    let ready = gw.ready_line();
    for plugin in ["headers", "bayes", "pyscore", "misbehave-python"] {
        assert!(ready.contains(plugin), "{plugin} loaded: {ready}");
    }
    let id = send(
        &gw,
        "a@example.org",
        &["b@example.test"],
        &message("offer", "", "click here to claim your prize"),
    );
    gw.stop();
    let stored = String::from_utf8_lossy(&gw.queued_message(&id)).into_owned();
    assert!(stored.contains("pyscore.PYSCORE_BODY_PHRASE"), "{stored}");
    assert!(stored.contains("misbehave-python.MISBEHAVE_OK"), "{stored}");
}

#[test]
fn the_python_misbehave_plugin_fails_as_the_rust_one_does() {
    let dir = scratch();
    std::fs::write(
        dir.path().join("moat.toml"),
        format!(
            "[server]\ndata_dir = \"data\"\n[filter]\ncache_dir = {:?}\n{}[sender_auth]\nverify = false\n",
            workspace_root().join("target/e2e-plugin-cache").display().to_string(),
            python_filter_keys("500ms")
        ),
    )
    .unwrap();
    for (mode, kind) in [
        ("loop", "timeout"),
        ("memory-bomb", "memory"),
        ("panic", "panic"),
    ] {
        let file = format!("{mode}.eml");
        std::fs::write(
            dir.path().join(&file),
            message("test", &format!("X-Misbehave: {mode}\r\n"), GTUBE),
        )
        .unwrap();
        let out = moat(
            dir.path(),
            &["check", "--json", "--config", "moat.toml", &file],
        );
        out.assert_success();
        let value = &out.json_lines()[0];
        let symbols = value["symbols"].as_array().unwrap();
        let failed = symbols
            .iter()
            .find(|s| s["plugin"] == "misbehave-python" && s["name"] == "PLUGIN_FAILED")
            .and_then(|s| s["detail"].as_str())
            .unwrap_or_else(|| panic!("mode {mode}: {value}"));
        assert!(failed.starts_with(kind), "mode {mode}: {failed}");
        assert!(
            symbols
                .iter()
                .any(|s| s["plugin"] == "headers" && s["name"] == "GTUBE"),
            "mode {mode}: the Rust plugin's verdict is intact: {value}"
        );
    }
}
