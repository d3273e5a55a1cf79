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
            token: config.ok().and_then(|c| client::token_for(&c)),
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
