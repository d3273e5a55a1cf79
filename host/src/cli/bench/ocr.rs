//! `moat bench ocr`: what OCR costs per image through the engine of `[ocr]` (tesseract
//! unless the config names another) behind its limits, pool and cache: every image read
//! cold (first sight, the engine runs), then read again many times (the cache hit path:
//! header check, SHA-256, lookup).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::latency::quantile;
use crate::cli::ConfigArgs;
use crate::cli::output::say;
use crate::config::OcrEngineKind;
use crate::message::mailbox::files_under;
use crate::ocr::engine_from_config;

/// `moat bench ocr` arguments.
#[derive(Debug, clap::Args)]
pub struct OcrArgs {
    /// A folder of images (PNG, JPEG, GIF), searched recursively.
    #[arg(long, value_name = "DIR", default_value = "../shared/corpus/images")]
    pub images: PathBuf,
    /// Cached reads per image.
    #[arg(long, default_value_t = 2000)]
    pub hits: usize,
    /// The configuration whose `[ocr]` section is measured (default: the embedded one,
    /// with the tesseract engine).
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs the benchmark.
pub(super) async fn run(args: OcrArgs) -> anyhow::Result<ExitCode> {
    let mut ocr = args.config.load()?.ocr;
    if args.config.config.is_none() {
        ocr.engine = OcrEngineKind::Tesseract;
    }
    let images = images_in(&args.images)?;
    if images.is_empty() {
        bail!("no PNG, JPEG or GIF images under {}", args.images.display());
    }
    let engine = engine_from_config(&ocr);
    say!(
        "engine {:?}, {} images, pool {}, cache {} entries",
        ocr.engine,
        images.len(),
        ocr.concurrency,
        ocr.cache_entries
    );
    let mut cold = Vec::with_capacity(images.len());
    let mut words = 0;
    for (path, bytes) in &images {
        let started = Instant::now();
        let text = engine
            .recognize(bytes, "image/png")
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        cold.push(started.elapsed());
        words += text.split_whitespace().count();
    }
    let mut hits = Vec::with_capacity(images.len() * args.hits);
    let started = Instant::now();
    for _ in 0..args.hits {
        for (_, bytes) in &images {
            let one = Instant::now();
            let _ = engine.recognize(bytes, "image/png").await;
            hits.push(one.elapsed());
        }
    }
    let hit_elapsed = started.elapsed();
    cold.sort();
    hits.sort();
    let kib =
        images.iter().map(|(_, b)| b.len()).sum::<usize>() as f64 / 1024.0 / images.len() as f64;
    say!("mean image {kib:.1} KiB, {words} words read in all");
    say!(
        "{:<8} {:>8} {:>12} {:>12} {:>12} {:>12}",
        "path",
        "reads",
        "reads/s",
        "p50",
        "p99",
        "max"
    );
    row("cold", &cold, cold.iter().sum());
    row("cached", &hits, hit_elapsed);
    Ok(ExitCode::SUCCESS)
}

fn row(name: &str, sorted: &[Duration], elapsed: Duration) {
    let show = |d: Duration| {
        if d >= Duration::from_millis(10) {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        } else {
            format!("{:.1} µs", d.as_secs_f64() * 1e6)
        }
    };
    say!(
        "{name:<8} {:>8} {:>12.0} {:>12} {:>12} {:>12}",
        sorted.len(),
        sorted.len() as f64 / elapsed.as_secs_f64(),
        show(quantile(sorted, 0.5)),
        show(quantile(sorted, 0.99)),
        show(sorted.last().copied().unwrap_or_default()),
    );
}

/// The images under `dir`, sorted by path.
fn images_in(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let is_image = |path: &Path| {
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["png", "jpg", "jpeg", "gif"].contains(&e.to_ascii_lowercase().as_str())
        })
    };
    files_under(&[dir.to_path_buf()])?
        .into_iter()
        .filter(|path| is_image(path))
        .map(|path| {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok((path, bytes))
        })
        .collect()
}
