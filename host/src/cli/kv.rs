//! `moat kv export` and `moat kv import`: the plugins' kv namespaces as JSON lines, to move
//! a gateway's learnt state from its embedded store into the site's Redis:
//!
//! ```text
//! moat kv export --config moat.toml | moat kv import --config moat-redis.toml
//! ```
//!
//! One line per string key (`{"namespace", "key", "value"}`, the value in base64) and
//! per id counter (`{"namespace", "id", "count"}`). Import sets keys and brings each id
//! counter to the exported count, so importing twice changes nothing. The embedded store
//! is read from the data dir, so the gateway using it must be stopped. Expiry deadlines
//! are not carried: an imported key keeps until its plugin writes it again and gives it
//! a new one (reputation does within a day of its next update).

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ConfigArgs;
use crate::config::Config;
use crate::filter::assemble::{KV_DIR, redis_settings};
use crate::store::{Database, FjallKv, KvBackend, KvNamespace, RedisKv, ScanLimit};

/// `moat kv ...`
#[derive(Debug, clap::Subcommand)]
pub enum KvCommand {
    /// Write the namespaces of the configured kv backend as JSON lines on stdout.
    Export {
        /// Config and data dir (`[kv] backend` says where the namespaces are).
        #[command(flatten)]
        config: ConfigArgs,
        /// Only this namespace (a plugin's name); repeatable. Default: every one.
        #[arg(long = "namespace", value_name = "NAME")]
        namespaces: Vec<String>,
    },
    /// Read JSON lines (from `moat kv export`) on stdin into the configured kv backend.
    Import {
        /// Config and data dir (`[kv] backend` says where the namespaces go).
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// One exported entry.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum Line {
    /// A string key and its value (base64).
    Key {
        namespace: String,
        key: String,
        value: String,
    },
    /// An id counter.
    Counter {
        namespace: String,
        id: u64,
        count: i64,
    },
}

/// Id counters written per call.
const BATCH: usize = 1000;

/// Runs the command.
pub(super) async fn run(command: KvCommand) -> anyhow::Result<ExitCode> {
    tokio::task::spawn_blocking(move || match command {
        KvCommand::Export { config, namespaces } => export(&config.load()?, namespaces),
        KvCommand::Import { config } => import(&config.load()?),
    })
    .await?
}

/// The kv backend `config` names: Redis, or the embedded store in its data dir.
fn backend(config: &Config) -> anyhow::Result<Arc<dyn KvBackend>> {
    if let Some(settings) = redis_settings(config)? {
        let redis = RedisKv::new(&settings)?;
        redis.ping().context("Redis does not answer")?;
        return Ok(Arc::new(redis));
    }
    let dir = config.server.data_dir.join(KV_DIR);
    let database = Database::open(&dir).with_context(|| {
        format!(
            "cannot open the kv store in {} (stop the gateway that uses it first)",
            dir.display()
        )
    })?;
    Ok(Arc::new(FjallKv::new(database)))
}

fn export(config: &Config, mut namespaces: Vec<String>) -> anyhow::Result<ExitCode> {
    let backend = backend(config)?;
    if namespaces.is_empty() {
        namespaces = backend.namespaces()?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (mut keys, mut counters) = (0usize, 0usize);
    for name in &namespaces {
        let namespace = backend.namespace(name)?;
        keys += export_keys(&*namespace, name, &mut out)?;
        for (id, count) in namespace.counters_all()? {
            let line = Line::Counter {
                namespace: name.clone(),
                id,
                count,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
            counters += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "exported {keys} keys and {counters} id counters of {} namespaces",
        namespaces.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes every string key of `namespace`; how many.
fn export_keys(
    namespace: &dyn KvNamespace,
    name: &str,
    out: &mut impl std::io::Write,
) -> anyhow::Result<usize> {
    let mut after: Option<String> = None;
    let mut written = 0;
    loop {
        let page = namespace.scan("", after.as_deref(), ScanLimit::entries(BATCH))?;
        let Some((last, _)) = page.last() else {
            return Ok(written);
        };
        after = Some(last.clone());
        for (key, value) in page {
            let line = Line::Key {
                namespace: name.to_owned(),
                key,
                value: BASE64.encode(value),
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
            written += 1;
        }
    }
}

fn import(config: &Config) -> anyhow::Result<ExitCode> {
    let backend = backend(config)?;
    let mut open: std::collections::HashMap<String, Arc<dyn KvNamespace>> = Default::default();
    let mut pending: std::collections::HashMap<String, Vec<(u64, i64)>> = Default::default();
    let (mut keys, mut counters) = (0usize, 0usize);
    for (number, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not a line of moat kv export", number + 1))?;
        let name = match &parsed {
            Line::Key { namespace, .. } | Line::Counter { namespace, .. } => namespace.clone(),
        };
        if !open.contains_key(&name) {
            open.insert(name.clone(), backend.namespace(&name)?);
        }
        match parsed {
            Line::Key { key, value, .. } => {
                let Ok(value) = BASE64.decode(value) else {
                    bail!("line {}: the value is not base64", number + 1);
                };
                open[&name].set(&key, &value)?;
                keys += 1;
            }
            Line::Counter { id, count, .. } => {
                let batch = pending.entry(name.clone()).or_default();
                batch.push((id, count));
                counters += 1;
                if batch.len() >= BATCH {
                    set_counters(&*open[&name], std::mem::take(batch))?;
                }
            }
        }
    }
    for (name, batch) in pending {
        set_counters(&*open[&name], batch)?;
    }
    eprintln!(
        "imported {keys} keys and {counters} id counters into {} namespaces",
        open.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Brings each id counter to its count.
fn set_counters(namespace: &dyn KvNamespace, counts: Vec<(u64, i64)>) -> anyhow::Result<()> {
    let ids: Vec<u64> = counts.iter().map(|(id, _)| *id).collect();
    let current = namespace.counters_get(&ids)?;
    let deltas: Vec<(u64, i64)> = counts
        .iter()
        .zip(current)
        .map(|((id, count), now)| (*id, count.saturating_sub(now)))
        .filter(|(_, delta)| *delta != 0)
        .collect();
    namespace.counters_add(&deltas, &[], u64::MAX)?;
    Ok(())
}
