//! `moat bench pipeline`: messages per second, and CPU time per message, through a chain
//! of plugins on every core: N copies of the `headers` plugin at the data stage, or
//! (`--bundled`) the bundled plugins at every stage a session runs. Prints figures; judges
//! nothing.

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
    /// Run the bundled plugins of the embedded default instead (as `moat serve --dev`
    /// loads them), each message through every stage of a session of its own: connect,
    /// HELO, MAIL, RCPT and data. Sender authentication is not run.
    #[arg(long)]
    pub bundled: bool,
    /// With `--bundled`: where the plugins' DNS lookups go (a local resolver, such as the
    /// side-by-side bench's). Without it, to a responder on loopback inside the bench
    /// that answers every question NXDOMAIN (listed nowhere): no question leaves the
    /// machine.
    #[arg(long, value_name = "ADDR")]
    pub dns: Option<std::net::SocketAddr>,
    /// Measure this message instead of synthetic ones of `--sizes`.
    #[arg(long, value_name = "FILE")]
    pub message: Option<std::path::PathBuf>,
}

/// The chain under test: its pipeline, and what the header line says of it.
struct Chain {
    pipeline: Arc<crate::filter::Pipeline>,
    described: String,
    /// Calls per message, for the per-call figure.
    stages: bool,
    plugins: usize,
    /// Kept until the end: the plugins' data dir.
    _scratch: tempfile::TempDir,
}

/// Runs the benchmark.
pub(super) async fn run(args: PipelineArgs) -> anyhow::Result<ExitCode> {
    let Some(chain) = chain(&args).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let chain = Arc::new(chain);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    say!(
        "pipeline: {}, fresh sandbox per plugin per call, {} in flight, {workers} worker threads",
        chain.described,
        args.concurrency
    );
    say!(
        "{:>8}  {:>10}  {:>12}  {:>10}  {:>10}  {:>14}  {:>12}",
        "size",
        "messages",
        "messages/s",
        "p50 µs",
        "p99 µs",
        "µs/plugin call",
        "CPU µs/msg"
    );
    for (label, raw) in messages(&args)? {
        let message = Arc::new(raw);
        let cpu_before = process_cpu();
        let result = measure(
            &chain,
            &message,
            args.concurrency,
            Duration::from_secs(args.seconds),
        )
        .await?;
        let cpu = process_cpu().saturating_sub(cpu_before);
        let per_call = result.p50.as_secs_f64() * 1e6 / chain.plugins.max(1) as f64;
        say!(
            "{:>8}  {:>10}  {:>12.0}  {:>10.0}  {:>10.0}  {:>14.1}  {:>12.0}",
            label,
            result.messages,
            result.messages as f64 / result.elapsed.as_secs_f64(),
            result.p50.as_secs_f64() * 1e6,
            result.p99.as_secs_f64() * 1e6,
            per_call,
            cpu.as_secs_f64() * 1e6 / result.counted.max(1) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the chain `args` asks for; `None` when a plugin did not load (said on stderr).
async fn chain(args: &PipelineArgs) -> anyhow::Result<Option<Chain>> {
    let mut config = Config::embedded_default()?;
    let described = if args.bundled {
        let dns = match args.dns {
            Some(address) => address,
            None => nxdomain_responder().await?,
        };
        config.dns.nameservers = vec![dns];
        format!("the bundled plugins at every stage (DNS to {dns})")
    } else {
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
        format!("{} plugins chained (bundled headers)", args.plugins)
    };
    let scratch = tempfile::tempdir()?;
    let assembled = assemble(&config, scratch.path())
        .await
        .context("cannot set up the pipeline")?;
    if report_load_errors(&assembled.load_errors) {
        return Ok(None);
    }
    let plugins = assembled.pipeline.plugins().len();
    Ok(Some(Chain {
        pipeline: Arc::new(assembled.pipeline),
        described,
        stages: args.bundled,
        plugins,
        _scratch: scratch,
    }))
}

/// The messages to measure, each with its label: the `--message` file, or one synthetic
/// message per `--sizes` entry.
fn messages(args: &PipelineArgs) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    if let Some(path) = &args.message {
        let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(vec![(format!("{}B", raw.len()), raw)]);
    }
    args.sizes
        .iter()
        .map(|size| Ok((size.clone(), synthetic_message(parse_size(size)?))))
        .collect()
}

/// Starts a DNS responder on a loopback UDP port that answers every question NXDOMAIN,
/// and returns its address. It runs until the process ends.
async fn nxdomain_responder() -> anyhow::Result<std::net::SocketAddr> {
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let address = socket.local_addr()?;
    tokio::spawn(async move {
        let mut buffer = [0_u8; 512];
        while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
            if let Some(answer) = nxdomain(&buffer[..len]) {
                let _ = socket.send_to(&answer, from).await;
            }
        }
    });
    Ok(address)
}

/// The NXDOMAIN answer to the DNS query `query` (its id and question echoed), or `None`
/// if it is not a query with one question.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    let is_query = header[2] & 0x80 == 0;
    if !is_query || header[4..6] != [0, 1] {
        return None;
    }
    crate::dns::handmade::answer_to(query, 0, 3, 0)
}

