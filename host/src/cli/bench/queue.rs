//! `moat bench queue`: what the queue's size costs the operator's views. It fills a queue
//! in a temporary directory with N messages (through the group committer, as SMTP does),
//! then times reopening it (one read of every envelope, to count them), the counts behind
//! `/metrics` and `moat queue stats` (kept by the writers), and the same counts read from
//! every envelope, which is what a scrape cost before they were kept.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use super::latency::quantile;
use crate::cli::output::say;
use crate::queue::{NewMessage, Queue};
use crate::store::Database;

/// `moat bench queue` arguments.
#[derive(Debug, clap::Args)]
pub struct QueueArgs {
    /// Messages to queue.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Bytes per message.
    #[arg(long, default_value_t = 2048)]
    pub size: usize,
}

/// Enqueues at once, so the committer groups them as it does concurrent sessions.
const IN_FLIGHT: usize = 256;

/// Runs the benchmark.
pub(super) async fn run(args: QueueArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let message = vec![b'x'; args.size];
    let started = Instant::now();
    {
        let queue = open(dir.path()).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..args.messages {
            if tasks.len() >= IN_FLIGHT
                && let Some(done) = tasks.join_next().await
            {
                done??;
            }
            let queue = queue.clone();
            let message = message.clone();
            tasks.spawn(async move {
                queue
                    .enqueue(envelope(n), message)
                    .await
                    .map(|_| ())
                    .context("enqueue")
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
    }
    let filled = started.elapsed();
    say!(
        "queued {} messages of {} bytes in {:.1} s ({:.0} msg/s)",
        args.messages,
        args.size,
        filled.as_secs_f64(),
        args.messages as f64 / filled.as_secs_f64()
    );

    let started = Instant::now();
    let queue = open(dir.path()).await?;
    say!(
        "reopening (counts every envelope once): {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let mut kept = Vec::new();
    for _ in 0..1000 {
        let one = Instant::now();
        std::hint::black_box(queue.summary());
        kept.push(one.elapsed());
    }
    kept.sort();
    let summary = queue.summary();
    let mut recounts = Vec::new();
    for _ in 0..3 {
        let queue = queue.clone();
        let one = Instant::now();
        let recount = tokio::task::spawn_blocking(move || queue.recount()).await??;
        recounts.push(one.elapsed());
        anyhow::ensure!(
            recount == summary,
            "kept counts {summary:?} != recount {recount:?}"
        );
    }
    recounts.sort();
    say!(
        "queue counts as /metrics reads them: p50 {:?}, p99 {:?} (1000 reads)",
        quantile(&kept, 0.5),
        quantile(&kept, 0.99)
    );
    say!(
        "the same read from every envelope: median {:.3} s (3 reads, equal counts)",
        quantile(&recounts, 0.5).as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

async fn open(dir: &std::path::Path) -> anyhow::Result<Queue> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let db = Database::open(&dir).context("opening the database")?;
        Queue::open(db).context("opening the queue")
    })
    .await?
}

fn envelope(n: usize) -> NewMessage {
    NewMessage {
        mail_from: format!("sender{n}@example.net"),
        recipients: vec![format!("rcpt{n}@example.org")],
        client_ip: "192.0.2.7".into(),
        helo: "mail.example.net".into(),
        authenticated_user: None,
        smtputf8: false,
        eight_bit_mime: false,
        spam: false,
    }
}
