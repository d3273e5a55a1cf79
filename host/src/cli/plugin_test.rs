//! `moat plugin test`: one plugin on one message, as the gateway would call it. The
//! envelope is the one `moat check` takes from the message (`check_envelope.rs`: the
//! client its Received chain names, Return-Path, To and Cc), with the same `--ip`,
//! `--helo`, `--from` and `--rcpt` overrides; the session grows stage by stage as an SMTP
//! session's does. The plugin has the capabilities of its settings file plus `--grant`,
//! and its kv namespace lives in a scratch data dir, forgotten after the run, unless
//! `--data-dir` names one to keep it in. Printing is `plugin_test_print.rs`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::check_client::relays_with_loopback;
use super::check_envelope::{CheckedEnvelope, EnvelopeOverrides};
use super::plugin_test_print::{Header, KvPlace, print_header, print_stage};
use super::{ConfigArgs, ensure_dir};
use crate::config::{Config, PluginSettings};
use crate::filter::assemble::{Assembled, assemble, load_context};
use crate::filter::loader::{load_file, read_side_settings};
use crate::filter::pipeline::StageInput;
use crate::filter::plugin::LoadedPlugin;
use crate::filter::{Capability, Pipeline, SessionContext};
use crate::message::{MessageHandle, ParsedMessage};

/// `moat plugin test` arguments.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The plugin component.
    pub wasm: PathBuf,
    /// The message.
    pub message: PathBuf,
    /// Plugin settings (default: NAME.toml beside the .wasm, if any).
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Capabilities to grant on top of those in the settings, a comma list of dns, kv and
    /// ocr (`--grant kv,dns`).
    #[arg(long, value_name = "CAPABILITIES", value_delimiter = ',')]
    pub grant: Vec<Capability>,
    /// The client and envelope (default: what the message says, as `moat check` takes it).
    #[command(flatten)]
    pub envelope: EnvelopeOverrides,
    /// Config and data dir. Without --data-dir, kv starts empty in a scratch data dir that
    /// is forgotten after the run; with it, kv is read from and kept in DIR/kv.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// JSON lines instead of text: the envelope and grants first, then one per stage.
    #[arg(long)]
    pub json: bool,
}