/// The CPU time this process has used so far, user and system.
fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

struct Measured {
    messages: usize,
    /// Messages run in the measured window, warm-up included (the CPU time covers it).
    counted: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn measure(
    chain: &Arc<Chain>,
    raw: &Arc<Vec<u8>>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    // Warm-up: compile caches, pool slots, page faults.
    for _ in 0..WARM_UP {
        one_message(chain, raw).await?;
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let chain = Arc::clone(chain);
        let raw = raw.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                latencies.push(one_message(&chain, &raw).await?);
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
        counted: latencies.len() + WARM_UP,
        elapsed,
        p50: at(0.5),
        p99: at(0.99),
    })
}

/// Messages run before measuring: compile caches, pool slots, page faults.
const WARM_UP: usize = 50;

/// Runs one message through the chain, as a session would; fails if any plugin failed.
async fn one_message(chain: &Chain, raw: &[u8]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut ctx =
        SessionContext::connected(Arc::from("bench"), (Ipv4Addr::new(192, 0, 2, 1), 25).into());
    let recipient = "user@example.test".to_owned();
    let pipeline = &chain.pipeline;
    if chain.stages {
        check(pipeline.run_stage(&mut ctx, &StageInput::Connect).await)?;
    }
    ctx.client.helo = Some("client.example".into());
    if chain.stages {
        check(pipeline.run_stage(&mut ctx, &StageInput::Helo).await)?;
    }
    ctx.mail_from = Some("sender@example.org".into());
    if chain.stages {
        check(pipeline.run_stage(&mut ctx, &StageInput::MailFrom).await)?;
        let rcpt = StageInput::RcptTo(recipient.clone());
        check(pipeline.run_stage(&mut ctx, &rcpt).await)?;
    }
    ctx.rcpt_to = vec![recipient];
    let message = Arc::new(ParsedMessage::parse(raw.to_vec())?);
    check(
        pipeline
            .run_stage(&mut ctx, &StageInput::Data(message))
            .await,
    )?;
    Ok(started.elapsed())
}

/// Fails if a plugin failed: a benchmark of failures measures nothing.
fn check(results: Vec<crate::filter::PluginResult>) -> anyhow::Result<()> {
    for result in &results {
        if let PluginOutcome::Failed { error, .. } = &result.outcome {
            anyhow::bail!(
                "plugin {} failed during the benchmark: {error}",
                result.plugin
            );
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_responder_answers_a_query_nxdomain_with_its_id_and_question() {
        // id 0x1234, RD; one question: 2.0.0.127.zen.example A IN.
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in ["2", "0", "0", "127", "zen", "example"] {
            query.push(label.len() as u8);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        let answer = nxdomain(&query).expect("answered");
        assert_eq!(answer[..2], [0x12, 0x34]);
        assert_eq!(answer[2], 0x81, "a response, recursion desired as asked");
        assert_eq!(answer[3] & 0x0f, 3, "NXDOMAIN");
        assert_eq!(answer[4..12], [0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(answer[12..], query[12..]);
        // A response, or a truncated question, gets no answer.
        let mut response = query.clone();
        response[2] |= 0x80;
        assert!(nxdomain(&response).is_none());
        assert!(nxdomain(&query[..20]).is_none());
    }
}
