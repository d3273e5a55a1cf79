//! `moat learn` while the server runs: the plugins' kv store is the server's then, so each
//! message is sent to its admin endpoint (`POST /learn/...`), which teaches the live
//! plugins; `stats` reads `GET /learn/stats`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use hyper::Method;
use serde_json::Value;

use crate::cli::output::say;
use crate::control::client::error_text;
use crate::control::client::{self, Endpoint};
use crate::filter::pipeline::Label;
use crate::message::mailbox::messages_under;

/// Per plugin: how many messages ended each way.
type Tallies = BTreeMap<String, BTreeMap<String, usize>>;

/// Sends every message under `paths` to the server at `address` to learn (or, with
/// `forget`, unlearn) as `label`, and prints each plugin's tally.
pub(super) async fn teach(
    endpoint: &Endpoint,
    paths: &[PathBuf],
    label: Label,
    forget: bool,
    plugin: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let lesson = match (forget, label) {
        (true, _) => "forget",
        (false, Label::Spam) => "spam",
        (false, Label::Ham) => "ham",
    };
    let path = match plugin {
        Some(name) => format!("/learn/{lesson}?plugin={name}"),
        None => format!("/learn/{lesson}"),
    };
    let mut tallies = Tallies::new();
    let (mut messages, mut unreadable, mut failed) = (0, 0, false);
    for found in messages_under(paths)? {
        let message = match found {
            Ok(message) => message,
            Err(unreadable_file) => {
                eprintln!("moat: {}", unreadable_file.error);
                unreadable += 1;
                continue;
            }
        };
        messages += 1;
        let response =
            client::request_with_body(endpoint, Method::POST, &path, message.raw).await?;
        if response.status != 200 {
            eprintln!("moat: {}: {}", message.origin, error_text(&response.body));
            unreadable += 1;
            continue;
        }
        let results: Vec<Value> = serde_json::from_slice(&response.body)?;
        for result in results {
            let name = result["plugin"].as_str().unwrap_or("?").to_owned();
            let outcome = result["outcome"].as_str().unwrap_or("?").to_owned();
            if let Some(detail) = result["detail"].as_str() {
                eprintln!("moat: {}: {name} {outcome}: {detail}", message.origin);
                failed = true;
            }
            *tallies.entry(name).or_default().entry(outcome).or_default() += 1;
        }
    }
    tallies.retain(|_, outcomes| !outcomes.contains_key("unsupported"));
    if tallies.is_empty() && messages > 0 {
        bail!("none of the running server's plugins learns");
    }
    let verb = if forget { "forgotten" } else { "learnt" };
    for (name, outcomes) in &tallies {
        let count = |key: &str| outcomes.get(key).copied().unwrap_or(0);
        say!(
            "{name}: {} {verb}, {} unchanged, {} failed (by the running server)",
            count("done"),
            count("unchanged"),
            count("refused") + count("failed")
        );
    }
    say!(
        "{messages} messages{}",
        if unreadable > 0 {
            format!(", {unreadable} unreadable or refused")
        } else {
            String::new()
        }
    );
    Ok(if failed || unreadable > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what the running server's plugins have learnt, as `moat learn stats` does.
pub(super) async fn stats(endpoint: &Endpoint) -> anyhow::Result<ExitCode> {
    let response = client::request(endpoint, Method::GET, "/learn/stats").await?;
    if response.status != 200 {
        bail!("{}", error_text(&response.body));
    }
    let plugins: Vec<Value> = serde_json::from_slice(&response.body)?;
    if plugins.is_empty() {
        say!("no plugin has learnt anything yet");
    }
    for plugin in plugins {
        say!(
            "{}: {} keys",
            plugin["plugin"].as_str().unwrap_or("?"),
            plugin["keys"]
        );
        if let Some(counters) = plugin["counters"].as_object() {
            for (name, value) in counters {
                let value = value
                    .as_i64()
                    .map_or_else(|| value.to_string(), |n| n.to_string());
                say!("  {name:<24} {value}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
