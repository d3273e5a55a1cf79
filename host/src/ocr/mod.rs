//! Text recognition behind the plugins' `ocr` capability. An engine is a trait object so
//! another engine (a different binary, an HTTP OCR service) is one more file. Until an
//! engine is configured, [`NoEngine`] answers every request with "not configured".

use std::future::Future;
use std::pin::Pin;

use crate::config::{OcrConfig, OcrEngineKind};

/// Why an engine returned no text.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OcrError {
    /// No engine is configured (`[ocr] engine = "none"`).
    #[error("no OCR engine is configured ([ocr] engine = \"none\")")]
    NotConfigured,
    /// The engine does not read this image type.
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
    /// The engine ran past its time limit and was stopped.
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

/// An OCR engine.
pub trait OcrEngine: Send + Sync + 'static {
    /// The text in `image`, of media type `content_type`.
    fn recognize<'a>(&'a self, image: &'a [u8], content_type: &'a str) -> OcrFuture<'a>;
}

/// The engine used when none is configured.
#[derive(Debug, Default)]
pub struct NoEngine;

impl OcrEngine for NoEngine {
    fn recognize<'a>(&'a self, _image: &'a [u8], _content_type: &'a str) -> OcrFuture<'a> {
        Box::pin(async { Err(OcrError::NotConfigured) })
    }
}

/// The engine the configuration asks for.
pub fn engine_from_config(config: &OcrConfig) -> std::sync::Arc<dyn OcrEngine> {
    match config.engine {
        OcrEngineKind::None => std::sync::Arc::new(NoEngine),
    }
}
