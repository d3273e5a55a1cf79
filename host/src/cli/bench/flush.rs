//! `moat bench flush`: how fast a backlog drains once the protected server is back. It
//! fills a queue in a temporary directory with N messages, lets delivery defer every one
//! (the route points at a loopback port where nothing listens), then points the route at
//! Postfix's smtp-sink on loopback, flushes the queue as `moat queue flush` does, and times
//! the queue until it is empty: the real scheduler, workers, SMTP client and group-committed
//! outcomes, no SMTP acceptance and no plugins.

use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cli::output::say;
use crate::config::Config;
use crate::delivery::client::Myself;
use crate::delivery::metrics::DeliveryMetrics;
use crate::delivery::route::{LiveRoutes, RouteTable};
use crate::delivery::{Scheduler, Surroundings};
use crate::queue::{Queue, QueueSummary};
use crate::time::Clock;

/// `moat bench flush` arguments.
#[derive(Debug, clap::Args)]
pub struct FlushArgs {
    /// Messages to queue, defer and flush.
    #[arg(long, default_value_t = 100_000)]
    pub messages: usize,
    /// Bytes per message (`moat bench smtp` sends 20 KB).
    #[arg(long, default_value_t = 20_480)]
    pub size: usize,
}

/// The longest either phase may take before the bench gives up.
const PHASE_LIMIT: Duration = Duration::from_secs(1800);

/// Runs the benchmark.
pub(super) async fn run(args: FlushArgs) -> anyhow::Result<ExitCode> {
    let sink = Sink::start().await?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let queue = super::queue::open(dir.path()).await?;
    let filled = super::queue::fill(&queue, args.messages, args.size).await?;
    say!(
        "queued {} messages of {} bytes in {:.1} s ({:.0} msg/s, no SMTP)",
        args.messages,
        args.size,
        filled.as_secs_f64(),
        args.messages as f64 / filled.as_secs_f64()
    );

    let config = bench_config("127.0.0.1:9")?;
    let routes = Arc::new(LiveRoutes::new(RouteTable::from_config(&config.delivery)?));
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let scheduler = Scheduler::new(
        &config,
        queue.clone(),
        None,
        Arc::clone(&routes),
        shutdown.clone(),
        tracker.clone(),
        Surroundings {
            metrics: DeliveryMetrics::register(&crate::metrics::Registry::new()),
            clock: Clock::system(),
            myself: Myself::listening_on(Vec::new()),
        },
    )?;
    tracker.spawn(scheduler.run());

    let started = Instant::now();
    wait_for(&queue, "every message deferred", |s| {
        s.deferred == args.messages as u64 && s.pending == 0
    })
    .await?;
    let deferred = started.elapsed();
    say!(
        "deferred every message (downstream refusing connections): {:.1} s ({:.0} msg/s)",
        deferred.as_secs_f64(),
        args.messages as f64 / deferred.as_secs_f64()
    );

    routes.replace(RouteTable::from_config(
        &bench_config(&sink.addr.to_string())?.delivery,
    )?);
    let started = Instant::now();
    let flushed = {
        let queue = queue.clone();
        tokio::task::spawn_blocking(move || queue.flush_all(crate::time::now_ms())).await??
    };
    wait_for(&queue, "the queue empty", |s| s.messages == 0).await?;
    let drained = started.elapsed();
    say!(
        "flushed {flushed} deferred messages to smtp-sink: {:.1} s ({:.0} msg/s end to end)",
        drained.as_secs_f64(),
        flushed as f64 / drained.as_secs_f64()
    );
    let stats = queue.stats();
    say!(
        "queue writes: {} updates in {} batches",
        stats.updates,
        stats.update_batches
    );
    shutdown.cancel();
    tracker.close();
    tracker.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The configuration the bench delivers with: the defaults of `[delivery]`, the queued
/// messages' domain routed to `server`.
fn bench_config(server: &str) -> anyhow::Result<Config> {
    let text = format!(
        "[server]\nhostname = \"bench.moat.test\"\n\
         [[delivery.route]]\ndomains = [\"example.org\"]\nservers = [\"{server}\"]\n"
    );
    Ok(Config::parse(&text, "moat bench flush")?)
}

/// Polls the queue's counts until `done` holds (or the phase's time is up).
async fn wait_for(
    queue: &Queue,
    what: &str,
    done: impl Fn(&QueueSummary) -> bool,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if done(&queue.summary()) {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < PHASE_LIMIT,
            "gave up waiting for {what} after {PHASE_LIMIT:?}: {:?}",
            queue.summary()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Postfix's smtp-sink on a free loopback port, killed when dropped.
struct Sink {
    addr: std::net::SocketAddr,
    _child: tokio::process::Child,
}

impl Sink {
    async fn start() -> anyhow::Result<Self> {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let user = std::process::Command::new("id")
            .arg("-un")
            .output()
            .context("cannot run id -un")?;
        let user = String::from_utf8_lossy(&user.stdout).trim().to_owned();
        let path = format!(
            "{}:/usr/sbin:/sbin",
            std::env::var("PATH").unwrap_or_default()
        );
        let child = tokio::process::Command::new("smtp-sink")
            .args(["-u", &user, &addr.to_string(), "256"])
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start smtp-sink (Debian package postfix; ../shared/tools/install-test-tools.sh installs it)")?;
        let started = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(10),
                "smtp-sink did not listen on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            addr,
            _child: child,
        })
    }
}
