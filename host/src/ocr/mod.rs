//! Text recognition behind the plugins' `ocr` capability.
//!
//! An engine is a trait object, so another engine (a different binary, an HTTP OCR
//! service) is one more file. Whatever the engine, [`BoundedEngine`] holds it to the
//! operator's bounds: image size and pixel limits checked from the header before anything
//! decodes the image, a small pool so OCR cannot starve SMTP of CPU, and a cache by image
//! digest so an image sent in 10,000 messages is read once. The default engine is
//! [`Tesseract`], run out of process per image and killed at its time limit.

mod bounded;
mod cache;
mod frames;
mod image;
mod tesseract;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use bounded::{BoundedEngine, MAX_TEXT_BYTES};
pub use image::{CheckedImage, ImageFormat, ImageLimits};
pub use tesseract::Tesseract;

use crate::config::{OcrConfig, OcrEngineKind};

/// Why an engine returned no text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OcrError {
    /// No engine is configured (`[ocr] engine = "none"`), or its binary is missing.
    #[error("no OCR engine is configured ([ocr] engine = \"none\")")]
    NotConfigured,
    /// The bytes are not an image type the engine reads.
    #[error("the OCR engine does not read {content_type}")]
    UnsupportedFormat {
        /// The media type given.
        content_type: String,
    },
    /// The image exceeds the configured limits.
    #[error("image too large for OCR: {reason}")]
    TooLarge {
        /// Which limit.
        reason: String,
    },
    /// The engine ran past its time limit and was stopped, or no slot in the pool became
    /// free in time.
    #[error("OCR timed out after {millis} ms")]
    Timeout {
        /// The limit.
        millis: u64,
    },
    /// The engine failed on the image.
    #[error("OCR failed: {reason}")]
    Failed {
        /// What the engine said.
        reason: String,
    },
}

/// The future an engine returns.
pub type OcrFuture<'a> = Pin<Box<dyn Future<Output = Result<String, OcrError>> + Send + 'a>>;

/// Registers `engine`'s pool gauges in `registry`, read at each scrape (nothing for an
/// engine without a pool).
pub fn register_metrics(engine: &Arc<dyn OcrEngine>, registry: &crate::metrics::Registry) {
    let engine = Arc::clone(engine);
    registry.collect(move |out| {
        let Some(pool) = engine.pool() else {
            return;
        };
        out.family(
            "moat_ocr_slots",
            "gauge",
            "OCR pool slots (images read at once).",
        );
        out.sample("moat_ocr_slots", &[], pool.slots);
        out.family("moat_ocr_slots_busy", "gauge", "OCR pool slots in use.");
        out.sample("moat_ocr_slots_busy", &[], pool.busy);
        out.family("moat_ocr_cache_entries", "gauge", "OCR texts cached.");
        out.sample("moat_ocr_cache_entries", &[], pool.cached);
    });
}

/// How an engine's pool is used, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Slots: images read at once at most.
    pub slots: usize,
    /// Slots in use now.
    pub busy: usize,
    /// Texts cached (or being read).
    pub cached: usize,
}

/// An OCR engine.
pub trait OcrEngine: Send + Sync + 'static {
    /// The text in `image`, of media type `content_type`.
    fn recognize<'a>(&'a self, image: &'a [u8], content_type: &'a str) -> OcrFuture<'a>;

    /// How the engine's pool is used, if it has one.
    fn pool(&self) -> Option<PoolUse> {
        None
    }
}

/// The engine used when none is configured.
#[derive(Debug, Default)]
pub struct NoEngine;

impl OcrEngine for NoEngine {
    fn recognize<'a>(&'a self, _image: &'a [u8], _content_type: &'a str) -> OcrFuture<'a> {
        Box::pin(async { Err(OcrError::NotConfigured) })
    }
}

/// The engine the configuration asks for, behind its bounds. An engine whose binary
/// cannot be run is reported (a warning naming the package) and replaced by [`NoEngine`],
/// so the gateway still starts and the OCR plugin says nothing.
pub fn engine_from_config(config: &OcrConfig) -> Arc<dyn OcrEngine> {
    let inner: Arc<dyn OcrEngine> = match config.engine {
        OcrEngineKind::None => return Arc::new(NoEngine),
        OcrEngineKind::Tesseract => {
            let tesseract = Tesseract::new(
                config.command.clone(),
                config.languages.clone(),
                config.timeout.0,
                config.memory_limit.0,
            );
            match tesseract.probe() {
                Ok(version) => tracing::debug!(engine = %version, "OCR engine ready"),
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "OCR is off: [ocr] engine = \"tesseract\" but it cannot be run \
                         (Debian: apt-get install tesseract-ocr)"
                    );
                    return Arc::new(NoEngine);
                }
            }
            Arc::new(tesseract)
        }
    };
    let limits = ImageLimits {
        max_bytes: config.max_image_bytes.0,
        max_pixels: config.max_pixels,
        max_dimension: config.max_dimension,
        max_frames: config.max_frames,
    };
    Arc::new(BoundedEngine::new(
        inner,
        limits,
        config.concurrency,
        config.timeout.0,
        config.cache_entries,
    ))
}
