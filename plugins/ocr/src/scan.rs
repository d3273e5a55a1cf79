//! Which parts are read, in what order and within what bounds, and what became of each.
//!
//! Candidates are the attachments (inline images of `multipart/related`, referenced from
//! HTML by `cid:`, are attachments too), then the data: URIs. A part *declared* PNG, JPEG
//! or GIF is an image: when it cannot be read, a skip is reported. A part declared
//! `application/octet-stream`, another `image/*` type or named `*.png`, `*.jpg`, `*.gif`
//! is read only if its bytes turn out to be PNG, JPEG or GIF; otherwise it is passed over
//! in silence. Every limit is checked before the host is asked: bytes before fetching,
//! pixels (from the header) before the engine runs.

use std::fmt;

use moat_sdk::Attachment;
use moat_sdk::ocr::OcrError;

use crate::config::Config;
use crate::data_uri::DataUri;
use crate::image::ImageKind;
use crate::text;

/// The longest text kept from one image.
const MAX_IMAGE_TEXT_BYTES: usize = 64 * 1024;

/// File name endings that make an attachment worth sniffing whatever its declared type.
const IMAGE_EXTENSIONS: &[&str] = &[".png", ".jpg", ".jpeg", ".jpe", ".gif"];

/// What the plugin needs from the gateway, so the scan can be tested natively.
pub(crate) trait Host {
    /// `Message::attachment_bytes`.
    fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>>;
    /// `ocr::recognize`.
    fn recognize(&mut self, image: &[u8], media_type: &str) -> Result<String, OcrError>;
    /// `clock::now_millis`.
    fn now_ms(&mut self) -> u64;
}

/// Where an image came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A MIME part, by its attachment index.
    Attachment {
        /// `Attachment::index`.
        index: u32,
        /// Its file name, if it has one.
        name: Option<String>,
    },
    /// The n-th data: URI (from 1).
    DataUri(usize),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attachment { index, name: None } => write!(f, "attachment {index}"),
            Self::Attachment {
                index,
                name: Some(name),
            } => write!(f, "attachment {index} ({name:?})"),
            Self::DataUri(n) => write!(f, "data: URI {n}"),
        }
    }
}

/// Why an image was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SkipKind {
    /// Over the plugin's byte or pixel limit, or the engine's limits.
    TooLarge,
    /// Not the image it claims to be, an unreadable header, or the engine failed on it.
    Corrupt,
    /// The engine does not read this format.
    Unsupported,
    /// The engine timed out, or the plugin's time budget was spent before it.
    Timeout,
    /// Beyond `max_images`.
    TooMany,
}

/// An image not read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Skip {
    /// The kind of reason; it names the symbol.
    pub(crate) kind: SkipKind,
    /// The reason in words, for the symbol's detail.
    pub(crate) reason: String,
}

impl Skip {
    fn new(kind: SkipKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}

/// What became of one image: its text (possibly empty), or why it was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ImageReport {
    /// Where it came from.
    pub(crate) source: Source,
    /// The recognized text, or the skip.
    pub(crate) outcome: Result<String, Skip>,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Every image read or skipped, in order.
    pub(crate) reports: Vec<ImageReport>,
    /// Set when the engine answered `NotConfigured` or `Denied`; the scan stopped there.
    pub(crate) unavailable: Option<OcrError>,
}

/// What a part is, judged before its bytes are fetched.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Screen {
    /// Worth fetching; `declared` when its media type says PNG, JPEG or GIF.
    Candidate {
        /// Declared as one of the formats read.
        declared: bool,
    },
    /// Not an image the plugin reads.
    Ignore,
}

/// Whether an attachment is worth fetching (see the module docs).
pub(crate) fn screen(attachment: &Attachment) -> Screen {
    let media_type = attachment.content_type.as_str();
    if ImageKind::from_media_type(media_type).is_some() {
        return Screen::Candidate { declared: true };
    }
    let name = attachment
        .name
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let sniffable = media_type.is_empty()
        || media_type.starts_with("image/")
        || media_type == "application/octet-stream"
        || IMAGE_EXTENSIONS.iter().any(|ext| name.ends_with(ext));
    if sniffable {
        Screen::Candidate { declared: false }
    } else {
        Screen::Ignore
    }
}

/// What fetched bytes turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Classified {
    /// An image to send to the engine.
    Image(ImageKind),
    /// Not an image the plugin reads, and not declared as one: ignored.
    NotAnImage,
    /// An image that is not sent to the engine.
    Skip(Skip),
}

