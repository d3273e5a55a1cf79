//! `moat learn`: teach the plugins that learn (the bundled bayes, any plugin exporting
//! `learn`) which messages are spam and which ham, unlearn them, and show what they have
//! learnt. Works on the data directory directly, so the server must not be running on
//! it (fjall allows one process per database).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{ConfigArgs, ensure_dir, learn_remote, report_load_errors};
use crate::cli::output::say;
use crate::decisions::{Entry, LabelEvent, Truth, append_now};
use crate::filter::assemble::assemble;
use crate::filter::pipeline::{Label, LearnOutcome, Pipeline, STATS_PREFIX};
use crate::filter::plugin::LoadedPlugin;
use crate::message::mailbox::{StoredMessage, UnreadableFile, messages_under};
use crate::message::{MessageHandle, ParsedMessage};
use crate::store::{Database, StoreError};

/// `moat learn` arguments.
#[derive(Debug, clap::Args)]
#[command(
    override_usage = "moat learn [OPTIONS] spam|ham PATH...\n       moat learn [OPTIONS] --forget PATH...\n       moat learn [OPTIONS] stats"
)]
pub struct LearnArgs {
    /// Config and data dir (the training is stored in the plugins' kv namespaces there).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Unlearn the messages, whatever they were learnt as.
    #[arg(long)]
    pub forget: bool,
    /// Teach only this plugin instance (default: every plugin that learns).
    #[arg(long, value_name = "NAME")]
    pub plugin: Option<String>,
    /// `spam` or `ham` and then message files, directories of them, or mbox files;
    /// `stats` for what the plugins have learnt; with --forget, only the messages.
    #[arg(required = true, value_name = "WHAT")]
    pub words: Vec<OsString>,
}

/// What the command was asked to do.
enum Request {
    Learn { label: Label, paths: Vec<PathBuf> },
    Forget { paths: Vec<PathBuf> },
    Stats,
}

impl LearnArgs {
    fn request(&self) -> anyhow::Result<Request> {
        let paths = |words: &[OsString]| -> anyhow::Result<Vec<PathBuf>> {
            if words.is_empty() {
                bail!("no messages given: name files, directories or mbox files");
            }
            Ok(words.iter().map(PathBuf::from).collect())
        };
        if self.forget {
            return Ok(Request::Forget {
                paths: paths(&self.words)?,
            });
        }
        let (first, rest) = self.words.split_first().context("say spam, ham or stats")?;
        match first.to_str() {
            Some("spam") => Ok(Request::Learn {
                label: Label::Spam,
                paths: paths(rest)?,
            }),
            Some("ham") => Ok(Request::Learn {
                label: Label::Ham,
                paths: paths(rest)?,
            }),
            Some("stats") if rest.is_empty() => Ok(Request::Stats),
            Some("stats") => bail!("`moat learn stats` takes no paths"),
            _ => bail!(
                "`{}` is not spam, ham or stats (to unlearn, use --forget PATH...)",
                first.to_string_lossy()
            ),
        }
    }
}

/// A learning plugin's tally.
#[derive(Default)]
pub(super) struct Tally {
    done: usize,
    unchanged: usize,
    failed: usize,
    busy: Duration,
}

/// Runs the command.
pub(super) async fn run(args: LearnArgs) -> anyhow::Result<ExitCode> {
    let request = args.request()?;
    let config = args.config.load()?;
    ensure_dir(&config.server.data_dir)?;
    // While the server runs, it holds the data dir: teach its live plugins instead.
    if let Err(StoreError::InUse { .. }) = Database::open(&config.server.data_dir) {
        let endpoint = super::target::running_admin(&config)?;
        let plugin = args.plugin.as_deref();
        return match request {
            Request::Stats => learn_remote::stats(&endpoint).await,
            Request::Learn { label, paths } => {
                learn_remote::teach(&endpoint, &paths, label, false, plugin).await
            }
            Request::Forget { paths } => {
                learn_remote::teach(&endpoint, &paths, Label::Spam, true, plugin).await
            }
        };
    }
    let assembled = assemble(&config, &config.server.data_dir).await.context(
        "cannot set up the filter pipeline (is `moat serve` running on this data directory?)",
    )?;
    report_load_errors(&assembled.load_errors);
    let pipeline = &assembled.pipeline;
    let plugins: Vec<&Arc<LoadedPlugin>> = pipeline
        .plugins()
        .iter()
        .filter(|p| args.plugin.as_ref().is_none_or(|name| &p.name == name))
        .collect();
    if plugins.is_empty() {
        bail!(
            "no plugin named {} is loaded",
            args.plugin.as_deref().unwrap_or("(any)")
        );
    }
    let log = config
        .decisions
        .enabled
        .then(|| crate::decisions::log_dir(&config.server.data_dir));
    let code = match request {
        Request::Stats => {
            stats(&plugins)?;
            ExitCode::SUCCESS
        }
        Request::Learn { label, paths } => {
            teach(pipeline, &plugins, &paths, label, false, log.as_deref()).await?
        }
        Request::Forget { paths } => {
            teach(
                pipeline,
                &plugins,
                &paths,
                Label::Spam,
                true,
                log.as_deref(),
            )
            .await?
        }
    };
    assembled
        .kv_database
        .sync()
        .context("cannot write the training to disk")?;
    Ok(code)
}

