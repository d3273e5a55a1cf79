//! Moat's bundled OCR plugin: reads the text in a message's images (PNG, JPEG, GIF;
//! attachments, inline `cid:` images and `data:` URIs) with the gateway's OCR engine,
//! leaves it for later plugins under the annotation `ocr-text`, and scores spam phrases
//! in images, messages that are mostly image, and image text unrelated to the body.
//!
//! Needs the `ocr` capability; without it (or without an engine) it says nothing. The
//! README lists the symbols, the settings and the rules.
//!
//! # Layout
//!
//! * `scan`: which parts are read, within which limits, and what became of each.
//! * `image`: the real format from magic bytes, and dimensions from the header.
//! * `data_uri`: `data:image/...;base64,` URIs in the raw message.
//! * `text`: words, word counts and phrase search tolerant of OCR noise.
//! * `rules`: from image texts and body text to the verdict (pure).
//! * `config`, `phrases`: the settings and the default phrase list.

mod config;
mod data_uri;
mod image;
mod phrases;
mod rules;
mod scan;
mod text;

use moat_sdk::ocr::{self, OcrError};
use moat_sdk::{Message, Plugin, PluginInfo, Session, Stage, Verdict, clock, log};

use crate::config::Config;
use crate::data_uri::DataUri;
use crate::scan::Host;

/// The most data: URIs looked at in one message.
const MAX_DATA_URIS: usize = 64;

/// The plugin: reads the images at the data stage.
pub struct Ocr;

impl Plugin for Ocr {
    fn describe() -> PluginInfo {
        PluginInfo::new("ocr", env!("CARGO_PKG_VERSION"), [Stage::Data]).default_weight(1.0)
    }

    fn on_data(_session: &Session, message: &Message) -> Verdict {
        let config = load_config();
        let attachments = message.attachments();
        let data_uris = data_uris(message, &config);
        if attachments.is_empty() && data_uris.is_empty() {
            return Verdict::new();
        }
        let scan = scan::scan(&mut Gateway { message }, &attachments, &data_uris, &config);
        if let Some(error) = scan.unavailable {
            log::debug(&format!("{error}: the ocr plugin has nothing to say"));
            return Verdict::new();
        }
        if scan.reports.is_empty() {
            return Verdict::new();
        }
        let body_text = message.body_text();
        rules::evaluate(&scan.reports, &body_text, &config, &config.phrase_list())
    }
}

moat_sdk::export_plugin!(Ocr);

/// The gateway: the message's attachments, the OCR engine and the clock.
struct Gateway<'m> {
    message: &'m Message,
}

impl Host for Gateway<'_> {
    fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>> {
        self.message.attachment_bytes(index)
    }

    fn recognize(&mut self, image: &[u8], media_type: &str) -> Result<String, OcrError> {
        ocr::recognize(image, media_type)
    }

    fn now_ms(&mut self) -> u64 {
        clock::now_millis()
    }
}

/// The data: URIs of the message, when enabled and the message may hold HTML: its
/// top-level type is `text/html` or `multipart/*` (a message without a Content-Type is
/// plain text). Messages over `max_scan_bytes` are not searched.
fn data_uris(message: &Message, config: &Config) -> Vec<DataUri> {
    if !config.scan_data_uris || message.size() > config.max_scan_bytes {
        return Vec::new();
    }
    let content_type = message
        .header("Content-Type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let may_hold_html = content_type.contains("html") || content_type.contains("multipart/");
    if !may_hold_html {
        return Vec::new();
    }
    let max_image_bytes = usize::try_from(config.max_image_bytes).unwrap_or(usize::MAX);
    let max_encoded = max_image_bytes.saturating_mul(4) / 3 + 4;
    data_uri::find(&message.raw(), MAX_DATA_URIS, max_encoded)
}

/// The configuration; a bad table is logged as an error and replaced by the defaults,
/// an unusable value by its default.
fn load_config() -> Config {
    let (config, problems) = moat_sdk::config::all_or_default::<Config>().validated();
    for problem in problems {
        log::error(&problem);
    }
    config
}