/// Judges `bytes` by their magic and header. `declared` is the media type when it says
/// PNG, JPEG or GIF: such a part whose bytes are none of these is corrupt.
pub(crate) fn classify(declared: Option<&str>, bytes: &[u8], max_pixels: u64) -> Classified {
    let Some(kind) = ImageKind::sniff(bytes) else {
        return match declared {
            Some(media_type) => Classified::Skip(Skip::new(
                SkipKind::Corrupt,
                format!("declared {media_type}, but the bytes are not PNG, JPEG or GIF"),
            )),
            None => Classified::NotAnImage,
        };
    };
    let name = kind.name();
    match kind.dimensions(bytes) {
        None => Classified::Skip(Skip::new(
            SkipKind::Corrupt,
            format!("{name} header is unreadable"),
        )),
        Some((width, height)) if width == 0 || height == 0 => Classified::Skip(Skip::new(
            SkipKind::Corrupt,
            format!("{name} of {width}x{height} pixels"),
        )),
        Some((width, height)) if u64::from(width) * u64::from(height) > max_pixels => {
            Classified::Skip(Skip::new(
                SkipKind::TooLarge,
                format!("{name} of {width}x{height} pixels, over max_pixels = {max_pixels}"),
            ))
        }
        Some(_) => Classified::Image(kind),
    }
}

/// The skip an engine error means; `None` when the engine is not available to this
/// plugin at all (`NotConfigured`, `Denied`).
pub(crate) fn skip_for(error: OcrError, kind: ImageKind) -> Option<Skip> {
    let skip = match error {
        OcrError::NotConfigured | OcrError::Denied => return None,
        OcrError::TooLarge => Skip::new(SkipKind::TooLarge, "over the OCR engine's limits"),
        OcrError::Timeout => Skip::new(SkipKind::Timeout, "the OCR engine timed out"),
        OcrError::UnsupportedFormat => Skip::new(
            SkipKind::Unsupported,
            format!("the OCR engine does not read {}", kind.media_type()),
        ),
        OcrError::Failed => Skip::new(SkipKind::Corrupt, "the OCR engine could not read it"),
        other => Skip::new(SkipKind::Corrupt, other.to_string()),
    };
    Some(skip)
}

/// Reads the images among `attachments` and `data_uris` with the engine, within the
/// limits of `config`.
pub(crate) fn scan(
    host: &mut impl Host,
    attachments: &[Attachment],
    data_uris: &[DataUri],
    config: &Config,
) -> Scan {
    let started_ms = host.now_ms();
    let mut scanner = Scanner {
        host,
        config,
        started_ms,
        read: 0,
        scan: Scan::default(),
    };
    for attachment in attachments {
        let Screen::Candidate { declared } = screen(attachment) else {
            continue;
        };
        let source = Source::Attachment {
            index: attachment.index,
            name: attachment.name.clone(),
        };
        let declared = declared.then_some(attachment.content_type.as_str());
        scanner.consider(source, declared, attachment.size, |host| {
            host.attachment_bytes(attachment.index)
                .ok_or_else(|| Skip::new(SkipKind::Corrupt, "the gateway returned no bytes"))
        });
    }
    for (n, uri) in data_uris.iter().enumerate() {
        let declared = ImageKind::from_media_type(&uri.media_type)
            .is_some()
            .then_some(uri.media_type.as_str());
        let size = u64::try_from(uri.decoded_len()).unwrap_or(u64::MAX);
        scanner.consider(Source::DataUri(n + 1), declared, size, |_| {
            uri.decode()
                .ok_or_else(|| Skip::new(SkipKind::Corrupt, "the base64 payload does not decode"))
        });
    }
    scanner.scan
}

/// The state of one scan.
struct Scanner<'a, H> {
    host: &'a mut H,
    config: &'a Config,
    started_ms: u64,
    /// Images sent to the engine so far.
    read: u32,
    scan: Scan,
}

