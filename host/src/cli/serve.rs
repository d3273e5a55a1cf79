//! `moat serve`: run the gateway ([`crate::server::run`]) until SIGINT/SIGTERM.

use std::process::ExitCode;

use super::ConfigArgs;

/// `moat serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Development mode: without --config, run on the embedded default (loopback only,
    /// data under ./moat-data or --data-dir, the bundled plugins on); with or without it,
    /// make a self-signed certificate for STARTTLS when none is configured.
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
    crate::server::run(args.config.source(), args.dev).await?;
    Ok(ExitCode::SUCCESS)
}
