//! What `moat serve` runs besides its listeners: the delivery scheduler and the admin
//! endpoint. Kept apart from `serve` so each is started and stopped in one place.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{self, AdminContext};
use crate::config::Config;
use crate::delivery::Scheduler;
use crate::dns::Resolver;
use crate::queue::Queue;

/// The running background services.
pub(super) struct Background {
    /// Where the admin endpoint listens, if it does.
    pub(super) admin: Option<SocketAddr>,
    address_file: Option<PathBuf>,
}

/// Starts delivery and the admin endpoint (if configured). Both stop when `shutdown` is
/// cancelled; delivery's tasks are on `tracker`.
pub(super) async fn start(
    config: &Config,
    queue: &Queue,
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
        )
        .context("cannot start delivery")?;
        tracker.spawn(scheduler.run());
    } else {
        tracing::warn!("delivery is disabled (delivery.enabled = false): mail is only queued");
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
        },
        shutdown.clone(),
    ));
    Ok(Background {
        admin: Some(address),
        address_file: Some(file),
    })
}

impl Background {
    /// Removes the admin address file (the server is stopping).
    pub(super) fn stop(self) {
        if let Some(file) = self.address_file {
            let _ = std::fs::remove_file(file);
        }
    }
}
