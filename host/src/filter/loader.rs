//! Finding, compiling and linking plugins: the bundled ones, a plugin directory
//! (`NAME.wasm` with an optional `NAME.toml` beside it) and extra instances defined in the
//! config (`[plugin.NAME] source = ...`). Compiled code is cached on disk keyed by the
//! component's digest and the engine's compatibility hash, so a restart loads in
//! milliseconds. One plugin failing to load is reported; the others load.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::bindings::PluginPre;
use super::bundled::{self, BundledPlugin};
use super::capabilities::{PluginHost, Services};
use super::combine::PluginWeights;
use super::engine::FilterEngine;
use super::error::LoadError;
use super::pipeline::describe;
use super::plugin::{CallLimits, LoadedPlugin, PluginHealth, PluginSource};
use super::store::StoreState;
use super::{BUNDLED_PREFIX, Capability};
use crate::config::{Config, DEFAULT_DNS_MAX_QUESTIONS, PluginSettings, default_dns_time_budget};
use crate::store::{KvBackend, KvNamespace, KvQuota, QuotaNamespace};

/// What loading needs besides the config.
pub struct LoadContext<'a> {
    /// The engine to compile for.
    pub engine: &'a FilterEngine,
    /// Services the plugins' capabilities use.
    pub services: &'a Services,
    /// Where plugins' kv namespaces live.
    pub kv: &'a dyn KvBackend,
    /// Quotas of each namespace.
    pub kv_quota: KvQuota,
    /// Where compiled plugins are cached.
    pub cache_dir: PathBuf,
}

/// The result of loading a plugin set.
pub struct LoadOutcome {
    /// The plugins that loaded, in call order.
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// The ones that did not, and why.
    pub errors: Vec<LoadError>,
}