/// Loads the `.wasm` file alone (no bundled plugins) and runs it on the message at every
/// stage it wants; fails when a call failed.
pub(super) async fn run(args: TestArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.config.load()?;
    config.filter.bundled = Some(Vec::new());
    let scratch = tempfile::tempdir()?;
    let data_dir = args
        .config
        .data_dir
        .clone()
        .unwrap_or_else(|| scratch.path().to_owned());
    ensure_dir(&data_dir)?;
    let assembled = assemble(&config, &data_dir).await?;
    let (settings, settings_file) = tested_settings(&args)?;
    let plugin = Arc::new(load_tested(&assembled, &config, &data_dir, &args.wasm, settings).await?);
    let raw = std::fs::read(&args.message)
        .with_context(|| format!("cannot read {}", args.message.display()))?;
    let message = Arc::new(ParsedMessage::parse(raw)?);
    let relays = relays_with_loopback(&config.relay.trusted_relays)?;
    let envelope = args.envelope.envelope_of(&message, &relays);
    let kv = match (plugin.host.kv.is_some(), &args.config.data_dir) {
        (false, _) => KvPlace::NotGranted,
        (true, None) => KvPlace::Scratch,
        (true, Some(dir)) => KvPlace::Kept(dir.clone()),
    };
    print_header(
        &Header {
            plugin: &plugin,
            wasm: &args.wasm,
            settings: settings_file.as_deref(),
            envelope: &envelope,
            kv: &kv,
        },
        args.json,
    );
    let pipeline = Pipeline::new(
        assembled.engine.clone(),
        vec![plugin.clone()],
        config.thresholds,
        1,
    );
    let failed = run_stages(&pipeline, &plugin, &envelope, &message, args.json).await;
    if matches!(kv, KvPlace::Kept(_)) {
        assembled
            .kv_database
            .sync()
            .context("cannot write the plugin's kv state to disk")?;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The tested plugin's settings: its settings file's (`--settings`, which must exist, else
/// `NAME.toml` beside the `.wasm` if there is one) with `--grant`'s capabilities added;
/// and the file they came from.
fn tested_settings(args: &TestArgs) -> anyhow::Result<(PluginSettings, Option<PathBuf>)> {
    let file = match &args.settings {
        Some(given) => Some(given.clone()),
        None => Some(args.wasm.with_extension("toml")).filter(|side| side.exists()),
    };
    let mut settings = match &file {
        Some(path) => read_side_settings(path)?,
        None => PluginSettings::default(),
    };
    let capabilities = settings.capabilities.get_or_insert_with(Vec::new);
    for capability in &args.grant {
        if !capabilities.contains(capability) {
            capabilities.push(*capability);
        }
    }
    Ok((settings, file))
}

/// Loads the `.wasm` file under test with `settings`, under the name it gives itself in
/// `describe()` (its kv namespace and its `[plugin.NAME]` section in a gateway): it is
/// asked first without its grants, so that no kv namespace is opened under another name.
async fn load_tested(
    assembled: &Assembled,
    config: &Config,
    data_dir: &Path,
    wasm: &Path,
    settings: PluginSettings,
) -> anyhow::Result<LoadedPlugin> {
    let ctx = load_context(
        &assembled.engine,
        &assembled.services,
        &*assembled.kv,
        config,
        data_dir,
    );
    let stem = wasm
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    let ungranted = PluginSettings {
        capabilities: None,
        ..settings.clone()
    };
    let probe = load_file(&ctx, config, &stem, wasm, ungranted).await?;
    let name = probe.info.name.clone();
    if name == stem && settings.capabilities.as_ref().is_none_or(Vec::is_empty) {
        return Ok(probe);
    }
    Ok(load_file(&ctx, config, &name, wasm, settings).await?)
}

/// Calls `plugin` at each stage it wants, in SMTP order, in one session that grows as an
/// SMTP session's does (HELO name, then sender, then each recipient once its stage is
/// over) and collects its annotations; prints each report; returns whether a call failed.
async fn run_stages(
    pipeline: &Pipeline,
    plugin: &LoadedPlugin,
    envelope: &CheckedEnvelope,
    message: &MessageHandle,
    json: bool,
) -> bool {
    let client = &envelope.client;
    let mut session = SessionContext::connected(Arc::from("plugin-test"), (client.ip, 0).into());
    session.client.reverse_dns = client.reverse_dns.clone();
    let mut failed = false;
    for input in stage_inputs(envelope, message) {
        match &input {
            StageInput::Helo => session.client.helo = Some(client.helo.clone()),
            StageInput::MailFrom => session.mail_from = Some(envelope.mail_from.clone()),
            _ => {}
        }
        if plugin.wants(input.stage()) {
            let report = pipeline.call_stage(plugin, &session, &input).await;
            failed |= report.result.is_err();
            print_stage(&input, &report, json);
            if let Ok(v) = &report.result {
                session.annotations.extend(v.annotations.iter().cloned());
            }
        }
        if let StageInput::RcptTo(recipient) = input {
            session.rcpt_to.push(recipient);
        }
    }
    failed
}

/// The stages of one message's session in order: one `rcpt_to` per recipient.
fn stage_inputs(envelope: &CheckedEnvelope, message: &MessageHandle) -> Vec<StageInput> {
    let mut inputs = vec![StageInput::Connect, StageInput::Helo, StageInput::MailFrom];
    inputs.extend(envelope.rcpt_to.iter().cloned().map(StageInput::RcptTo));
    inputs.push(StageInput::Data(message.clone()));
    inputs
}
