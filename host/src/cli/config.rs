//! `moat config check`: load a configuration, list every problem by key, and load its
//! plugins to prove they work.

use std::path::PathBuf;
use std::process::ExitCode;

use super::report_load_errors;
use crate::cli::output::say;
use crate::config::Config;
use crate::filter::assemble::assemble;

/// `moat config ...`
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file (without FILE: the embedded default).
    Check {
        /// The configuration file.
        file: Option<PathBuf>,
    },
}

/// Runs the config command.
pub(super) async fn run(command: ConfigCommand) -> anyhow::Result<ExitCode> {
    let ConfigCommand::Check { file } = command;
    let loaded = match &file {
        Some(path) => Config::load(path),
        None => Config::embedded_default(),
    };
    let config = match loaded {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // Plugins are loaded against a scratch data dir so a running gateway is not disturbed.
    let scratch = tempfile::tempdir()?;
    let assembled = assemble(&config, scratch.path()).await?;
    if report_load_errors(&assembled.load_errors) {
        return Ok(ExitCode::FAILURE);
    }
    let name = file.map_or_else(
        || "embedded default".to_owned(),
        |p| p.display().to_string(),
    );
    say!(
        "{name}: ok ({} plugins: {})",
        assembled.pipeline.plugins().len(),
        plugin_names(&assembled.pipeline)
    );
    Ok(ExitCode::SUCCESS)
}

fn plugin_names(pipeline: &crate::filter::Pipeline) -> String {
    pipeline
        .plugins()
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
