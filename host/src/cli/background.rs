//! What `moat serve` runs besides its listeners: the delivery scheduler, the quarantine's
//! expiry and the admin endpoint. Kept apart from `serve` so each is started and stopped
//! in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reload::Reloader;
use crate::admin::{self, AdminContext};
use crate::config::Config;
use crate::delivery::{Scheduler, now_ms};
use crate::dns::Resolver;
use crate::metrics::Metrics;
use crate::queue::Queue;

/// The running background services.
pub(super) struct Background {
    /// Where the admin endpoint listens, if it does.
    pub(super) admin: Option<SocketAddr>,
    address_file: Option<PathBuf>,
}

/// How often quarantined messages past `[quarantine] max_age` are looked for.
const QUARANTINE_EXPIRY_INTERVAL: Duration = Duration::from_secs(300);

/// Starts delivery, the quarantine's expiry and the admin endpoint (if configured). They
/// stop when `shutdown` is cancelled; delivery's and expiry's tasks are on `tracker`.
pub(super) async fn start(
    config: &Config,
    queue: &Queue,
    reloader: &Arc<Reloader>,
    metrics: &Arc<Metrics>,
    resolver: Option<&Resolver>,
    shutdown: &CancellationToken,
    tracker: &TaskTracker,
) -> anyhow::Result<Background> {
    if config.delivery.enabled {
        let scheduler = Scheduler::new(
            config,
            queue.clone(),
            resolver.cloned(),
            shutdown.clone(),
            tracker.clone(),
            Arc::clone(metrics),
        )
        .context("cannot start delivery")?;
        reloader.serve_routes(scheduler.routes(), config.delivery.clone());
        tracker.spawn(scheduler.run());
    } else {
        tracing::warn!("delivery is disabled (delivery.enabled = false): mail is only queued");
    }

    if let Some(max_age) = config.quarantine.max_age.limit() {
        tracker.spawn(expire_quarantine(queue.clone(), max_age, shutdown.clone()));
    }

    let Some(admin_config) = &config.admin else {
        return Ok(Background {
            admin: None,
            address_file: None,
        });
    };
    let listener = TcpListener::bind(admin_config.address)
        .await
        .with_context(|| format!("cannot listen on {} (admin.address)", admin_config.address))?;
    let address = listener.local_addr()?;
    let file = admin::address_file(&config.server.data_dir);
    std::fs::write(&file, format!("{address}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    tracing::info!(%address, "admin endpoint listening");
    tokio::spawn(admin::serve(
        listener,
        AdminContext {
            queue: queue.clone(),
            pipeline: reloader.live(),
            reloader: Arc::clone(reloader),
            metrics: Arc::clone(metrics),
            max_body_bytes: usize::try_from(config.smtp.max_message_size.0).unwrap_or(usize::MAX),
            token: admin_config.token.clone(),
            hostname: config.server.hostname.clone(),
        },
        shutdown.clone(),
    ));
    Ok(Background {
        admin: Some(address),
        address_file: Some(file),
    })
}

/// Deletes quarantined messages older than `max_age`, now and every
/// [`QUARANTINE_EXPIRY_INTERVAL`], until `shutdown`.
async fn expire_quarantine(queue: Queue, max_age: Duration, shutdown: CancellationToken) {
    loop {
        let cutoff = now_ms().saturating_sub(max_age.as_millis() as u64);
        let queue_now = queue.clone();
        match tokio::task::spawn_blocking(move || queue_now.expire_quarantine(cutoff)).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::error!(%error, "cannot expire quarantined messages"),
            Err(error) => tracing::error!(%error, "quarantine expiry panicked"),
        }
        tokio::select! {
            () = tokio::time::sleep(QUARANTINE_EXPIRY_INTERVAL) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

impl Background {
    /// Removes the admin address file (the server is stopping).
    pub(super) fn stop(self) {
        if let Some(file) = self.address_file {
            let _ = std::fs::remove_file(file);
        }
    }
}
