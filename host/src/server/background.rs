//! What a server runs besides its listeners: the delivery scheduler, the quarantine's
//! expiry, the plugins' kv sync and the admin endpoint. Each is started and stopped here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admin::{self, AdminContext};
use super::reload::Reloader;
use crate::config::{AdminConfig, Config};
use crate::control::LocalControl;
use crate::control::client::{address_file, token_file};
use crate::delivery::client::Myself;
use crate::delivery::dsn::Bounces;
use crate::delivery::metrics::DeliveryMetrics;
use crate::delivery::route::LiveRoutes;
use crate::delivery::{Scheduler, Surroundings};
use crate::filter::assemble::KV_SYNC_INTERVAL;
use crate::metrics::Registry;
use crate::queue::Queue;
use crate::smtp::session::SessionParams;
use crate::store::Database;
use crate::time::Clock;

/// How often quarantined messages past `[quarantine] max_age` are looked for.
const QUARANTINE_EXPIRY_INTERVAL: Duration = Duration::from_secs(300);

/// What the background tasks are started from.
pub(super) struct Parts<'a> {
    pub(super) config: &'a Config,
    pub(super) params: &'a SessionParams,
    pub(super) reloader: &'a Arc<Reloader>,
    pub(super) metrics: &'a Arc<Registry>,
    pub(super) kv_database: &'a Database,
    /// The addresses the listeners are bound to (delivery never goes there).
    pub(super) listening: &'a [SocketAddr],
    /// The route table delivery and recipient verification share.
    pub(super) routes: &'a Arc<LiveRoutes>,
    pub(super) shutdown: &'a CancellationToken,
    pub(super) tracker: &'a TaskTracker,
}

/// The running background tasks.
pub(super) struct Background {
    /// Where the admin endpoint listens, if it does.
    pub(super) admin: Option<SocketAddr>,
    address_file: Option<PathBuf>,
    kv_sync: JoinHandle<()>,
    kv_database: Database,
}

/// Starts delivery, the quarantine's expiry, the kv sync and the admin endpoint (if
/// configured). They stop when `shutdown` is cancelled; delivery's and expiry's tasks are
/// on `tracker`.
pub(super) async fn start(parts: Parts<'_>) -> anyhow::Result<Background> {
    let Parts {
        config,
        params,
        reloader,
        metrics,
        kv_database,
        listening,
        routes,
        shutdown,
        tracker,
    } = parts;
    let queue = &params.queue;
    if config.delivery.enabled || params.verifier.is_some() {
        reloader.serve_routes(Arc::clone(routes), config.delivery.clone());
    }
    if config.delivery.enabled {
        let scheduler = Scheduler::new(
            config,
            queue.clone(),
            params.resolver.clone(),
            Arc::clone(routes),
            shutdown.clone(),
            tracker.clone(),
            Surroundings {
                metrics: DeliveryMetrics::register(metrics),
                clock: params.clock.clone(),
                myself: Myself::listening_on(listening.to_vec()),
            },
        )
        .context("cannot start delivery")?;
        tracker.spawn(scheduler.run());
    } else {
        tracing::warn!("delivery is disabled (delivery.enabled = false): mail is only queued");
    }
    if let Some(max_age) = config.quarantine.max_age.limit() {
        tracker.spawn(expire_quarantine(
            queue.clone(),
            params.clock.clone(),
            max_age,
            shutdown.clone(),
        ));
    }
    let shared_quarantine = shared_quarantine(config)?;
    if let Some(shared) = &shared_quarantine {
        tracker.spawn(crate::control::shared::sync_shared_quarantine(
            queue.clone(),
            shared.clone(),
            shutdown.clone(),
        ));
    }
    let kv_database = kv_database.clone();
    let kv_sync = tokio::spawn(sync_kv(kv_database.clone(), shutdown.clone()));
    let (admin, address_file) = match &config.admin {
        Some(admin_config) => {
            let mut context = admin_context(config, params, reloader, metrics);
            if let Some(shared) = shared_quarantine {
                context.control = context.control.with_shared_quarantine(shared);
            }
            let (address, file) = start_admin(admin_config, context, config, shutdown).await?;
            (Some(address), Some(file))
        }
        None => (None, None),
    };
    Ok(Background {
        admin,
        address_file,
        kv_sync,
        kv_database,
    })
}

