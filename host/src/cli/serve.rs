//! `moat serve`: run the gateway until interrupted.
//!
//! The SMTP listeners arrive with the inbound-SMTP work; today `serve` assembles the
//! filter side (engine, data dir, plugins), reports what loaded, prints the ready line and
//! waits for SIGINT/SIGTERM.

use std::process::ExitCode;

use anyhow::Context as _;

use super::{ConfigArgs, ensure_dir, report_load_errors};
use crate::filter::assemble::assemble;

/// `moat serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Run on the embedded default: loopback only, data under ./moat-data (or --data-dir),
    /// the bundled plugins on. Ignored with --config.
    #[arg(long)]
    pub dev: bool,
    /// Config and data dir.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs the gateway.
pub(super) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !args.dev && args.config.config.is_none() {
        anyhow::bail!(
            "say which configuration to run: --config FILE, or --dev for the embedded default"
        );
    }
    let config = args.config.load()?;
    ensure_dir(&config.server.data_dir)?;
    let assembled = assemble(&config, &config.server.data_dir)
        .await
        .context("cannot start the filter pipeline")?;
    report_load_errors(&assembled.load_errors);
    let names: Vec<&str> = assembled
        .pipeline
        .plugins()
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    tracing::info!(data_dir = %config.server.data_dir.display(), plugins = ?names, "filter pipeline ready");
    println!("moat ready plugins={}", names.join(","));
    wait_for_shutdown().await?;
    tracing::info!("shutting down");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot watch SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}
