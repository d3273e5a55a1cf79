//! Putting the filter side together from a config: engine, services, storage and the
//! loaded plugin set, as `moat serve`, `moat check` and the benchmarks need it.

use std::path::Path;
use std::sync::Arc;

use super::capabilities::Services;
use super::engine::{EngineSettings, FilterEngine};
use super::error::LoadError;
use super::kv_workers::KvWorkers;
use super::loader::{LoadContext, load_all};
use super::metrics::PluginMetrics;
use super::pipeline::Pipeline;
use crate::config::KvBackendKind;
use crate::config::{Config, MAX_PLUGIN_MEMORY};
use crate::dns::{Resolver, ResolverSettings};
use crate::metrics::Registry;
use crate::store::{Database, FjallKv, KvBackend, KvQuota, OverlayKv, RedisKv, RedisSettings};

/// The plugins' kv database, under the data dir.
pub const KV_DIR: &str = "kv";

/// How often the plugins' kv database is forced to disk while the server runs: a crash
/// loses at most this much plugin state (counters, token counts), never mail.
pub const KV_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The assembled filter side.
pub struct Assembled {
    /// The pipeline over the plugins that loaded.
    pub pipeline: Pipeline,
    /// The plugins that did not load, and why.
    pub load_errors: Vec<LoadError>,
    /// The engine (shared with the pipeline), for loading single plugins later.
    pub engine: Arc<FilterEngine>,
    /// The services plugins use.
    pub services: Services,
    /// The database under the data dir: the queue's, fsynced before every 250.
    pub database: Database,
    /// The plugins' kv store, a database of its own (`DATA_DIR/kv`) so that plugin state
    /// writes never wait behind the queue's fsyncs (fjall holds its journal's lock while
    /// it syncs); it is synced periodically and at shutdown ([`KV_SYNC_INTERVAL`]).
    pub kv_database: Database,
    /// The kv backend the plugins' namespaces come from (`[kv] backend`): a reload must use
    /// this one, so that a namespace keeps one cache, one counter table and one write lock.
    pub kv: Arc<dyn KvBackend>,
    /// The registry the plugins, the resolver and OCR count in; a server registers the
    /// rest of its metrics here too and serves it as `/metrics`.
    pub metrics: Arc<Registry>,
}

/// Why the filter side could not be assembled at all.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// The wasmtime engine could not be built.
    #[error(transparent)]
    Engine(#[from] super::engine::EngineError),
    /// The kv backend of `[kv]` could not be set up.
    #[error("cannot set up the kv backend: {0}")]
    Kv(String),
    /// The data directory's database could not be opened.
    #[error("cannot open the data directory {dir}: {reason}")]
    Database {
        /// The directory.
        dir: String,
        /// Why.
        reason: String,
    },
}

/// The services of `config`: the resolver (a warning and `None` if it cannot be set up),
/// the OCR engine, the clock, the plugins' metrics, each registering what it counts in
/// `registry`, and the kv threads.
pub fn services(config: &Config, registry: &Registry) -> Services {
    let settings = ResolverSettings {
        nameservers: config.dns.nameservers.clone(),
        timeout: config.dns.timeout.0,
        attempts: config.dns.attempts,
        cache_size: config.dns.cache_size,
        ..ResolverSettings::default()
    };
    let resolver = match Resolver::new(&settings) {
        Ok(resolver) => Some(resolver),
        Err(error) => {
            tracing::warn!(%error, "DNS resolver unavailable; plugin lookups will fail");
            None
        }
    };
    let metrics = PluginMetrics::register(registry);
    if let Some(resolver) = &resolver {
        resolver.register_metrics(registry);
    }
    let ocr = crate::ocr::engine_from_config(&config.ocr);
    crate::ocr::register_metrics(&ocr, registry);
    Services {
        resolver,
        ocr,
        clock: crate::time::Clock::system(),
        metrics,
        kv_workers: KvWorkers::for_this_machine(),
    }
}

/// What loading a plugin needs, for the config and data dir given.
pub fn load_context<'a>(
    engine: &'a FilterEngine,
    services: &'a Services,
    kv: &'a dyn KvBackend,
    config: &Config,
    data_dir: &Path,
) -> LoadContext<'a> {
    LoadContext {
        engine,
        services,
        kv,
        kv_quota: KvQuota {
            max_key_bytes: config.kv.max_key_bytes,
            max_value_bytes: config.kv.max_value_bytes,
            max_entries: config.kv.max_entries,
        },
        cache_dir: config
            .filter
            .cache_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("plugin-cache")),
    }
}

