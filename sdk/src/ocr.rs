//! Text recognition in images, by the engine the operator configured (tesseract by
//! default, run out of process with time and size limits). Requires the `ocr` capability.
//!
//! ```no_run
//! use moat_sdk::{ocr, Message};
//!
//! fn image_text(message: &Message) -> String {
//!     let mut text = String::new();
//!     for image in message.attachments() {
//!         if !image.content_type.starts_with("image/") {
//!             continue;
//!         }
//!         let Some(bytes) = message.attachment_bytes(image.index) else { continue };
//!         if let Ok(found) = ocr::recognize(&bytes, &image.content_type) {
//!             text.push_str(&found);
//!         }
//!     }
//!     text
//! }
//! ```

use std::fmt;

use crate::bindings::moat::filter::ocr as wit;
use crate::bindings::moat::filter::ocr::OcrError as WitOcrError;

/// Why no text came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OcrError {
    /// The operator configured no OCR engine (`engine = none` in the `[ocr]` section).
    NotConfigured,
    /// The image type is not one the engine reads.
    UnsupportedFormat,
    /// The image exceeds the configured byte or pixel limits; it was not read.
    TooLarge,
    /// The engine did not finish within the time limit and was stopped.
    Timeout,
    /// The engine failed on this image (corrupt data).
    Failed,
    /// The operator did not grant this plugin the `ocr` capability.
    Denied,
}

impl OcrError {
    fn from_wit(error: WitOcrError) -> Self {
        match error {
            WitOcrError::NotConfigured => Self::NotConfigured,
            WitOcrError::UnsupportedFormat => Self::UnsupportedFormat,
            WitOcrError::TooLarge => Self::TooLarge,
            WitOcrError::Timeout => Self::Timeout,
            WitOcrError::Failed => Self::Failed,
            WitOcrError::Denied => Self::Denied,
        }
    }
}

impl fmt::Display for OcrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotConfigured => "no OCR engine is configured",
            Self::UnsupportedFormat => "the OCR engine does not read this image type",
            Self::TooLarge => "the image exceeds the OCR size limits",
            Self::Timeout => "OCR timed out",
            Self::Failed => "OCR failed on this image",
            Self::Denied => "the plugin was not granted the ocr capability",
        })
    }
}

impl std::error::Error for OcrError {}

/// The text in `image` (the raw bytes of a PNG, JPEG or GIF), given its media type such
/// as `"image/png"` (as in [`Attachment::content_type`](crate::Attachment::content_type)).
pub fn recognize(image: &[u8], content_type: &str) -> Result<String, OcrError> {
    wit::recognize(image, content_type).map_err(OcrError::from_wit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_errors() {
        assert_eq!(
            OcrError::from_wit(WitOcrError::TooLarge),
            OcrError::TooLarge
        );
        assert_eq!(OcrError::from_wit(WitOcrError::Denied), OcrError::Denied);
    }
}
