//! `moat bench pipeline`: messages per second through a chain of plugins, each message in
//! fresh sandboxes, on every core. Prints figures; judges nothing.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::task::JoinSet;

use super::super::report_load_errors;
use crate::cli::output::say;
use crate::config::{Config, PluginSettings};
use crate::filter::assemble::assemble;
use crate::filter::pipeline::StageInput;
use crate::filter::{PluginOutcome, SessionContext};
use crate::message::ParsedMessage;

/// `moat bench pipeline` arguments.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// Plugins in the chain: instances of the bundled `headers` plugin, which reads the
    /// headers and the body text of every message and returns symbols.
    #[arg(long, default_value_t = 4)]
    pub plugins: usize,
    /// Message sizes in bytes (suffix k or m allowed).
    #[arg(long, value_delimiter = ',', default_value = "2k,50k,1m")]
    pub sizes: Vec<String>,
    /// How long to measure each size.
    #[arg(long, default_value = "5")]
    pub seconds: u64,
    /// Messages in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

/// Runs the benchmark.
pub(super) async fn run(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::embedded_default()?;
    config.filter.bundled = Some(Vec::new());
    for i in 1..=args.plugins {
        config.plugin.insert(
            format!("headers-{i}"),
            PluginSettings {
                source: Some("bundled:headers".into()),
                ..PluginSettings::default()
            },
        );
    }
    let scratch = tempfile::tempdir()?;
    let assembled = assemble(&config, scratch.path())
        .await
        .context("cannot set up the pipeline")?;
    if report_load_errors(&assembled.load_errors) {
        return Ok(ExitCode::FAILURE);
    }
    let pipeline = Arc::new(assembled.pipeline);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!(
        "pipeline: {} plugins chained (bundled headers), fresh sandbox per plugin per message, {} in flight, {workers} worker threads",
        args.plugins,
        args.concurrency
    );
    say!(
        "{:>8}  {:>10}  {:>12}  {:>10}  {:>10}  {:>14}",
        "size",
        "messages",
        "messages/s",
        "p50 µs",
        "p99 µs",
        "µs/plugin call"
    );
    for size in &args.sizes {
        let bytes = parse_size(size)?;
        let message = Arc::new(synthetic_message(bytes));
        let result = measure(
            &pipeline,
            &message,
            args.concurrency,
            Duration::from_secs(args.seconds),
        )
        .await?;
        let per_call = result.p50.as_secs_f64() * 1e6 / args.plugins.max(1) as f64;
        say!(
            "{:>8}  {:>10}  {:>12.0}  {:>10.0}  {:>10.0}  {:>14.1}",
            size,
            result.messages,
            result.messages as f64 / result.elapsed.as_secs_f64(),
            result.p50.as_secs_f64() * 1e6,
            result.p99.as_secs_f64() * 1e6,
            per_call
        );
    }
    Ok(ExitCode::SUCCESS)
}

struct Measured {
    messages: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn measure(
    pipeline: &Arc<crate::filter::Pipeline>,
    raw: &Arc<Vec<u8>>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    // Warm-up: compile caches, pool slots, page faults.
    for _ in 0..50 {
        one_message(pipeline, raw).await?;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let pipeline = pipeline.clone();
        let raw = raw.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                latencies.push(one_message(&pipeline, &raw).await?);
                // A real session awaits the network between messages; without this a task
                // would run message after message and the others' latency would include
                // its whole streak.
                tokio::task::yield_now().await;
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        latencies.extend(joined??);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| super::latency::quantile(&latencies, q);
    Ok(Measured {
        messages: latencies.len(),
        elapsed,
        p50: at(0.5),
        p99: at(0.99),
    })
}

/// Parses the message and runs the data stage; fails if any plugin failed.
async fn one_message(pipeline: &crate::filter::Pipeline, raw: &[u8]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let message = Arc::new(ParsedMessage::parse(raw.to_vec())?);
    let mut ctx =
        SessionContext::connected(Arc::from("bench"), (Ipv4Addr::new(192, 0, 2, 1), 25).into());
    ctx.client.helo = Some("client.example".into());
    ctx.mail_from = Some("sender@example.org".into());
    ctx.rcpt_to = vec!["user@example.test".into()];
    let results = pipeline
        .run_stage(&mut ctx, &StageInput::Data(message))
        .await;
    for result in &results {
        if let PluginOutcome::Failed { error, .. } = &result.outcome {
            anyhow::bail!(
                "plugin {} failed during the benchmark: {error}",
                result.plugin
            );
        }
    }
    Ok(started.elapsed())
}

fn parse_size(text: &str) -> anyhow::Result<usize> {
    let lower = text.trim().to_ascii_lowercase();
    let (digits, factor) = match lower.strip_suffix('k') {
        Some(d) => (d, 1 << 10),
        None => match lower.strip_suffix('m') {
            Some(d) => (d, 1 << 20),
            None => (lower.as_str(), 1),
        },
    };
    let n: usize = digits
        .parse()
        .with_context(|| format!("`{text}` is not a size such as 2k, 50k or 1m"))?;
    Ok(n * factor)
}

/// A plain-text message of about `size` bytes with ordinary headers.
fn synthetic_message(size: usize) -> Vec<u8> {
    let mut text = String::from(
        "Return-Path: <sender@example.org>\r\nReceived: from client.example (client.example [192.0.2.1])\r\n\tby mx.example.test; Mon, 23 Nov 2026 10:00:00 +0000\r\n\
From: Sender <sender@example.org>\r\nTo: User <user@example.test>\r\nSubject: Quarterly report and meeting notes\r\n\
Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench.1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
    );
    let words = [
        "the", "meeting", "notes", "attached", "project", "report", "budget", "review", "schedule",
        "next", "week", "thanks",
    ];
    let mut i = 0;
    while text.len() < size {
        let _ = write!(text, "{} ", words[i % words.len()]);
        i += 1;
        if i % 12 == 0 {
            text.push_str("\r\n");
        }
    }
    text.push_str("\r\n");
    text.into_bytes()
}
