//! Hot reload for `moat serve`: on SIGHUP, on `moat reload` (`POST /reload`) and when the
//! plugin directory changes, the configuration is read again and a new plugin set built
//! with it, then put in force whole (weights, thresholds, plugin settings, the plugin
//! directory), with the `[tls]` certificate and key read again (a renewed certificate is
//! served from the next handshake) and the delivery routes (`[[delivery.route]]`,
//! `mx_port`) for the attempts that start afterwards. An invalid configuration, or a
//! certificate that cannot be read, is refused with its problems and changes nothing.
//! A plugin that fails to load is reported and its previous version stays live. The
//! wasmtime engine, the databases, the kv backend, DNS and OCR are the running server's:
//! their settings (`[filter] max_concurrent_calls`, `[kv]`, `[dns]`, `[ocr]`, listeners,
//! the other `[delivery]` keys) take a restart, as the sessions' `[smtp]` and `[headers]`
//! do.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::config::{Config, ConfigSource, DeliveryConfig};
use crate::delivery::route::{LiveRoutes, RouteTable};
use crate::filter::assemble::load_context;
use crate::filter::capabilities::Services;
use crate::filter::engine::FilterEngine;
use crate::filter::live::LivePipeline;
use crate::filter::loader::load_all;
use crate::filter::plugin::LoadedPlugin;
use crate::os::systemd;
use crate::smtp::tls::{CertificateReload, ServedCertificate};
use crate::store::KvBackend;

/// How often the plugin directory is looked at.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What a reload did.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadReport {
    /// The plugins in force afterwards, in call order.
    pub plugins: Vec<String>,
    /// Plugins that failed to load, and why; the previous version of each stays live
    /// (listed in `kept`).
    pub errors: Vec<String>,
    /// Plugins whose previous version stayed live because the new one failed.
    pub kept: Vec<String>,
    /// The `[tls]` certificate file read again and now served, if any.
    pub certificate: Option<PathBuf>,
    /// How many `[[delivery.route]]` are now in force (none while delivery is off).
    pub routes: Option<usize>,
    /// How many of them are new or changed, or were removed; the others keep their
    /// connections.
    pub routes_changed: Option<usize>,
    /// Changes the reload did not apply, each saying what does (a restart).
    pub warnings: Vec<String>,
}

/// The plugins a reload puts in force, and what failed to load.
struct ReloadedPlugins {
    plugins: Vec<Arc<LoadedPlugin>>,
    errors: Vec<String>,
    kept: Vec<String>,
}

