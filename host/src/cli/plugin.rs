//! `moat plugin list` and `moat plugin test`: what is loaded, and how one plugin behaves on
//! one message (verdict, time, peak memory, stderr).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;

use super::{ConfigArgs, ensure_dir, report_load_errors};
use crate::cli::output::say;
use crate::config::{Config, PluginSettings};
use crate::control::client;
use crate::filter::assemble::{Assembled, assemble, load_context};
use crate::filter::loader::{load_file, read_side_settings};
use crate::filter::pipeline::{CallReport, StageInput};
use crate::filter::plugin::LoadedPlugin;
use crate::filter::{Pipeline, SessionContext, Stage, Verdict};
use crate::message::{MessageHandle, ParsedMessage};
use crate::store::{Database, FjallKv, StoreError};

/// `moat plugin ...`
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// The plugins the configuration loads: version, stages, weights, limits.
    List {
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
        /// One JSON object per plugin per line.
        #[arg(long)]
        json: bool,
    },
    /// Run one plugin on one message and show its verdict at each stage it wants, the time
    /// taken, its peak memory and its stderr. Uses a scratch data dir unless --data-dir.
    Test {
        /// The plugin component.
        wasm: PathBuf,
        /// The message.
        message: PathBuf,
        /// Plugin settings (default: NAME.toml beside the .wasm, if any).
        #[arg(long, value_name = "FILE")]
        settings: Option<PathBuf>,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the plugin command.
pub(super) async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::List { config, json } => list(config, json).await,
        PluginCommand::Test {
            wasm,
            message,
            settings,
            config,
            json,
        } => test(wasm, message, settings, config, json).await,
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
    let stages: Vec<&str> = p["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect();
    say!(
        "{:<16} {:<12} {:<10} weight {:<5} stages {:<24} budget {}ms  memory {}MiB  on_error {}  source {}",
        text("name"),
        text("plugin"),
        text("version"),
        p["weight"],
        stages.join(","),
        p["time_budget_ms"],
        p["memory_limit"].as_u64().unwrap_or(0) >> 20,
        text("on_error"),
        text("source")
    );
}

/// `moat plugin test`: loads the `.wasm` file alone (no bundled plugins) and runs it on
/// the message at every stage it wants; fails when a call failed.
async fn test(
    wasm: PathBuf,
    message: PathBuf,
    settings: Option<PathBuf>,
    args: ConfigArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let mut config = args.load()?;
    config.filter.bundled = Some(Vec::new());
    let scratch = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());
    ensure_dir(&data_dir)?;
    let assembled = assemble(&config, &data_dir).await?;
    let plugin = Arc::new(load_tested(&assembled, &config, &data_dir, &wasm, settings).await?);
    let raw =
        std::fs::read(&message).with_context(|| format!("cannot read {}", message.display()))?;
    let parsed = Arc::new(ParsedMessage::parse(raw)?);
    let pipeline = Pipeline::new(
        assembled.engine.clone(),
        vec![plugin.clone()],
        config.thresholds,
        1,
    );
    if !json {
        say!(
            "plugin {} {} (sdk {}), stages {:?}, default weight {}",
            plugin.info.name,
            plugin.info.version,
            plugin.info.sdk_version,
            plugin.stages,
            plugin.info.default_weight
        );
    }
    let failed = run_stages(&pipeline, &plugin, &parsed, json).await;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Calls `plugin` at each stage it wants, in SMTP order, in one [`test_session`] that
/// collects its annotations as a real session would, and prints each report; returns
/// whether a call failed.
async fn run_stages(
    pipeline: &Pipeline,
    plugin: &LoadedPlugin,
    message: &MessageHandle,
    json: bool,
) -> bool {
    let mut session = test_session();
    let mut failed = false;
    for stage in [
        Stage::Connect,
        Stage::Helo,
        Stage::MailFrom,
        Stage::RcptTo,
        Stage::Data,
    ] {
        if !plugin.wants(stage) {
            continue;
        }
        let input = match stage {
            Stage::Connect => StageInput::Connect,
            Stage::Helo => StageInput::Helo,
            Stage::MailFrom => StageInput::MailFrom,
            Stage::RcptTo => StageInput::RcptTo(TEST_RECIPIENT.into()),
            _ => StageInput::Data(message.clone()),
        };
        let report = pipeline.call_stage(plugin, &session, &input).await;
        failed |= report.result.is_err();
        if json {
            print_stage_json(stage, &report);
        } else {
            print_stage_text(stage, &report);
        }
        if let Ok(v) = &report.result {
            session.annotations.extend(v.annotations.iter().cloned());
        }
    }
    failed
}

/// The recipient of the test session.
const TEST_RECIPIENT: &str = "postmaster@localhost";

/// Loads the `.wasm` file under test as a plugin named after its file, with the settings
/// of `settings` (default: `NAME.toml` beside it, if there is one) and a kv namespace in
/// `assembled`'s kv database.
async fn load_tested(
    assembled: &Assembled,
    config: &Config,
    data_dir: &Path,
    wasm: &Path,
    settings: Option<PathBuf>,
) -> anyhow::Result<LoadedPlugin> {
    let side = settings.unwrap_or_else(|| wasm.with_extension("toml"));
    let plugin_settings = if side.exists() {
        read_side_settings(&side)?
    } else {
        PluginSettings::default()
    };
    let name = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let kv = FjallKv::new(assembled.kv_database.clone());
    let ctx = load_context(
        &assembled.engine,
        &assembled.services,
        &kv,
        config,
        data_dir,
    );
    Ok(load_file(&ctx, config, &name, wasm, plugin_settings).await?)
}

/// The session the plugin is tested in: a loopback client that said HELO localhost and
/// sends a bounce (empty sender) to [`TEST_RECIPIENT`].
fn test_session() -> SessionContext {
    let mut session =
        SessionContext::connected(Arc::from("plugin-test"), (Ipv4Addr::LOCALHOST, 0).into());
    session.client.helo = Some("localhost".into());
    session.mail_from = Some(String::new());
    session.rcpt_to = vec![TEST_RECIPIENT.into()];
    session
}

/// One stage's result as a JSON line: the verdict (or the failure), time, peak memory and
/// stderr.
fn print_stage_json(stage: Stage, report: &CallReport<Verdict>) {
    let elapsed_us = report.elapsed.as_micros() as u64;
    let verdict = match &report.result {
        Ok(v) => json!({
            "symbols": v.symbols, "action": v.action, "annotations": v.annotations,
        }),
        Err(e) => json!({ "error": e.to_string(), "kind": e.kind() }),
    };
    say!(
        "{}",
        json!({ "stage": stage.as_str(), "verdict": verdict, "elapsed_us": elapsed_us, "peak_memory": report.peak_memory, "stderr": report.stderr })
    );
}

/// One stage's result as text: a heading with time and peak memory, then the symbols,
/// demanded action and annotations (or the failure), then stderr.
fn print_stage_text(stage: Stage, report: &CallReport<Verdict>) {
    say!(
        "\nstage {}: {} µs, peak memory {} KiB",
        stage.as_str(),
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