/// The kv backend `[kv]` names: the embedded one on `kv_database`, or Redis. A Redis that
/// does not answer now is not an error: mail flows, and plugins get kv errors (and their
/// `on_error`) until it answers.
fn kv_backend(
    config: &Config,
    kv_database: &Database,
) -> Result<Arc<dyn KvBackend>, AssembleError> {
    let Some(settings) = redis_settings(config)? else {
        return Ok(Arc::new(FjallKv::with_cache(
            kv_database.clone(),
            config.kv.cache_bytes.0,
        )));
    };
    let redis = RedisKv::new(&settings).map_err(|e| AssembleError::Kv(e.to_string()))?;
    match redis.ping() {
        Ok(()) => tracing::info!(prefix = %settings.prefix, "kv backend: redis"),
        Err(error) => {
            tracing::warn!(%error, "kv backend: redis does not answer yet; plugins get kv errors until it does")
        }
    }
    Ok(Arc::new(redis))
}

/// How to reach the Redis of `[kv]`, when `backend = "redis"`.
pub fn redis_settings(config: &Config) -> Result<Option<RedisSettings>, AssembleError> {
    let kv = &config.kv;
    let Some(url) = kv
        .url
        .clone()
        .filter(|_| kv.backend == KvBackendKind::Redis)
    else {
        return Ok(None);
    };
    let password = kv.redis_password().map_err(|e| {
        AssembleError::Kv(format!(
            "cannot read kv.password_file {}: {e}",
            kv.password_file
                .as_deref()
                .unwrap_or_else(|| Path::new(""))
                .display()
        ))
    })?;
    let tls_ca = match &kv.tls_ca_file {
        Some(file) => Some(std::fs::read(file).map_err(|e| {
            AssembleError::Kv(format!(
                "cannot read kv.tls_ca_file {}: {e}",
                file.display()
            ))
        })?),
        None => None,
    };
    Ok(Some(RedisSettings {
        url,
        password,
        tls_ca,
        prefix: kv.prefix.clone(),
        pool_size: kv.pool_size,
        connect_timeout: kv.connect_timeout.0,
        command_timeout: kv.command_timeout.0,
    }))
}

/// Opens the data dir and loads the plugin set of `config`.
pub async fn assemble(config: &Config, data_dir: &Path) -> Result<Assembled, AssembleError> {
    assemble_with(config, data_dir, KvWrites::Kept).await
}

/// [`assemble`] for an offline check: the plugins read the live kv state, and what they
/// write stays in memory (`store::OverlayKv`), so checking teaches nothing.
pub async fn assemble_for_check(
    config: &Config,
    data_dir: &Path,
) -> Result<Assembled, AssembleError> {
    assemble_with(config, data_dir, KvWrites::Discarded).await
}

/// Whether the plugins' kv writes reach the data dir.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KvWrites {
    Kept,
    Discarded,
}

async fn assemble_with(
    config: &Config,
    data_dir: &Path,
    writes: KvWrites,
) -> Result<Assembled, AssembleError> {
    let max_memory = config
        .plugin
        .values()
        .filter_map(|s| s.memory_limit.map(|m| m.0))
        .chain([config.filter.memory_limit.0])
        .max()
        .unwrap_or(MAX_PLUGIN_MEMORY)
        .min(MAX_PLUGIN_MEMORY);
    let engine = Arc::new(FilterEngine::new(&EngineSettings {
        max_concurrent_calls: config.filter.max_concurrent_calls,
        max_memory,
    })?);
    let database = Database::open(data_dir).map_err(|e| AssembleError::Database {
        dir: data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let kv_dir = data_dir.join(KV_DIR);
    let kv_database = Database::open(&kv_dir).map_err(|e| AssembleError::Database {
        dir: kv_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let metrics = Registry::new();
    let services = services(config, &metrics);
    let kv = kv_backend(config, &kv_database)?;
    let overlay;
    let backend: &dyn KvBackend = match writes {
        KvWrites::Kept => &*kv,
        KvWrites::Discarded => {
            overlay = OverlayKv::new(kv.clone());
            &overlay
        }
    };
    let ctx = load_context(&engine, &services, backend, config, data_dir);
    let outcome = load_all(&ctx, config).await;
    let pipeline = Pipeline::new(
        engine.clone(),
        outcome.plugins,
        config.thresholds,
        config.filter.max_concurrent_calls,
    )
    .with_outbound_thresholds(config.submission.thresholds);
    Ok(Assembled {
        pipeline,
        load_errors: outcome.errors,
        engine,
        services,
        database,
        kv_database,
        kv,
        metrics,
    })
}