/// The site's shared quarantine, when the plugins' kv is on Redis (`[kv] backend`).
fn shared_quarantine(config: &Config) -> anyhow::Result<Option<crate::store::RedisQuarantine>> {
    let Some(settings) = crate::filter::assemble::redis_settings(config)? else {
        return Ok(None);
    };
    let max_age = config.quarantine.max_age.limit();
    let node = node_id(&config.server.data_dir)?;
    Ok(Some(crate::store::RedisQuarantine::new(
        &settings, max_age, &node,
    )?))
}

/// This gateway's name in its site (`data_dir/node-id`, made once: 16 random bytes in
/// hex), which its published quarantine is filed under.
fn node_id(data_dir: &std::path::Path) -> anyhow::Result<String> {
    let file = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&file) {
        return Ok(id.trim().to_owned());
    }
    let mut bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("no randomness for the node id"))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&file, &id).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(id)
}

/// What the admin endpoint acts on (its address and token are set once it listens).
fn admin_context(
    config: &Config,
    params: &SessionParams,
    reloader: &Arc<Reloader>,
    metrics: &Arc<Registry>,
) -> AdminContext {
    AdminContext {
        control: LocalControl::new(
            params.queue.clone(),
            Bounces::from_config(config),
            params.clock.clone(),
            params.decisions.clone(),
        ),
        pipeline: reloader.live(),
        reloader: Arc::clone(reloader),
        metrics: Arc::clone(metrics),
        max_body_bytes: usize::try_from(config.smtp.max_message_size.0).unwrap_or(usize::MAX),
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: String::new(),
        decisions: params.decisions.clone(),
    }
}

/// Binds the admin endpoint, takes its token, writes its address into the data dir for
/// the CLI and serves it until `shutdown`: the address and the address file.
async fn start_admin(
    admin_config: &AdminConfig,
    mut context: AdminContext,
    config: &Config,
    shutdown: &CancellationToken,
) -> anyhow::Result<(SocketAddr, PathBuf)> {
    let configured = admin_config.address;
    let data_dir = &config.server.data_dir;
    let listener = TcpListener::bind(configured)
        .await
        .with_context(|| format!("cannot listen on {configured} (admin.address)"))?;
    context.address = listener.local_addr()?;
    context.token = admin::token(admin_config, data_dir).with_context(|| {
        format!(
            "cannot read or make the admin token {}",
            token_file(data_dir).display()
        )
    })?;
    let address = context.address;
    let file = address_file(data_dir);
    std::fs::write(&file, format!("{address}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    tracing::info!(%address, "admin endpoint listening");
    tokio::spawn(admin::serve(listener, context, shutdown.clone()));
    Ok((address, file))
}

/// Deletes quarantined messages older than `max_age` by `clock`, now and every
/// [`QUARANTINE_EXPIRY_INTERVAL`], until `shutdown`.
async fn expire_quarantine(
    queue: Queue,
    clock: Clock,
    max_age: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let cutoff = clock
            .now_ms()
            .saturating_sub(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
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

/// Forces the plugins' kv database to disk every [`KV_SYNC_INTERVAL`] until `shutdown`.
/// A failure is logged once, not every second: after a failed write or fsync fjall refuses
/// every later one until a restart (plugin state only; mail is in the queue's database).
async fn sync_kv(kv: Database, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(KV_SYNC_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let failed = match sync_kv_once(&kv).await {
                    Ok(()) => false,
                    Err(error) if failing => {
                        tracing::debug!(%error, "the plugins' kv store still cannot be synced");
                        true
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot sync the plugins' kv store");
                        true
                    }
                };
                if failing && !failed {
                    tracing::info!("the plugins' kv store is synced again");
                }
                failing = failed;
            }
            () = shutdown.cancelled() => return,
        }
    }
}

/// Forces the plugins' kv database to disk now (off the async workers: fsync blocks).
async fn sync_kv_once(kv: &Database) -> Result<(), String> {
    let db = kv.clone();
    match tokio::task::spawn_blocking(move || db.sync()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(error) => Err(format!("the kv sync task failed: {error}")),
    }
}

impl Background {
    /// Stops what is not on the tracker (after the sessions finished): the last kv sync,
    /// and the admin address file goes.
    pub(super) async fn stop(self) {
        let _ = self.kv_sync.await;
        if let Err(error) = sync_kv_once(&self.kv_database).await {
            tracing::warn!(%error, "cannot sync the plugins' kv store at shutdown");
        }
        if let Some(file) = self.address_file {
            let _ = std::fs::remove_file(file);
        }
    }
}