/// Where a candidate plugin's code is.
enum Code {
    Bundled(&'static BundledPlugin),
    File(PathBuf),
}

struct Candidate {
    name: String,
    code: Code,
    /// Settings from the file beside the plugin, or the bundled defaults.
    base: PluginSettings,
    /// Named after its file in the plugin directory, whose name must then be the one the
    /// plugin gives itself.
    named_by_file: bool,
}

/// Loads every plugin the config asks for.
pub async fn load_all(ctx: &LoadContext<'_>, config: &Config) -> LoadOutcome {
    let mut errors = Vec::new();
    let candidates = candidates(config, &mut errors);
    let mut plugins = Vec::new();
    for candidate in candidates {
        let settings = effective_settings(config, &candidate.name, &candidate.base);
        if settings.enabled == Some(false) {
            continue;
        }
        let loaded = load_one(ctx, config, &candidate.name, &candidate.code, settings).await;
        match loaded.and_then(|plugin| named_as_described(&candidate, plugin)) {
            Ok(plugin) => plugins.push(Arc::new(plugin)),
            Err(error) => errors.push(error),
        }
    }
    order(&mut plugins, &config.filter.order);
    LoadOutcome { plugins, errors }
}

/// `plugin`, if the candidate it was loaded from is not named after a file or its file
/// has the name the plugin gives itself; else the error naming the file it should be. (A
/// `counter` plugin in `link-count.wasm` would load as `link-count`, and its
/// `[plugin.counter]` section and `counter.toml` would be ignored.)
fn named_as_described(
    candidate: &Candidate,
    plugin: LoadedPlugin,
) -> Result<LoadedPlugin, LoadError> {
    match &candidate.code {
        Code::File(path) if candidate.named_by_file && plugin.info.name != candidate.name => {
            Err(LoadError::NameMismatch {
                path: path.clone(),
                expected: path.with_file_name(format!("{}.wasm", plugin.info.name)),
                described: plugin.info.name,
            })
        }
        _ => Ok(plugin),
    }
}

/// The settings of every plugin the config would load, by name, without loading any
/// (for `moat replay`, which re-weighs logged answers): what [`load_all`] would apply.
pub fn planned_settings(config: &Config) -> (BTreeMap<String, PluginSettings>, Vec<LoadError>) {
    let mut errors = Vec::new();
    let planned = candidates(config, &mut errors)
        .into_iter()
        .map(|c| {
            let settings = effective_settings(config, &c.name, &c.base);
            (c.name, settings)
        })
        .filter(|(_, settings)| settings.enabled != Some(false))
        .collect();
    (planned, errors)
}

/// The operator's settings for `name` over `base` (the plugin's own), with the learnt
/// weights (`[filter] weights_file`) under the symbol weights either of them pins.
fn effective_settings(config: &Config, name: &str, base: &PluginSettings) -> PluginSettings {
    let operator = config.plugin.get(name).cloned().unwrap_or_default();
    let mut settings = operator.over(base);
    if let Some(learnt) = config.learnt_weights.plugins.get(name) {
        for (symbol, weight) in learnt {
            settings.symbols.entry(symbol.clone()).or_insert(*weight);
        }
    }
    settings
}

/// Loads one .wasm file as plugin `name` with `settings` (for `moat plugin test`).
pub async fn load_file(
    ctx: &LoadContext<'_>,
    config: &Config,
    name: &str,
    path: &Path,
    settings: PluginSettings,
) -> Result<LoadedPlugin, LoadError> {
    load_one(ctx, config, name, &Code::File(path.to_owned()), settings).await
}

fn bundled_defaults(plugin: &BundledPlugin) -> PluginSettings {
    PluginSettings {
        capabilities: Some(plugin.capabilities.to_vec()),
        allow_hard_action: Some(true),
        ..PluginSettings::default()
    }
}

fn candidates(config: &Config, errors: &mut Vec<LoadError>) -> Vec<Candidate> {
    let mut found: BTreeMap<String, Candidate> = BTreeMap::new();
    let bundled_names: Vec<String> = match &config.filter.bundled {
        Some(names) => names.clone(),
        None => bundled::all().iter().map(|p| p.name.to_owned()).collect(),
    };
    for name in bundled_names {
        match bundled::find(&name) {
            Some(plugin) => {
                found.insert(
                    name.clone(),
                    Candidate {
                        name,
                        code: Code::Bundled(plugin),
                        base: bundled_defaults(plugin),
                        named_by_file: false,
                    },
                );
            }
            None => errors.push(LoadError::UnknownBundled {
                name,
                available: bundled::names(),
            }),
        }
    }
    if let Some(dir) = &config.filter.plugin_dir {
        match plugin_dir_candidates(dir) {
            Ok(list) => {
                for candidate in list {
                    match candidate {
                        Ok(c) => {
                            found.insert(c.name.clone(), c);
                        }
                        Err(e) => errors.push(e),
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    for (name, settings) in &config.plugin {
        let Some(source) = &settings.source else {
            continue;
        };
        let code = match source.strip_prefix(BUNDLED_PREFIX) {
            Some(bundled_name) => match bundled::find(bundled_name) {
                Some(plugin) => Code::Bundled(plugin),
                None => {
                    errors.push(LoadError::UnknownBundled {
                        name: bundled_name.to_owned(),
                        available: bundled::names(),
                    });
                    continue;
                }
            },
            None => Code::File(PathBuf::from(source)),
        };
        let base = match &code {
            Code::Bundled(plugin) => bundled_defaults(plugin),
            Code::File(_) => PluginSettings::default(),
        };
        found.insert(
            name.clone(),
            Candidate {
                name: name.clone(),
                code,
                base,
                named_by_file: false,
            },
        );
    }
    found.into_values().collect()
}

/// The plugins of the plugin directory: each `NAME.wasm` (with `NAME.toml` beside it as
/// its settings), and an error for each `NAME.toml` without its `NAME.wasm` (settings
/// that would otherwise be dropped without a word).
fn plugin_dir_candidates(dir: &Path) -> Result<Vec<Result<Candidate, LoadError>>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    files.sort();
    let has_extension =
        |path: &Path, extension: &str| path.extension().is_some_and(|e| e == extension);
    Ok(files
        .iter()
        .filter_map(|path| {
            if has_extension(path, "wasm") {
                Some(plugin_dir_candidate(path))
            } else if has_extension(path, "toml") && !path.with_extension("wasm").exists() {
                Some(Err(LoadError::SettingsWithoutPlugin {
                    settings: path.clone(),
                    wasm: path.with_extension("wasm"),
                }))
            } else {
                None
            }
        })
        .collect())
}

/// The plugin in the plugin directory's file `path` (`NAME.wasm`), named after its file,
/// with the settings of `NAME.toml` beside it, if there is one.
fn plugin_dir_candidate(path: &Path) -> Result<Candidate, LoadError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !super::is_valid_plugin_name(&name) {
        return Err(LoadError::Settings {
            path: path.to_owned(),
            reason:
                "plugin file names must be 1-64 characters of a-z, 0-9, '-' and '_' before .wasm"
                    .into(),
        });
    }
    let side = path.with_extension("toml");
    let base = if side.exists() {
        read_side_settings(&side)?
    } else {
        PluginSettings::default()
    };
    Ok(Candidate {
        name,
        code: Code::File(path.to_owned()),
        base,
        named_by_file: true,
    })
}

/// Reads the settings file beside a plugin.
pub fn read_side_settings(path: &Path) -> Result<PluginSettings, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    let settings: PluginSettings = toml::from_str(&text).map_err(|e| LoadError::Settings {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    let problems = settings.problems("");
    if !problems.is_empty() {
        let reason = problems
            .iter()
            .map(|p| format!("{}: {}", p.key.trim_start_matches('.'), p.reason))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(LoadError::Settings {
            path: path.to_owned(),
            reason,
        });
    }
    Ok(settings)
}

/// Loads plugin `name` from `code` with `settings` (the operator's over the plugin's
/// own): compiles it (or reads the cache), links it, gives it what it was granted, asks it
/// to `describe()` itself, and applies the operator's stages, weights and limits.
async fn load_one(
    ctx: &LoadContext<'_>,
    config: &Config,
    name: &str,
    code: &Code,
    settings: PluginSettings,
) -> Result<LoadedPlugin, LoadError> {
    let (bytes, source) = read_code(code)?;
    let component = compile(ctx.engine, name, &bytes, &ctx.cache_dir)?;
    let pre = link(ctx.engine, name, &component)?;
    let host = Arc::new(plugin_host(ctx, name, &settings)?);
    let limits = call_limits(config, &settings);
    let info = describe(ctx.engine, &pre, host.clone(), limits)
        .await
        .map_err(|reason| LoadError::Describe {
            plugin: name.to_owned(),
            reason,
        })?;
    let stages = match &settings.stages {
        Some(allowed) => info
            .stages
            .iter()
            .copied()
            .filter(|s| allowed.contains(s))
            .collect(),
        None => info.stages.clone(),
    };
    let weights = PluginWeights {
        weight: settings.weight.unwrap_or(info.default_weight),
        symbols: settings
            .symbols
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    };
    tracing::info!(plugin = name, source = %source, version = %info.version, "plugin loaded");
    let health = Arc::new(PluginHealth::new(
        config.filter.failure_threshold,
        config.filter.failure_window.0,
        config.filter.disable_for.0,
    ));
    ctx.services.metrics.watch(name, &health);
    let on_error = settings.on_error.unwrap_or(config.filter.on_error);
    Ok(LoadedPlugin {
        name: name.to_owned(),
        info,
        source,
        stages,
        time_budget: limits.time_budget,
        memory_limit: limits.memory_limit,
        on_error,
        on_disabled: settings.on_disabled.unwrap_or(on_error),
        max_message_size: settings.max_message_size.map(|size| size.0),
        large_message_size: config.filter.large_message_size.0,
        dns_max_questions: limits.dns_max_questions,
        dns_time_budget: limits.dns_time_budget,
        allow_hard_action: settings.allow_hard_action.unwrap_or(false),
        weights,
        host,
        pre,
        health,
        stats: ctx.services.metrics.for_plugin(name),
    })
}

/// The limits of each call of a plugin with `settings`, the `[filter]` defaults filling in.
fn call_limits(config: &Config, settings: &PluginSettings) -> CallLimits {
    let time_budget = settings.time_budget.unwrap_or(config.filter.time_budget).0;
    CallLimits {
        time_budget,
        memory_limit: settings
            .memory_limit
            .unwrap_or(config.filter.memory_limit)
            .0,
        dns_max_questions: settings
            .dns_max_questions
            .unwrap_or(DEFAULT_DNS_MAX_QUESTIONS),
        dns_time_budget: settings
            .dns_time_budget
            .map_or_else(|| default_dns_time_budget(time_budget), |budget| budget.0),
    }
}

/// The component's bytes (embedded, or read from its file) and where they came from.
fn read_code(code: &Code) -> Result<(Cow<'static, [u8]>, PluginSource), LoadError> {
    match code {
        Code::Bundled(plugin) => Ok((plugin.wasm.into(), PluginSource::Bundled(plugin.name))),
        Code::File(path) => {
            let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
                path: path.clone(),
                source,
            })?;
            Ok((bytes.into(), PluginSource::File(path.clone())))
        }
    }
}

/// Links the component against the engine's imports now, so that a plugin importing
/// something Moat does not provide fails to load rather than at its first call.
fn link(
    engine: &FilterEngine,
    name: &str,
    component: &Component,
) -> Result<PluginPre<StoreState>, LoadError> {
    let link_error = |e: wasmtime::Error| LoadError::Link {
        plugin: name.to_owned(),
        reason: format!("{e:#}"),
    };
    let instance_pre = engine
        .linker()
        .instantiate_pre(component)
        .map_err(link_error)?;
    PluginPre::new(instance_pre).map_err(link_error)
}

/// What the plugin may use, from its settings: the granted capabilities, its kv namespace
/// (opened, under the operator's quota, only when `kv` is granted) and its config table.
fn plugin_host(
    ctx: &LoadContext<'_>,
    name: &str,
    settings: &PluginSettings,
) -> Result<PluginHost, LoadError> {
    let capabilities = settings.capabilities.clone().unwrap_or_default();
    let kv = if capabilities.contains(&Capability::Kv) {
        Some(open_namespace(ctx, name)?)
    } else {
        None
    };
    let plugin_config = match &settings.config {
        Some(table) => match serde_json::to_value(table) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    Ok(PluginHost {
        name: name.to_owned(),
        services: ctx.services.clone(),
        dns_granted: capabilities.contains(&Capability::Dns),
        kv,
        ocr_granted: capabilities.contains(&Capability::Ocr),
        config: plugin_config,
        denied: Default::default(),
    })
}

/// Opens the kv namespace of plugin `name`, wrapped in the operator's quota and counted in
/// the kv metrics.
fn open_namespace(ctx: &LoadContext<'_>, name: &str) -> Result<Arc<dyn KvNamespace>, LoadError> {
    let kv_error = |e: crate::store::KvError| LoadError::Kv {
        plugin: name.to_owned(),
        reason: e.to_string(),
    };
    let namespace = ctx.kv.namespace(name).map_err(kv_error)?;
    let quota = if ctx.kv.is_shared() {
        QuotaNamespace::shared(namespace, ctx.kv_quota)
    } else {
        QuotaNamespace::new(namespace, ctx.kv_quota).map_err(kv_error)?
    };
    Ok(Arc::new(crate::filter::kv_metrics::Metered::new(
        Arc::new(quota),
        name,
        ctx.services.metrics.kv_for_plugin(name),
    )))
}

/// Compiles `bytes`, or loads the cached compilation.
fn compile(
    engine: &FilterEngine,
    name: &str,
    bytes: &[u8],
    cache_dir: &Path,
) -> Result<Component, LoadError> {
    let compile_error = |e: wasmtime::Error| LoadError::Compile {
        plugin: name.to_owned(),
        reason: format!("{e:#}"),
    };
    let path = cache_dir.join(format!("{}.cwasm", cache_key(engine, bytes)));
    if path.exists() {
        // SAFETY: the cache directory is Moat's own (under its data dir) and only ever
        // holds files Moat wrote from `precompile_component` and renamed into place
        // atomically; the key covers the engine's compatibility hash.
        match unsafe { Component::deserialize_file(engine.engine(), &path) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::debug!(plugin = name, error = %e, "stale compiled-plugin cache entry, recompiling")
            }
        }
    }
    let compiled = engine
        .engine()
        .precompile_component(bytes)
        .map_err(compile_error)?;
    let cache_error = |source| LoadError::Cache {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(cache_dir).map_err(cache_error)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &compiled).map_err(cache_error)?;
    std::fs::rename(&tmp, &path).map_err(cache_error)?;
    // SAFETY: `compiled` was produced by `precompile_component` of this very engine.
    unsafe { Component::deserialize(engine.engine(), &compiled) }.map_err(compile_error)
}

fn cache_key(engine: &FilterEngine, bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine
        .engine()
        .precompile_compatibility_hash()
        .hash(&mut hasher);
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{hex}-{:016x}", hasher.finish())
}

/// Puts the plugins named in `order` first, in that order; then the bundled plugins in
/// their canonical order (annotation producers such as ocr before their readers such as
/// bayes); then the rest in name order.
fn order(plugins: &mut [Arc<LoadedPlugin>], order: &[String]) {
    plugins.sort_by_key(|p| {
        let bundled_rank = match &p.source {
            PluginSource::Bundled(name) => bundled::rank(name),
            PluginSource::File(_) => usize::MAX,
        };
        (
            order
                .iter()
                .position(|n| *n == p.name)
                .unwrap_or(usize::MAX),
            bundled_rank,
            p.name.clone(),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_without_its_wasm_and_a_bad_file_name_are_errors_naming_the_files() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["a.wasm", "a.toml", "b.toml", "notes.txt", "Bad.wasm"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let found: Vec<String> = plugin_dir_candidates(dir.path())
            .unwrap()
            .into_iter()
            .map(|candidate| match candidate {
                Ok(c) => format!("plugin {} named by file: {}", c.name, c.named_by_file),
                Err(e) => e.to_string(),
            })
            .collect();
        let at = |file: &str| dir.path().join(file).display().to_string();
        assert_eq!(
            found,
            [
                format!(
                    "{}: plugin file names must be 1-64 characters of a-z, 0-9, '-' and '_' \
                     before .wasm",
                    at("Bad.wasm")
                ),
                "plugin a named by file: true".to_owned(),
                format!(
                    "{} has no plugin beside it: {} does not exist (name the settings after \
                     the plugin's .wasm file, or remove them)",
                    at("b.toml"),
                    at("b.wasm")
                ),
            ]
        );
    }
}
