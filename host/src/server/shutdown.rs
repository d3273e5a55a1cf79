//! The end of a server's life: SIGHUP reloads while it waits, SIGINT or SIGTERM stop it.
//! Stopping closes the listeners, lets sessions finish what they are doing (up to
//! [`SHUTDOWN_GRACE`]), then stops the background tasks.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};

use super::announce;
use super::reload::Reloader;
use super::startup::Server;

/// How long shutdown waits for sessions to finish what they are doing.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

impl Server {
    /// Serves until SIGINT or SIGTERM arrive on `signals` (reloading on SIGHUP and when
    /// the plugin directory changes), then stops. Stops too when the queue's database
    /// fails a write, and then returns an error: the process must exit non-zero for its
    /// supervisor to restart it (see [`Server::stop_after_failure`]).
    pub(super) async fn serve_until_signalled(self, mut signals: Signals) -> anyhow::Result<()> {
        tokio::spawn(
            Arc::clone(&self.reloader)
                .watch_plugin_dir(self.plugin_dir.clone(), self.shutdown.clone()),
        );
        let queue = self.params.queue.clone();
        tokio::select! {
            () = signals.wait(&self.reloader) => {}
            () = queue.failed() => return self.stop_after_failure().await,
        }
        self.stop().await;
        Ok(())
    }

    /// Stops after the queue's database failed a write. fjall refuses every write after
    /// one failed (its own advice: let the application crash and recover), so nothing can
    /// be queued and no delivery outcome recorded until the database is opened again.
    /// Reopening it in this process would need every holder of the queue (sessions,
    /// delivery, the admin endpoint) to let go of it first; a restart recovers from the
    /// journal as after a crash, the path every `kill -9` already takes. So: one error
    /// logged, delivery and new mail stopped (the shutdown), and an error returned, which
    /// `moat serve` turns into exit status 1 (systemd's `Restart=on-failure` restarts it).
    async fn stop_after_failure(self) -> anyhow::Result<()> {
        let reason = self.params.queue.failure().unwrap_or("unknown").to_owned();
        tracing::error!(
            %reason,
            "the queue's database failed a write and takes none until it is opened again: \
             moat stops delivery and new mail now, and exits with status 1 for its service \
             manager to restart it; messages delivered since their last recorded outcome may \
             be delivered once more after the restart"
        );
        self.stop().await;
        anyhow::bail!(
            "stopped: the queue's database failed a write ({reason}); restarting moat recovers it"
        )
    }

    /// Stops accepting, waits for the sessions (up to [`SHUTDOWN_GRACE`]), stops the
    /// background tasks and prints `moat stopped messages=N fsyncs=B updates=U
    /// update_batches=G`.
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
        let decisions = self.params.decisions.clone();
        let _ = tokio::task::spawn_blocking(move || decisions.close()).await;
        let stats = self.params.queue.stats();
        tracing::info!(
            messages = stats.messages,
            fsyncs = stats.batches,
            updates = stats.updates,
            update_batches = stats.update_batches,
            "stopped"
        );
        // A stable last line, as the ready line is first: benchmarks read the fsync count.
        announce(&format!(
            "moat stopped messages={} fsyncs={} updates={} update_batches={}",
            stats.messages, stats.batches, stats.updates, stats.update_batches
        ));
    }
}

/// The signals a server answers, caught from before it starts: a SIGTERM that arrives
/// the moment the ready line is out must stop it cleanly, not kill it.
pub(super) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Starts catching SIGINT, SIGTERM and SIGHUP.
    pub(super) fn catch() -> anyhow::Result<Self> {
        let catch = |kind, name: &str| signal(kind).with_context(|| format!("cannot watch {name}"));
        Ok(Self {
            interrupt: catch(SignalKind::interrupt(), "SIGINT")?,
            terminate: catch(SignalKind::terminate(), "SIGTERM")?,
            hangup: catch(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// Waits for SIGTERM or SIGINT; reloads with `reloader` on SIGHUP meanwhile.
    async fn wait(&mut self, reloader: &Reloader) {
        loop {
            tokio::select! {
                _ = self.interrupt.recv() => return,
                _ = self.terminate.recv() => return,
                _ = self.hangup.recv() => {
                    tracing::info!("SIGHUP: reloading");
                    if let Err(error) = reloader.reload().await {
                        tracing::error!(%error, "reload refused; the running configuration stays");
                    }
                }
            }
        }
    }
}