impl ReloadReport {
    /// Logs what the reload did.
    fn log(&self) {
        tracing::info!(
            plugins = ?self.plugins,
            errors = self.errors.len(),
            kept = ?self.kept,
            certificate = ?self.certificate,
            routes = ?self.routes,
            routes_changed = ?self.routes_changed,
            "configuration reloaded"
        );
        for error in &self.errors {
            tracing::error!(%error, "plugin failed to load on reload");
        }
        for warning in &self.warnings {
            tracing::warn!(%warning, "not applied by the reload");
        }
    }
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct ReloadError(anyhow::Error);

/// Builds and swaps plugin sets for the running server.
pub struct Reloader {
    source: ConfigSource,
    engine: Arc<FilterEngine>,
    services: Services,
    kv: Arc<dyn KvBackend>,
    data_dir: PathBuf,
    live: Arc<LivePipeline>,
    /// The listeners' certificate, when they have TLS.
    certificate: Option<Arc<ServedCertificate>>,
    /// Delivery's route table, and the `[delivery]` it started with, once delivery runs.
    routes: OnceLock<(Arc<LiveRoutes>, DeliveryConfig)>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl Reloader {
    /// A reloader reading `source` again, over the parts of an assembled server that
    /// live as long as it: its engine, services and kv backend, and the listeners'
    /// certificate.
    pub fn new(
        source: ConfigSource,
        (engine, services, kv): (Arc<FilterEngine>, Services, Arc<dyn KvBackend>),
        data_dir: PathBuf,
        live: Arc<LivePipeline>,
        certificate: Option<Arc<ServedCertificate>>,
    ) -> Self {
        Self {
            source,
            engine,
            services,
            kv,
            data_dir,
            live,
            certificate,
            routes: OnceLock::new(),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Lets reloads replace delivery's `routes`; `started` is the `[delivery]` delivery
    /// runs with, against which changes that need a restart are told.
    pub fn serve_routes(&self, routes: Arc<LiveRoutes>, started: DeliveryConfig) {
        let _ = self.routes.set((routes, started));
    }

    /// The plugin set in force, as it changes.
    pub fn live(&self) -> Arc<LivePipeline> {
        Arc::clone(&self.live)
    }

    /// Reads the configuration again and puts the new plugin set in force, with the
    /// certificate and routes it names; changes nothing if any of it is refused. The
    /// service manager is told (`RELOADING=1`, then `READY=1`).
    pub async fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let _one_at_a_time = self.running.lock().await;
        systemd::reloading();
        let result = self.reload_now().await;
        systemd::notify("READY=1");
        result
    }

    /// [`Reloader::reload`], under its lock.
    async fn reload_now(&self) -> Result<ReloadReport, ReloadError> {
        let mut config = self.source.load().map_err(|e| ReloadError(e.into()))?;
        // The data dir is the running server's, whatever the file says now.
        config.server.data_dir.clone_from(&self.data_dir);
        let mut warnings = Vec::new();
        let certificate = self.read_certificate(&config, &mut warnings)?;
        let routes = self.read_routes(&config, &mut warnings)?;
        let plugins = self.load_plugins(&config).await;
        let mut report = ReloadReport {
            plugins: plugins.plugins.iter().map(|p| p.name.clone()).collect(),
            errors: plugins.errors,
            kept: plugins.kept,
            certificate: None,
            routes: None,
            routes_changed: None,
            warnings,
        };
        let current = self.live.current();
        self.live.replace(
            current
                .successor(plugins.plugins, config.thresholds)
                .with_outbound_thresholds(config.submission.thresholds),
        );
        if let (Some(served), CertificateReload::Ready(key, path)) =
            (&self.certificate, certificate)
        {
            served.put_in_force(key);
            report.certificate = Some(path);
        }
        if let (Some((live, _)), Some(table)) = (self.routes.get(), routes) {
            report.routes_changed = Some(live.replace(table));
            report.routes = Some(config.delivery.route.len());
        }
        report.log();
        Ok(report)
    }

    /// The `[tls]` certificate read again, ready to put in force (a warning when serving
    /// it takes a restart).
    fn read_certificate(
        &self,
        config: &Config,
        warnings: &mut Vec<String>,
    ) -> Result<CertificateReload, ReloadError> {
        let certificate = match &self.certificate {
            Some(served) => served.prepare(&config.tls).map_err(|error| {
                ReloadError(anyhow::Error::new(error).context("cannot read [tls] again"))
            })?,
            None if config.tls.certificate.is_some() => CertificateReload::NeedsRestart(
                "the server started without TLS: serving [tls] takes a restart",
            ),
            None => CertificateReload::Unchanged,
        };
        if let CertificateReload::NeedsRestart(what) = &certificate {
            warnings.push((*what).to_owned());
        }
        Ok(certificate)
    }

    /// The route table of `config`, once delivery runs (a warning for the `[delivery]`
    /// keys a reload does not apply).
    fn read_routes(
        &self,
        config: &Config,
        warnings: &mut Vec<String>,
    ) -> Result<Option<RouteTable>, ReloadError> {
        let Some((_, started)) = self.routes.get() else {
            return Ok(None);
        };
        let table = RouteTable::from_config(&config.delivery).map_err(|error| {
            ReloadError(anyhow::Error::new(error).context("cannot load the routes"))
        })?;
        let mut others = config.delivery.clone();
        others.route.clone_from(&started.route);
        others.mx_port = started.mx_port;
        if &others != started {
            warnings.push("[delivery] keys other than route and mx_port take a restart".into());
        }
        Ok(Some(table))
    }

    /// The plugin set of `config`; a plugin that fails to load keeps its running version,
    /// in its old place.
    async fn load_plugins(&self, config: &Config) -> ReloadedPlugins {
        let ctx = load_context(
            &self.engine,
            &self.services,
            &*self.kv,
            config,
            &self.data_dir,
        );
        let outcome = load_all(&ctx, config).await;
        let current = self.live.current();
        let mut reloaded = ReloadedPlugins {
            plugins: outcome.plugins,
            errors: Vec::new(),
            kept: Vec::new(),
        };
        for error in &outcome.errors {
            reloaded.errors.push(error.to_string());
            let Some(name) = error.plugin() else { continue };
            if reloaded.plugins.iter().any(|p| p.name == name)
                || reloaded.kept.iter().any(|k| k == name)
            {
                continue;
            }
            if let Some(old) = current.plugins().iter().find(|p| p.name == name) {
                insert_in_old_order(&mut reloaded.plugins, Arc::clone(old), current.plugins());
                reloaded.kept.push(name.to_owned());
            }
        }
        reloaded
    }

    /// Reloads whenever the plugin directory's `.wasm` or `.toml` files differ from
    /// `loaded` (taken before the running set was built, so nothing copied in meanwhile is
    /// missed) and have stayed the same for one look (a file still being copied is not
    /// loaded), until `shutdown`.
    pub async fn watch_plugin_dir(
        self: Arc<Self>,
        mut loaded: PluginDirSnapshot,
        shutdown: tokio_util::sync::CancellationToken,
    ) {
        let Some(dir) = loaded.dir.clone() else {
            return;
        };
        let mut seen = loaded.clone();
        loop {
            tokio::select! {
                () = tokio::time::sleep(WATCH_INTERVAL) => {}
                () = shutdown.cancelled() => return,
            }
            let now = PluginDirSnapshot::of_dir(&dir);
            if now != loaded && now == seen {
                tracing::info!(dir = %dir.display(), "plugin directory changed: reloading");
                if let Err(error) = self.reload().await {
                    tracing::error!(%error, "reload refused; the running set stays");
                }
                loaded = now.clone();
            }
            seen = now;
        }
    }
}

/// Puts `old` back where it stood: right after the plugin that preceded it in `before`,
/// or first.
fn insert_in_old_order(
    plugins: &mut Vec<Arc<LoadedPlugin>>,
    old: Arc<LoadedPlugin>,
    before: &[Arc<LoadedPlugin>],
) {
    let position = before.iter().position(|p| p.name == old.name).unwrap_or(0);
    let at = before[..position]
        .iter()
        .rev()
        .find_map(|prev| plugins.iter().position(|p| p.name == prev.name))
        .map_or(0, |i| i + 1);
    plugins.insert(at, old);
}

/// The plugin directory's plugin files (`.wasm` and `.toml`): name, size and
/// modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDirSnapshot {
    dir: Option<PathBuf>,
    files: Vec<(String, u64, Option<SystemTime>)>,
}

impl PluginDirSnapshot {
    /// The files of `config`'s plugin directory now (none without one).
    pub fn of(config: &Config) -> Self {
        match &config.filter.plugin_dir {
            Some(dir) => Self::of_dir(dir),
            None => Self {
                dir: None,
                files: Vec::new(),
            },
        }
    }

    fn of_dir(dir: &std::path::Path) -> Self {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !(name.ends_with(".wasm") || name.ends_with(".toml")) {
                    return None;
                }
                let meta = entry.metadata().ok()?;
                Some((name, meta.len(), meta.modified().ok()))
            })
            .collect();
        files.sort();
        Self {
            dir: Some(dir.to_path_buf()),
            files,
        }
    }
}