/// Teaches every message under `paths` to each plugin, skipping plugins once they answer
/// that they do not learn.
async fn teach(
    pipeline: &Pipeline,
    plugins: &[&Arc<LoadedPlugin>],
    paths: &[PathBuf],
    label: Label,
    forget: bool,
    decision_log: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut learners: Vec<(&Arc<LoadedPlugin>, Tally)> =
        plugins.iter().map(|p| (*p, Tally::default())).collect();
    let mut unreadable = 0;
    let started = Instant::now();
    let mut messages = 0;
    let now = crate::time::now_ms();
    let truth = (!forget).then_some(Truth::from(label));
    let mut labels = Vec::new();
    for found in messages_under(paths)? {
        let Some((origin, parsed)) = parse_found(found) else {
            unreadable += 1;
            continue;
        };
        messages += 1;
        teach_one(pipeline, &mut learners, &origin, &parsed, label, forget).await;
        labels.extend(Entry::Label(LabelEvent::learnt(&parsed, truth, now)).to_line());
    }
    if let Some(dir) = decision_log {
        // The operator's word on these messages, for `moat replay` and `moat tune`.
        append_now(dir, &labels, now)
            .with_context(|| format!("cannot record the labels in {}", dir.display()))?;
    }
    if learners.is_empty() {
        bail!("none of the loaded plugins learns");
    }
    print_summary(&learners, messages, unreadable, started.elapsed(), forget);
    let failed = unreadable > 0 || learners.iter().any(|(_, t)| t.failed > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The message found under the paths, parsed, with its origin; `None`, said on stderr,
/// when its file could not be read or it is not a message.
fn parse_found(found: Result<StoredMessage, UnreadableFile>) -> Option<(String, MessageHandle)> {
    let message = match found {
        Ok(message) => message,
        Err(unreadable_file) => {
            eprintln!("moat: {}", unreadable_file.error);
            return None;
        }
    };
    match ParsedMessage::parse(message.raw) {
        Ok(parsed) => Some((message.origin, MessageHandle::new(parsed))),
        Err(error) => {
            eprintln!("moat: {}: not a message: {error}", message.origin);
            None
        }
    }
}

/// Teaches one message to each learner and counts the outcome in its tally; a plugin that
/// answers that it does not learn leaves `learners`.
pub(super) async fn teach_one(
    pipeline: &Pipeline,
    learners: &mut Vec<(&Arc<LoadedPlugin>, Tally)>,
    origin: &str,
    message: &MessageHandle,
    label: Label,
    forget: bool,
) {
    let mut index = 0;
    while index < learners.len() {
        let (plugin, tally) = &mut learners[index];
        let report = pipeline.learn(plugin, message.clone(), label, forget).await;
        tally.busy += report.elapsed;
        match report.result {
            Ok(Ok(LearnOutcome::Done)) => tally.done += 1,
            Ok(Ok(LearnOutcome::Unchanged)) => tally.unchanged += 1,
            Ok(Ok(LearnOutcome::Unsupported)) => {
                learners.remove(index);
                continue;
            }
            Ok(Err(reason)) => {
                eprintln!("moat: {origin}: {} refused: {reason}", plugin.name);
                tally.failed += 1;
            }
            Err(error) => {
                eprintln!("moat: {origin}: {} failed: {error}", plugin.name);
                tally.failed += 1;
            }
        }
        index += 1;
    }
}

/// Prints each learner's tally and rate, then the number of messages, the time taken and
/// how many could not be read.
fn print_summary(
    learners: &[(&Arc<LoadedPlugin>, Tally)],
    messages: usize,
    unreadable: usize,
    elapsed: Duration,
    forget: bool,
) {
    let verb = if forget { "forgotten" } else { "learnt" };
    for (plugin, tally) in learners {
        say!(
            "{}: {} {verb}, {} unchanged, {} failed ({:.0} messages/s)",
            plugin.name,
            tally.done,
            tally.unchanged,
            tally.failed,
            (tally.done + tally.unchanged + tally.failed) as f64
                / tally.busy.as_secs_f64().max(1e-9)
        );
    }
    say!(
        "{messages} messages in {:.1} s{}",
        elapsed.as_secs_f64(),
        if unreadable > 0 {
            format!(", {unreadable} unreadable")
        } else {
            String::new()
        }
    );
}

/// Prints each plugin's `stats:` counters and the size of its kv namespace.
fn stats(plugins: &[&Arc<LoadedPlugin>]) -> anyhow::Result<()> {
    let mut shown = 0;
    for plugin in plugins {
        let Some(kv) = plugin.host.kv.as_ref() else {
            continue;
        };
        let counters = kv
            .scan_prefix(STATS_PREFIX, None, 1000)
            .with_context(|| format!("cannot read {}'s store", plugin.name))?;
        if counters.is_empty() {
            continue;
        }
        shown += 1;
        say!("{}: {} keys", plugin.name, kv.len().unwrap_or_default());
        for (key, value) in counters {
            let name = key.strip_prefix(STATS_PREFIX).unwrap_or(&key);
            match <[u8; 8]>::try_from(value.as_slice()) {
                Ok(bytes) => say!("  {name:<24} {}", i64::from_le_bytes(bytes)),
                Err(_) => say!("  {name:<24} {}", String::from_utf8_lossy(&value)),
            }
        }
    }
    if shown == 0 {
        say!("no plugin has learnt anything yet");
    }
    Ok(())
}
