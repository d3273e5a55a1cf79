//! The host bounds a plugin call cannot exceed, whatever it asks: a kv scan returns at most
//! 1000 entries, and DNS questions beyond the call's budget (count and time) are answered
//! without being asked, so the plugin still answers within its own time budget.

use std::net::UdpSocket;
use std::path::Path;

use moat::test_guests::TEST_MISBEHAVE;
use moat_test_support::scratch;

use crate::{message, moat};

/// Runs `moat check --json` on one small message with the `misbehave` plugin alone in
/// `mode`, with `plugin` keys in `[plugin.misbehave]`, `config` keys in its config and
/// `top` keys at the top of the file; returns the detail of `symbol` and moat's stderr.
fn check(dir: &Path, mode: &str, top: &str, plugin: &str, config: &str, symbol: &str) -> String {
    let text = format!(
        "[server]\ndata_dir = \"data\"\n{top}\
[filter]\nbundled = []\n\
[plugin.misbehave]\nsource = {TEST_MISBEHAVE:?}\ncapabilities = [\"dns\", \"kv\"]\n{plugin}\
[plugin.misbehave.config]\nmode = {mode:?}\n{config}"
    );
    std::fs::write(dir.join("moat.toml"), text).unwrap();
    std::fs::write(dir.join("one.eml"), message("bounds", "", "hello")).unwrap();
    let out = moat(
        dir,
        &["check", "--json", "--config", "moat.toml", "one.eml"],
    );
    out.assert_success();
    let lines = out.json_lines();
    let symbols = lines[0]["symbols"].as_array().expect("symbols");
    let found = symbols
        .iter()
        .find(|s| s["plugin"] == "misbehave" && s["name"] == symbol)
        .unwrap_or_else(|| panic!("no {symbol} in {}\n{}", lines[0], out.stderr()));
    found["detail"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_kv_scan_asking_for_everything_gets_at_most_1000_entries() {
    let dir = scratch();
    let detail = check(
        dir.path(),
        "scan-all",
        "",
        "",
        "fill = 1500\n",
        "MISBEHAVE_SCANNED",
    );
    assert_eq!(detail, "1000 entries");
}

#[test]
fn dns_questions_beyond_the_calls_budget_are_refused_without_asking() {
    let dir = scratch();
    // 300 invalid PTR questions, which the resolver answers without the network; by
    // default a call may ask 128.
    let detail = check(
        dir.path(),
        "dns-flood",
        "[dns]\nnameservers = [\"127.0.0.1:9\"]\n",
        "",
        "lookups = 300\n",
        "MISBEHAVE_DNS",
    );
    assert_eq!(detail, "invalid-name=128 server-failure=172");

    let detail = check(
        dir.path(),
        "dns-flood",
        "[dns]\nnameservers = [\"127.0.0.1:9\"]\n",
        "dns_max_questions = 10\n",
        "lookups = 300\n",
        "MISBEHAVE_DNS",
    );
    assert_eq!(detail, "invalid-name=10 server-failure=290");
}

#[test]
fn once_the_dns_time_budget_is_spent_lookups_time_out_and_the_plugin_answers() {
    let dir = scratch();
    // A nameserver that never answers: each lookup would wait 1 s x 2 attempts, ten
    // lookups far beyond the plugin's 3 s budget. The DNS budget (500 ms) cuts the first
    // one off and answers the rest at once.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let top = format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout = \"1s\"\nattempts = 2\n",
        silent.local_addr().unwrap()
    );
    let detail = check(
        dir.path(),
        "dns-flood",
        &top,
        "time_budget = \"3s\"\ndns_time_budget = \"500ms\"\n",
        "lookups = 10\ndns_name = \"slow.moat.test\"\n",
        "MISBEHAVE_DNS",
    );
    assert_eq!(detail, "timeout=10");
}
