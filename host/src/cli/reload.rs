//! `moat reload`: asks the running server to read its configuration and plugin directory
//! again (`POST /reload`), and prints what it put in force.

use std::process::ExitCode;

use super::target::{Target, running_admin};
use crate::cli::output::say;
use crate::control::client::{self, Endpoint};

/// `moat reload`: asks the running server to reload, and prints what it did. Fails when
/// the configuration is refused or a plugin did not load.
pub(super) async fn run(target: Target) -> anyhow::Result<ExitCode> {
    // With --admin, a configuration that does not load is still sent for the server to
    // refuse: it answers with the problems, by key.
    let endpoint = match (target.admin, target.config.load()) {
        (Some(address), config) => Endpoint {
            address,
            token: match config {
                Ok(config) => client::token_for(&config),
                Err(_) => token_of_unchecked(&target),
            },
        },
        (None, Ok(config)) => running_admin(&config)?,
        (None, Err(error)) => {
            return Err(error.context(
                "cannot read the configuration to find the running server (give --admin ADDR \
                 to have the server check it)",
            ));
        }
    };
    let response = client::request(&endpoint, hyper::Method::POST, "/reload").await?;
    if response.status != 200 {
        eprintln!(
            "moat: reload refused, the running configuration stays: {}",
            client::error_text(&response.body)
        );
        return Ok(ExitCode::FAILURE);
    }
    let report: serde_json::Value = serde_json::from_slice(&response.body)?;
    let names = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    say!("reloaded: plugins {}", names("plugins").join(","));
    if let Some(certificate) = report["certificate"].as_str() {
        say!("reloaded: certificate {certificate}");
    }
    if let Some(routes) = report["routes"].as_u64() {
        match report["routes_changed"].as_u64().unwrap_or(0) {
            0 => say!("reloaded: delivery routes {routes} (unchanged)"),
            changed => say!(
                "reloaded: delivery routes {routes} ({changed} changed; \
                 `moat queue flush` tries waiting mail now)"
            ),
        }
    }
    for warning in names("warnings") {
        eprintln!("moat: not applied: {warning}");
    }
    let errors = names("errors");
    for error in &errors {
        eprintln!("moat: {error}");
    }
    for kept in names("kept") {
        eprintln!("moat: {kept}: the previous version stays live");
    }
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The admin token for a configuration the CLI cannot load (the server is to refuse it):
/// `[admin] token` or the data dir's token file, read from the file as plain TOML.
fn token_of_unchecked(target: &Target) -> Option<String> {
    let text = target
        .config
        .config
        .as_ref()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_default();
    let table: toml::Table = text.parse().unwrap_or_default();
    if let Some(token) = table
        .get("admin")
        .and_then(|admin| admin.get("token"))
        .and_then(toml::Value::as_str)
    {
        return Some(token.to_owned());
    }
    let data_dir = target.config.data_dir.clone().unwrap_or_else(|| {
        let configured = table
            .get("server")
            .and_then(|server| server.get("data_dir"))
            .and_then(toml::Value::as_str);
        std::path::PathBuf::from(configured.unwrap_or(crate::config::DEFAULT_DATA_DIR))
    });
    std::fs::read_to_string(client::token_file(&data_dir))
        .ok()
        .map(|text| text.trim().to_owned())
}
