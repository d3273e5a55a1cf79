//! What `moat plugin test` prints: first the plugin, the envelope it is run with, the
//! capabilities it was granted and where its kv state lives; then each stage's verdict
//! (or failure) with its time, peak memory and stderr. Text, or JSON lines with the same
//! fields (`--json`).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::check_envelope::CheckedEnvelope;
use crate::cli::output::say;
use crate::filter::Verdict;
use crate::filter::pipeline::{CallReport, StageInput};
use crate::filter::plugin::LoadedPlugin;

/// Where the tested plugin's kv namespace lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KvPlace {
    /// `kv` was not granted: every kv call is denied.
    NotGranted,
    /// A scratch data dir: kv starts empty and is forgotten after the run.
    Scratch,
    /// The data dir given with `--data-dir`: kv is read from it and kept there.
    Kept(PathBuf),
}

/// What the run is made with, printed before the verdicts.
pub(super) struct Header<'a> {
    /// The plugin as loaded (its name, info and grants).
    pub(super) plugin: &'a LoadedPlugin,
    /// The file it was loaded from.
    pub(super) wasm: &'a Path,
    /// Its settings file, if it has one.
    pub(super) settings: Option<&'a Path>,
    /// The client and envelope it is run with.
    pub(super) envelope: &'a CheckedEnvelope,
    /// Where its kv state lives.
    pub(super) kv: &'a KvPlace,
}

/// Prints the header: one JSON line, or a few lines of text.
pub(super) fn print_header(header: &Header<'_>, json: bool) {
    if json {
        say!("{}", header_json(header));
    } else {
        print_header_text(header);
    }
}

fn header_json(header: &Header<'_>) -> serde_json::Value {
    let plugin = header.plugin;
    let client = &header.envelope.client;
    let capabilities: Vec<&str> = plugin.host.granted().iter().map(|c| c.as_str()).collect();
    let kv = match header.kv {
        KvPlace::NotGranted => json!({ "granted": false, "persists": false, "data_dir": null }),
        KvPlace::Scratch => json!({ "granted": true, "persists": false, "data_dir": null }),
        KvPlace::Kept(dir) => {
            json!({ "granted": true, "persists": true, "data_dir": dir.display().to_string() })
        }
    };
    json!({
        "plugin": plugin.name,
        "version": plugin.info.version,
        "sdk_version": plugin.info.sdk_version,
        "stages": plugin.stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "default_weight": plugin.info.default_weight,
        "file": header.wasm.display().to_string(),
        "settings": header.settings.map(|p| p.display().to_string()),
        "client": {
            "ip": client.ip.to_string(),
            "helo": client.helo,
            "reverse_dns": client.reverse_dns,
        },
        "mail_from": header.envelope.mail_from,
        "rcpt_to": header.envelope.rcpt_to,
        "capabilities": capabilities,
        "kv": kv,
    })
}

fn print_header_text(header: &Header<'_>) {
    let plugin = header.plugin;
    let stages: Vec<&str> = plugin.stages.iter().map(|s| s.as_str()).collect();
    say!(
        "plugin {} {} (sdk {}), stages {}, default weight {}",
        plugin.name,
        plugin.info.version,
        plugin.info.sdk_version,
        stages.join(","),
        plugin.info.default_weight
    );
    if header.wasm.file_stem().and_then(|s| s.to_str()) != Some(plugin.name.as_str()) {
        say!(
            "  (in a plugin directory: {name}.wasm, its settings {name}.toml)",
            name = plugin.name
        );
    }
    if let Some(settings) = header.settings {
        say!("settings {}", settings.display());
    }
    let client = &header.envelope.client;
    say!(
        "client {} helo {} (reverse dns {})",
        client.ip,
        client.helo,
        client.reverse_dns.as_deref().unwrap_or("none")
    );
    let recipients: Vec<String> = header
        .envelope
        .rcpt_to
        .iter()
        .map(|r| format!("<{r}>"))
        .collect();
    say!(
        "envelope from <{}> to {}",
        header.envelope.mail_from,
        recipients.join(", ")
    );
    let granted: Vec<&str> = plugin.host.granted().iter().map(|c| c.as_str()).collect();
    say!(
        "capabilities {}",
        if granted.is_empty() {
            "none".to_owned()
        } else {
            granted.join(",")
        }
    );
    say!("kv {}", kv_text(header.kv));
}

fn kv_text(kv: &KvPlace) -> String {
    match kv {
        KvPlace::NotGranted => "not granted (calls are denied; --grant kv)".to_owned(),
        KvPlace::Scratch => {
            "starts empty (a scratch data dir, forgotten after the run; --data-dir DIR keeps it)"
                .to_owned()
        }
        KvPlace::Kept(dir) => format!("persists in {} (--data-dir)", dir.display()),
    }
}

/// Prints one stage's report: a JSON line, or text.
pub(super) fn print_stage(input: &StageInput, report: &CallReport<Verdict>, json: bool) {
    let recipient = match input {
        StageInput::RcptTo(recipient) => Some(recipient.as_str()),
        _ => None,
    };
    if json {
        print_stage_json(input, recipient, report);
    } else {
        print_stage_text(input, recipient, report);
    }
}

/// One stage's result as a JSON line: the verdict (or the failure), time, peak memory and
/// stderr; `recipient` at the rcpt_to stage.
fn print_stage_json(input: &StageInput, recipient: Option<&str>, report: &CallReport<Verdict>) {
    let elapsed_us = report.elapsed.as_micros() as u64;
    let verdict = match &report.result {
        Ok(v) => json!({
            "symbols": v.symbols, "action": v.action, "annotations": v.annotations,
        }),
        Err(e) => json!({ "error": e.to_string(), "kind": e.kind() }),
    };
    let mut line = json!({
        "stage": input.stage().as_str(), "verdict": verdict, "elapsed_us": elapsed_us,
        "peak_memory": report.peak_memory, "stderr": report.stderr,
    });
    if let Some(recipient) = recipient {
        line["recipient"] = json!(recipient);
    }
    say!("{line}");
}

/// One stage's result as text: a heading with time and peak memory, then the symbols,
/// demanded action and annotations (or the failure), then stderr.
fn print_stage_text(input: &StageInput, recipient: Option<&str>, report: &CallReport<Verdict>) {
    say!(
        "\nstage {}{}: {} µs, peak memory {} KiB",
        input.stage().as_str(),
        recipient.map(|r| format!(" <{r}>")).unwrap_or_default(),
        report.elapsed.as_micros() as u64,
        report.peak_memory >> 10
    );
    match &report.result {
        Ok(v) => {
            for s in &v.symbols {
                say!("  {:<28} {:>8.2}  {}", s.name, s.score, s.detail);
            }
            if v.symbols.is_empty() {
                say!("  (no symbols)");
            }
            if let Some(action) = v.action {
                say!("  demands action {}", action.as_str());
            }
            for a in &v.annotations {
                say!(
                    "  annotation {} = {:?}",
                    a.key,
                    a.value.chars().take(80).collect::<String>()
                );
            }
        }
        Err(e) => say!("  PLUGIN_FAILED ({}): {e}", e.kind()),
    }
    if !report.stderr.is_empty() {
        say!("  stderr: {}", report.stderr);
    }
}