impl<H: Host> Scanner<'_, H> {
    /// Takes one candidate of `size` bytes through the limits, fetches it, judges it and
    /// reads it. Skips are reported only for parts `declared` as an image; the rest are
    /// passed over in silence.
    fn consider(
        &mut self,
        source: Source,
        declared: Option<&str>,
        size: u64,
        fetch: impl FnOnce(&mut H) -> Result<Vec<u8>, Skip>,
    ) {
        if self.scan.unavailable.is_some() {
            return;
        }
        if let Err(skip) = self.check_limits(size) {
            if declared.is_some() {
                self.report(source, Err(skip));
            }
            return;
        }
        let bytes = match fetch(self.host) {
            Ok(bytes) => bytes,
            Err(skip) => {
                if declared.is_some() {
                    self.report(source, Err(skip));
                }
                return;
            }
        };
        let kind = match classify(declared, &bytes, self.config.max_pixels) {
            Classified::Image(kind) => kind,
            Classified::NotAnImage => return,
            Classified::Skip(skip) => return self.report(source, Err(skip)),
        };
        self.read += 1;
        match self.host.recognize(&bytes, kind.media_type()) {
            Ok(mut found) => {
                text::truncate(&mut found, MAX_IMAGE_TEXT_BYTES);
                self.report(source, Ok(found));
            }
            Err(error) => match skip_for(error, kind) {
                Some(skip) => self.report(source, Err(skip)),
                None => self.scan.unavailable = Some(error),
            },
        }
    }

    /// The limits checked before a part is fetched: its size, the number of images
    /// already read, the time spent.
    fn check_limits(&mut self, size: u64) -> Result<(), Skip> {
        let config = self.config;
        if size > config.max_image_bytes {
            return Err(Skip::new(
                SkipKind::TooLarge,
                format!(
                    "{size} bytes, over max_image_bytes = {}",
                    config.max_image_bytes
                ),
            ));
        }
        if self.read >= config.max_images {
            return Err(Skip::new(
                SkipKind::TooMany,
                format!("over max_images = {}", config.max_images),
            ));
        }
        let spent = self.host.now_ms().saturating_sub(self.started_ms);
        if spent >= config.time_budget_ms {
            return Err(Skip::new(
                SkipKind::Timeout,
                format!(
                    "{spent} ms spent, over time_budget_ms = {}",
                    config.time_budget_ms
                ),
            ));
        }
        Ok(())
    }

    fn report(&mut self, source: Source, outcome: Result<String, Skip>) {
        self.scan.reports.push(ImageReport { source, outcome });
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::scan as run_scan;
    use super::*;
    use crate::data_uri;
    use crate::image::tests::{gif_header, jpeg_header, png_header};

    /// A gateway with attachments in memory, an engine that answers by the image's bytes
    /// (empty text for an image it was not told about), and a clock that each engine run
    /// moves on by `ms_per_call`.
    #[derive(Default)]
    struct Fake {
        bytes: BTreeMap<u32, Vec<u8>>,
        answers: Vec<(Vec<u8>, Result<String, OcrError>)>,
        asked: Vec<String>,
        fetched: Vec<u32>,
        now_ms: u64,
        ms_per_call: u64,
    }

    impl Host for Fake {
        fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>> {
            self.fetched.push(index);
            self.bytes.get(&index).cloned()
        }

        fn recognize(&mut self, image: &[u8], media_type: &str) -> Result<String, OcrError> {
            self.asked.push(media_type.to_owned());
            self.now_ms += self.ms_per_call;
            self.answers
                .iter()
                .find(|(bytes, _)| bytes == image)
                .map_or(Ok(String::new()), |(_, answer)| answer.clone())
        }

        fn now_ms(&mut self) -> u64 {
            self.now_ms
        }
    }

    impl Fake {
        /// Adds attachment `index` with these bytes; returns its info.
        fn attach(&mut self, index: u32, content_type: &str, bytes: Vec<u8>) -> Attachment {
            let info = Attachment {
                index,
                name: None,
                content_type: content_type.to_owned(),
                size: bytes.len() as u64,
                content_id: None,
            };
            self.bytes.insert(index, bytes);
            info
        }

        fn answer(&mut self, bytes: &[u8], answer: Result<&str, OcrError>) {
            self.answers
                .push((bytes.to_vec(), answer.map(str::to_owned)));
        }
    }

    fn outcomes(scan: &Scan) -> Vec<Result<&str, SkipKind>> {
        scan.reports
            .iter()
            .map(|report| match &report.outcome {
                Ok(text) => Ok(text.as_str()),
                Err(skip) => Err(skip.kind),
            })
            .collect()
    }

    #[test]
    fn screens_by_declared_type_and_name() {
        let part = |content_type: &str, name: Option<&str>| Attachment {
            index: 0,
            name: name.map(str::to_owned),
            content_type: content_type.to_owned(),
            size: 10,
            content_id: None,
        };
        let declared = Screen::Candidate { declared: true };
        let sniffed = Screen::Candidate { declared: false };
        assert_eq!(screen(&part("image/png", None)), declared);
        assert_eq!(screen(&part("image/jpg", None)), declared);
        assert_eq!(screen(&part("image/gif", None)), declared);
        assert_eq!(screen(&part("application/octet-stream", None)), sniffed);
        assert_eq!(screen(&part("image/webp", None)), sniffed);
        assert_eq!(screen(&part("", None)), sniffed);
        assert_eq!(
            screen(&part("application/x-stuff", Some("Scan.PNG"))),
            sniffed
        );
        assert_eq!(
            screen(&part("application/pdf", Some("a.pdf"))),
            Screen::Ignore
        );
        assert_eq!(screen(&part("application/zip", None)), Screen::Ignore);
    }

    #[test]
    fn classifies_by_magic_and_header() {
        let png = png_header(760, 140);
        assert_eq!(
            classify(None, &png, 1_000_000),
            Classified::Image(ImageKind::Png)
        );
        // A JPEG declared PNG is read as the JPEG it is.
        assert_eq!(
            classify(Some("image/png"), &jpeg_header(760, 140), 1_000_000),
            Classified::Image(ImageKind::Jpeg)
        );
        assert_eq!(
            classify(None, b"%PDF-1.4", 1_000_000),
            Classified::NotAnImage
        );
        let Classified::Skip(skip) = classify(Some("image/png"), b"<html>", 1_000_000) else {
            panic!("a PNG that is not one is corrupt");
        };
        assert_eq!(skip.kind, SkipKind::Corrupt);
        assert_eq!(
            skip.reason,
            "declared image/png, but the bytes are not PNG, JPEG or GIF"
        );
        let Classified::Skip(skip) = classify(None, &png[..18], 1_000_000) else {
            panic!("a truncated header is corrupt");
        };
        assert_eq!(skip.reason, "PNG header is unreadable");
        let Classified::Skip(skip) = classify(None, &gif_header(0, 10), 1_000_000) else {
            panic!("zero pixels is corrupt");
        };
        assert_eq!(skip.kind, SkipKind::Corrupt);
    }

    #[test]
    fn image_bombs_are_refused_by_their_header() {
        let bomb = png_header(100_000, 100_000);
        let Classified::Skip(skip) = classify(Some("image/png"), &bomb, 25_000_000) else {
            panic!("a bomb must be skipped");
        };
        assert_eq!(skip.kind, SkipKind::TooLarge);
        assert_eq!(
            skip.reason,
            "PNG of 100000x100000 pixels, over max_pixels = 25000000"
        );
        // The limit itself is allowed.
        assert_eq!(
            classify(None, &png_header(5_000, 5_000), 25_000_000),
            Classified::Image(ImageKind::Png)
        );
        // The largest header a PNG can declare: u32 × u32 fits in u64 without overflow.
        assert_eq!(
            classify(None, &png_header(u32::MAX, u32::MAX), u64::MAX - 1),
            Classified::Image(ImageKind::Png)
        );
    }

    #[test]
    fn maps_engine_errors_to_skips() {
        let kind = |error| skip_for(error, ImageKind::Gif).map(|skip| skip.kind);
        assert_eq!(kind(OcrError::TooLarge), Some(SkipKind::TooLarge));
        assert_eq!(kind(OcrError::Timeout), Some(SkipKind::Timeout));
        assert_eq!(kind(OcrError::Failed), Some(SkipKind::Corrupt));
        assert_eq!(
            kind(OcrError::UnsupportedFormat),
            Some(SkipKind::Unsupported)
        );
        assert_eq!(kind(OcrError::NotConfigured), None);
        assert_eq!(kind(OcrError::Denied), None);
        assert_eq!(
            skip_for(OcrError::UnsupportedFormat, ImageKind::Gif)
                .unwrap()
                .reason,
            "the OCR engine does not read image/gif"
        );
    }

    #[test]
    fn reads_declared_and_sniffed_images_in_order() {
        let mut host = Fake::default();
        let png = png_header(760, 140);
        let jpeg = jpeg_header(760, 140);
        host.answer(&png, Ok("CHEAP VIAGRA"));
        host.answer(&jpeg, Ok("Replica watches"));
        let attachments = vec![
            host.attach(0, "image/png", png),
            host.attach(1, "application/pdf", b"%PDF".to_vec()),
            host.attach(2, "application/octet-stream", jpeg),
            host.attach(3, "application/octet-stream", b"PK\x03\x04".to_vec()),
        ];
        let scan = run_scan(&mut host, &attachments, &[], &Config::default());
        assert_eq!(outcomes(&scan), [Ok("CHEAP VIAGRA"), Ok("Replica watches")]);
        assert_eq!(host.asked, ["image/png", "image/jpeg"]);
        assert_eq!(host.fetched, [0, 2, 3], "the PDF is never fetched");
        assert_eq!(scan.reports[0].source.to_string(), "attachment 0");
        assert!(scan.unavailable.is_none());
    }

    #[test]
    fn limits_are_checked_before_the_host_is_asked() {
        let mut host = Fake::default();
        let config = Config {
            max_image_bytes: 100,
            max_images: 2,
            ..Config::default()
        };
        let mut huge = png_header(760, 140);
        huge.resize(101, 0);
        let mut big_blob = b"\xFF\xD8\xFF".to_vec();
        big_blob.resize(5_000, 0);
        let mut attachments = vec![
            host.attach(0, "image/png", huge),
            host.attach(1, "application/octet-stream", big_blob),
            host.attach(2, "image/png", png_header(100_000, 100_000)),
            host.attach(3, "image/gif", b"GIF89a".to_vec()),
        ];
        for index in 4..8 {
            attachments.push(host.attach(index, "image/gif", gif_header(10, 10)));
        }
        let scan = run_scan(&mut host, &attachments, &[], &config);
        assert_eq!(
            outcomes(&scan),
            [
                Err(SkipKind::TooLarge),
                Err(SkipKind::TooLarge),
                Err(SkipKind::Corrupt),
                Ok(""),
                Ok(""),
                Err(SkipKind::TooMany),
                Err(SkipKind::TooMany),
            ]
        );
        assert_eq!(
            host.fetched,
            [2, 3, 4, 5],
            "neither the huge nor the surplus are fetched"
        );
        assert_eq!(host.asked.len(), 2);
        let Err(skip) = &scan.reports[0].outcome else {
            panic!()
        };
        assert_eq!(skip.reason, "101 bytes, over max_image_bytes = 100");
    }

    #[test]
    fn stops_at_the_time_budget() {
        let mut host = Fake {
            ms_per_call: 3_000,
            now_ms: 1_000_000,
            ..Fake::default()
        };
        let attachments: Vec<Attachment> = (0..5)
            .map(|index| host.attach(index, "image/png", png_header(10, 10)))
            .collect();
        let scan = run_scan(&mut host, &attachments, &[], &Config::default());
        assert_eq!(
            outcomes(&scan),
            [
                Ok(""),
                Ok(""),
                Ok(""),
                Err(SkipKind::Timeout),
                Err(SkipKind::Timeout)
            ]
        );
        let Err(skip) = &scan.reports[3].outcome else {
            panic!()
        };
        assert_eq!(skip.reason, "9000 ms spent, over time_budget_ms = 8000");
    }

    #[test]
    fn engine_errors_become_skips_and_unavailability_stops_the_scan() {
        let mut host = Fake::default();
        let broken = png_header(1, 1);
        let slow = png_header(2, 2);
        let big = png_header(3, 3);
        host.answer(&broken, Err(OcrError::Failed));
        host.answer(&slow, Err(OcrError::Timeout));
        host.answer(&big, Err(OcrError::TooLarge));
        let attachments = vec![
            host.attach(0, "image/png", broken),
            host.attach(1, "image/png", slow),
            host.attach(2, "image/png", big),
        ];
        let scan = run_scan(&mut host, &attachments, &[], &Config::default());
        assert_eq!(
            outcomes(&scan),
            [
                Err(SkipKind::Corrupt),
                Err(SkipKind::Timeout),
                Err(SkipKind::TooLarge)
            ]
        );

        let mut host = Fake::default();
        let first = png_header(1, 1);
        host.answer(&first, Err(OcrError::NotConfigured));
        let attachments = vec![
            host.attach(0, "image/png", first),
            host.attach(1, "image/png", png_header(2, 2)),
        ];
        let scan = run_scan(&mut host, &attachments, &[], &Config::default());
        assert_eq!(scan.unavailable, Some(OcrError::NotConfigured));
        assert!(scan.reports.is_empty());
        assert_eq!(host.asked.len(), 1, "asked once, then stopped");
    }

    #[test]
    fn reads_data_uris_after_attachments() {
        let mut host = Fake::default();
        let gif = gif_header(20, 20);
        host.answer(&gif, Ok("casino"));
        let html = "<img src=\"data:image/gif;base64,R0lGODlhFAAUAPcAAA==\">\
                    <img src=\"data:image/png;base64,PGh0bWw+\">\
                    <img src=\"data:image/webp;base64,UklGRg==\">\
                    <img src=\"data:image/png;base64,A===B\">";
        let uris = data_uri::find(html.as_bytes(), 10, 1000);
        let scan = run_scan(&mut host, &[], &uris, &Config::default());
        assert_eq!(
            outcomes(&scan),
            [Ok("casino"), Err(SkipKind::Corrupt), Err(SkipKind::Corrupt)],
            "the webp is passed over"
        );
        assert_eq!(scan.reports[0].source, Source::DataUri(1));
        assert_eq!(scan.reports[2].source.to_string(), "data: URI 4");
    }
}
