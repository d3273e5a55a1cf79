//! `ocr`: text from images through the configured engine.

use crate::config::Capability;
use crate::filter::bindings::moat::filter::ocr::{Host, OcrError as WitOcrError};
use crate::filter::store::StoreState;
use crate::ocr::OcrError;

impl Host for StoreState {
    async fn recognize(
        &mut self,
        image: Vec<u8>,
        content_type: String,
    ) -> wasmtime::Result<Result<String, WitOcrError>> {
        if !self.host.ocr_granted {
            self.host.deny(Capability::Ocr);
            return Ok(Err(WitOcrError::Denied));
        }
        let engine = self.host.services.ocr.clone();
        Ok(engine
            .recognize(&image, &content_type)
            .await
            .map_err(|e| match e {
                OcrError::NotConfigured => WitOcrError::NotConfigured,
                OcrError::UnsupportedFormat { .. } => WitOcrError::UnsupportedFormat,
                OcrError::TooLarge { .. } => WitOcrError::TooLarge,
                OcrError::Timeout { .. } => WitOcrError::Timeout,
                OcrError::Failed { .. } => WitOcrError::Failed,
            }))
    }
}
