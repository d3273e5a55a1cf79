//! `moat plugin list` and `moat plugin test`: what is loaded (each plugin's source,
//! grants, stages, weight and limits), and how one plugin behaves on one message
//! (`plugin_test.rs`).

use std::process::ExitCode;

use super::plugin_test::TestArgs;
use super::{ConfigArgs, ensure_dir, report_load_errors};
use crate::cli::output::say;
use crate::control::client;
use crate::filter::assemble::assemble;
use crate::store::{Database, StoreError};

/// `moat plugin ...`
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// The plugins the configuration loads: source (bundled or file), granted
    /// capabilities, stages, weight, version and limits.
    List {
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
        /// One JSON object per plugin per line.
        #[arg(long)]
        json: bool,
    },
    /// Run one plugin on one message and show its verdict at each stage it wants, the time
    /// taken, its peak memory and its stderr. The envelope comes from the message as in
    /// `moat check`; kv starts empty in a scratch data dir unless --data-dir.
    Test(TestArgs),
}

/// Runs the plugin command.
pub(super) async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::List { config, json } => list(config, json).await,
        PluginCommand::Test(args) => super::plugin_test::run(args).await,
    }
}

async fn list(args: ConfigArgs, json: bool) -> anyhow::Result<ExitCode> {
    let config = args.load()?;
    // A server running on this data dir: its live set, as reloads have made it.
    if let Err(StoreError::InUse { .. }) = Database::open(&config.server.data_dir) {
        let endpoint = super::target::running_admin(&config)?;
        let response = client::request(&endpoint, hyper::Method::GET, "/plugins").await?;
        if response.status != 200 {
            anyhow::bail!("{}", client::error_text(&response.body));
        }
        let plugins: Vec<serde_json::Value> = serde_json::from_slice(&response.body)?;
        for plugin in &plugins {
            print_plugin(plugin, json);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let scratch = tempfile::tempdir()?;
    let data_dir = args.data_dir.as_deref().unwrap_or(scratch.path());
    ensure_dir(data_dir)?;
    let assembled = assemble(&config, data_dir).await?;
    let failed = report_load_errors(&assembled.load_errors);
    for p in assembled.pipeline.plugins() {
        print_plugin(&p.summary(), json);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One plugin of the list: its summary as a JSON line, or a table row.
fn print_plugin(p: &serde_json::Value, json: bool) {
    if json {
        say!("{p}");
        return;
    }
    let text = |key: &str| p[key].as_str().unwrap_or("-").to_owned();
    let list = |key: &str| {
        let items: Vec<&str> = p[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .collect();
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(",")
        }
    };
    say!(
        "{:<16} {:<12} {:<10} weight {:<5} stages {:<24} capabilities {:<10} budget {}ms  memory {}MiB  on_error {}  source {}",
        text("name"),
        text("plugin"),
        text("version"),
        p["weight"],
        list("stages"),
        list("capabilities"),
        p["time_budget_ms"],
        p["memory_limit"].as_u64().unwrap_or(0) >> 20,
        text("on_error"),
        text("source")
    );
}
