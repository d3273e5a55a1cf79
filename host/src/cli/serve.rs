//! `moat serve`: run the gateway until SIGINT/SIGTERM, then stop accepting, answer open
//! sessions `421 4.3.2` at their next read, and wait for messages being processed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reload::{PluginDirSnapshot, Reloader};
use super::{ConfigArgs, background, ensure_dir, report_load_errors};
use crate::filter::assemble::{KV_SYNC_INTERVAL, assemble};
use crate::filter::live::LivePipeline;
use crate::queue::Queue;
use crate::smtp::relay::RelayPolicy;
use crate::smtp::session::SessionParams;
use crate::smtp::{listener, tls};
use crate::store::Database;

/// How long shutdown waits for sessions to finish what they are doing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// `moat serve` arguments.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Development mode: without --config, run on the embedded default (loopback only,
    /// data under ./moat-data or --data-dir, the bundled plugins on); with or without it,
    /// make a self-signed certificate for STARTTLS when none is configured.
    #[arg(long)]
    pub dev: bool,
    /// Config and data dir.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs the gateway.
pub(super) async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !args.dev && args.config.config.is_none() {
        anyhow::bail!(
            "say which configuration to run: --config FILE, or --dev for the embedded default"
        );
    }
    let config = args.config.load()?;
    if config.listener.is_empty() {
        anyhow::bail!("the configuration has no [[listener]]: nothing to serve");
    }
    let data_dir = config.server.data_dir.clone();
    ensure_dir(&data_dir)?;
    let dev_tls_dir = args.dev.then(|| data_dir.join("tls"));
    let tls = tls::server_config(&config.tls, &config.server.hostname, dev_tls_dir.as_deref())?;
    let plugin_dir = PluginDirSnapshot::of(&config);
    let assembled = assemble(&config, &data_dir)
        .await
        .context("cannot start the filter pipeline")?;
    report_load_errors(&assembled.load_errors);
    let queue = Queue::open(assembled.database.clone()).context("cannot open the queue")?;
    let plugins: Vec<String> = assembled
        .pipeline
        .plugins()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let live = Arc::new(LivePipeline::new(assembled.pipeline));
    let reloader = Arc::new(Reloader::new(
        args.config.clone(),
        (
            Arc::clone(&assembled.engine),
            assembled.services.clone(),
            Arc::clone(&assembled.kv),
        ),
        data_dir.clone(),
        Arc::clone(&live),
        tls.as_ref().map(|tls| Arc::clone(&tls.certificate)),
    ));
    let submission = submission_service(&config, &data_dir, tls.is_some())?;
    let params = Arc::new(SessionParams {
        hostname: config.server.hostname.clone(),
        smtp: config.smtp.clone(),
        relay: RelayPolicy::from_config(&config.relay),
        tls: tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.config)),
        pipeline: Arc::clone(&live),
        queue,
        resolver: assembled.services.resolver.clone(),
        sessions: AtomicU64::new(1),
        metrics: crate::metrics::Metrics::new(),
        submission,
    });

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let kv_database = assembled.kv_database.clone();
    let kv_sync = tokio::spawn(sync_kv(kv_database.clone(), shutdown.clone()));
    let mut ready = String::from("moat ready");
    let mut accept_loops = Vec::new();
    for listener_config in &config.listener {
        let socket = TcpListener::bind(listener_config.address)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {} (listener {})",
                    listener_config.address, listener_config.name
                )
            })?;
        let address = socket.local_addr()?;
        tracing::info!(listener = %listener_config.name, %address, "listening");
        ready.push_str(&format!(" {}={address}", listener_config.name));
        accept_loops.push(tokio::spawn(listener::serve(
            socket,
            listener_config.clone(),
            params.clone(),
            shutdown.clone(),
            tracker.clone(),
        )));
    }
    let background = background::start(
        &config,
        &params.queue,
        &reloader,
        &params.metrics,
        params.resolver.as_ref(),
        &shutdown,
        &tracker,
    )
    .await?;
    if let Some(admin) = background.admin {
        ready.push_str(&format!(" admin={admin}"));
    }
    tracing::info!(plugins = ?plugins, data_dir = %data_dir.display(), tls = params.tls.is_some(), "moat ready");
    announce(&format!("{ready} plugins={}", plugins.join(",")));

    tokio::spawn(Arc::clone(&reloader).watch_plugin_dir(plugin_dir, shutdown.clone()));
    wait_for_signal(&reloader).await?;
    tracing::info!("shutting down");
    shutdown.cancel();
    for accept_loop in accept_loops {
        let _ = accept_loop.await;
    }
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            sessions = tracker.len(),
            "sessions still open after the grace period"
        );
    }
    background.stop();
    let _ = kv_sync.await;
    sync_kv_once(&kv_database).await;
    let stats = params.queue.stats();
    tracing::info!(messages = stats.messages, fsyncs = stats.batches, "stopped");
    // A stable last line, as the ready line is first: benchmarks read the fsync count.
    announce(&format!(
        "moat stopped messages={} fsyncs={}",
        stats.messages, stats.batches
    ));
    Ok(ExitCode::SUCCESS)
}

/// Prints one of the server's two stdout lines. A server keeps serving when nobody reads
/// its standard output any more, so a failed write is not an error here.
fn announce(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// The accounts and limits of the submission listeners, when there are any; those
/// listeners need a certificate, since passwords never cross the network in clear.
fn submission_service(
    config: &crate::config::Config,
    data_dir: &std::path::Path,
    have_tls: bool,
) -> anyhow::Result<Option<Arc<crate::auth::Submission>>> {
    let Some(listener) = config.listener.iter().find(|l| l.kind.is_submission()) else {
        return Ok(None);
    };
    if !have_tls {
        anyhow::bail!(
            "listener `{}` is a submission listener and needs TLS: set [tls] certificate and key (or run with --dev for a self-signed one)",
            listener.name
        );
    }
    let submission = crate::auth::Submission::from_config(&config.submission, data_dir)
        .context("cannot read the users file")?;
    tracing::info!(
        users_file = %submission.directory.path().display(),
        accounts = submission.directory.current().user.len(),
        "submission accounts"
    );
    Ok(Some(Arc::new(submission)))
}

/// Forces the plugins' kv database to disk every [`KV_SYNC_INTERVAL`] until `shutdown`.
async fn sync_kv(kv: Database, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(KV_SYNC_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => sync_kv_once(&kv).await,
            () = shutdown.cancelled() => return,
        }
    }
}

/// Forces the plugins' kv database to disk now (off the async workers: fsync blocks).
async fn sync_kv_once(kv: &Database) {
    let db = kv.clone();
    match tokio::task::spawn_blocking(move || db.sync()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "cannot sync the plugins' kv store"),
        Err(error) => tracing::error!(%error, "the kv sync task failed"),
    }
}

/// Waits for SIGTERM or SIGINT; reloads on SIGHUP meanwhile.
async fn wait_for_signal(reloader: &Reloader) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot watch SIGTERM")?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot watch SIGHUP")?;
    loop {
        tokio::select! {
            result = tokio::signal::ctrl_c() => return result.context("cannot watch SIGINT"),
            _ = term.recv() => return Ok(()),
            _ = hangup.recv() => {
                tracing::info!("SIGHUP: reloading");
                if let Err(error) = reloader.reload().await {
                    tracing::error!(%error, "reload refused; the running configuration stays");
                }
            }
        }
    }
}
