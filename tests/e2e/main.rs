//! End-to-end tests: the real `moat` binary, real .wasm plugins, real messages.
//! One test binary of `mod` lines; helpers live in `moat-test-support`.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap is a failed test, with its location"
)]

mod abuse;
mod cli;
mod decisions;
mod delivery;
mod delivery_mx;
mod disk_full;
mod dnsbl;
mod durability;
mod floods;
mod gateway;
mod image_spam;
mod learn;
mod metrics;
mod ocr;
mod ocr_bombs;
mod open_relay;
mod plugin_authors;
mod plugin_bounds;
mod plugin_faults;
mod python_plugin;
mod quarantine;
mod recipient_verification;
mod recipients;
mod reload;
mod reputation;
mod sdk_example;
mod sender_auth;
mod service;
mod shared_kv;
mod smtp_basics;
mod smtp_filters;
mod smtp_policy;
mod spam_headers;
mod submission;

use std::path::Path;
use std::time::Duration;

use moat_test_support::{Finished, run_in};

/// The binary under test.
const MOAT: &str = env!("CARGO_BIN_EXE_moat");

/// A one-shot command's time limit (generous: debug builds compile plugins slowly).
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// The GTUBE test string, which any content filter flags.
const GTUBE: &str = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

/// Runs `moat ARGS` in `dir`.
fn moat(dir: &Path, args: &[&str]) -> Finished {
    run_in(MOAT, dir, args, COMMAND_LIMIT)
}

/// Writes `offline.toml` in `dir`: the default plugins with no DNS block lists and no
/// sender authentication, for checks of real mail (whose real addresses and domains would
/// otherwise be looked up on the network, which tests must not touch); returns its name.
fn offline_config(dir: &Path) -> &'static str {
    let cache = moat_test_support::workspace_root().join("target/e2e-plugin-cache");
    let text = format!(
        "[server]\ndata_dir = \"data\"\n[filter]\ncache_dir = {:?}\n[plugin.dnsbl.config]\nlists = []\n\
[sender_auth]\nverify = false\n",
        cache.display().to_string()
    );
    std::fs::write(dir.join("offline.toml"), text).unwrap();
    "offline.toml"
}

/// A well-formed message with this subject and body.
fn message(subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: Alice <alice@example.org>\r\nTo: bob@example.test\r\nSubject: {subject}\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <t1@example.org>\r\n{extra_headers}\r\n{body}\r\n"
    )
}
