//! `moat bench queue`: what the queue's size costs the operator's views. It fills a queue
//! in a temporary directory with N messages (through the group committer, as SMTP does),
//! then times reopening it (one read of every envelope, to count them), the counts behind
//! `/metrics` and `moat queue stats` (kept by the writers), and the same counts read from
//! every envelope, which is what a scrape cost before they were kept; then `--passes`
//! operator passes (hold every message, release every message) with the process's
//! resident memory after each, which must stay flat.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;

use super::latency::quantile;
use crate::cli::output::say;
use crate::queue::{NewMessage, OperatorAction, Queue};
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
    /// Hold-and-release passes over every queued message (0: none).
    #[arg(long, default_value_t = 10)]
    pub passes: usize,
}

/// Enqueues at once, so the committer groups them as it does concurrent sessions.
const IN_FLIGHT: usize = 256;

/// Runs the benchmark.
pub(super) async fn run(args: QueueArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let filled = {
        let queue = open(dir.path()).await?;
        fill(&queue, args.messages, args.size).await?
    };
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
    hold_and_release(&queue, args.passes).await?;
    Ok(ExitCode::SUCCESS)
}

/// `passes` times: holds every queued message, then releases every one (as `moat queue
/// hold --all` and `release --all` do, a batch per 1,000), and prints the time and the
/// resident memory after each pass, and the growth from pass 2 (warm) to the last.
async fn hold_and_release(queue: &Queue, passes: usize) -> anyhow::Result<()> {
    if passes == 0 {
        return Ok(());
    }
    let ids = {
        let queue = queue.clone();
        tokio::task::spawn_blocking(move || queue.ids()).await??
    };
    let mut after_second = None;
    let mut last = 0;
    for pass in 1..=passes {
        let started = Instant::now();
        let queue = queue.clone();
        let ids = ids.clone();
        tokio::task::spawn_blocking(move || {
            let now = crate::time::now_ms();
            queue.apply(OperatorAction::Hold, &ids, now)?;
            queue.apply(OperatorAction::Release, &ids, now)
        })
        .await??;
        let elapsed = started.elapsed().as_secs_f64();
        let Some(resident) = super::memory::of("self").map(|memory| memory.resident) else {
            say!("hold and release pass {pass}: {elapsed:.1} s (resident memory: no /proc)");
            continue;
        };
        last = resident;
        if pass == 2 {
            after_second = Some(last);
        }
        say!(
            "hold and release pass {pass}: {elapsed:.1} s, resident {} MiB",
            last >> 20
        );
    }
    if let Some(second) = after_second {
        say!(
            "resident memory after pass {passes} vs pass 2: {:+.1}%",
            (last as f64 / second as f64 - 1.0) * 100.0
        );
    }
    Ok(())
}

/// Queues `messages` messages of `size` bytes, [`IN_FLIGHT`] at once; the time it took.
pub(super) async fn fill(
    queue: &Queue,
    messages: usize,
    size: usize,
) -> anyhow::Result<std::time::Duration> {
    let message = vec![b'x'; size];
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..messages {
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
    Ok(started.elapsed())
}

/// Opens the queue of a database in `dir`.
pub(super) async fn open(dir: &std::path::Path) -> anyhow::Result<Queue> {
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
