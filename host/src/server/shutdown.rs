//! The end of a server's life: SIGHUP reloads while it waits, SIGINT or SIGTERM stop it.
//! Stopping closes the listeners, lets sessions finish what they are doing (up to
//! [`SHUTDOWN_GRACE`]), then stops the background tasks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::announce;
use super::reload::Reloader;
use super::startup::Server;

/// How long shutdown waits for sessions to finish what they are doing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl Server {
    /// Serves until SIGINT or SIGTERM (reloading on SIGHUP and when the plugin directory
    /// changes), then stops.
    pub(super) async fn serve_until_signalled(self) -> anyhow::Result<()> {
        tokio::spawn(
            Arc::clone(&self.reloader)
                .watch_plugin_dir(self.plugin_dir.clone(), self.shutdown.clone()),
        );
        wait_for_signal(&self.reloader).await?;
        self.stop().await;
        Ok(())
    }

    /// Stops accepting, waits for the sessions (up to [`SHUTDOWN_GRACE`]), stops the
    /// background tasks and prints `moat stopped messages=N fsyncs=B`.
    async fn stop(self) {
        tracing::info!("shutting down");
        crate::os::systemd::notify("STOPPING=1");
        self.shutdown.cancel();
        for accept_loop in self.accept_loops {
            let _ = accept_loop.await;
        }
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                sessions = self.tracker.len(),
                "sessions still open after the grace period"
            );
        }
        self.background.stop().await;
        let stats = self.params.queue.stats();
        tracing::info!(messages = stats.messages, fsyncs = stats.batches, "stopped");
        // A stable last line, as the ready line is first: benchmarks read the fsync count.
        announce(&format!(
            "moat stopped messages={} fsyncs={}",
            stats.messages, stats.batches
        ));
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
