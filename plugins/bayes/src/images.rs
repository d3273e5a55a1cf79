//! The text of a message's images when learning. At the data stage the ocr plugin has
//! read the images already and left their text in the `ocr-text` annotation; `moat learn`
//! has no session and so no annotation, and without image text a model trained on image
//! spam would never learn what the images say. So the `learn` export asks the OCR engine
//! itself (the `ocr` capability), for the same images and in the same form as the ocr
//! plugin's annotation: one line per image, whitespace collapsed, at most 16 KiB.
//!
//! Only attachments and inline (`cid:`) images are read, not `data:` URIs in HTML. The
//! engine's own bounds (size, pixels, frames, memory, timeout) apply; its cache makes a
//! second read of one image (learning a message just checked) cheap.

use moat_sdk::ocr::OcrError;

/// What the reader needs from the gateway: attachment bytes, the OCR engine, a clock.
pub trait ImageSource {
    /// The decoded bytes of attachment `index`.
    fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>>;
    /// The text the engine reads in `image` of this media type.
    fn recognize(&mut self, image: &[u8], media_type: &str) -> Result<String, OcrError>;
    /// Milliseconds since some fixed point.
    fn now_ms(&mut self) -> u64;
}

/// An attachment as the reader sees it (the gateway's attachment info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The index for [`ImageSource::attachment_bytes`].
    pub index: u32,
    /// The declared media type, lower-case.
    pub content_type: String,
    /// The file name, if any.
    pub name: Option<String>,
    /// The decoded size in bytes.
    pub size: u64,
}

/// The limits of one read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// At most this many images are sent to the engine.
    pub max_images: usize,
    /// Larger attachments are not fetched.
    pub max_image_bytes: u64,
    /// No image is fetched once this many milliseconds have passed.
    pub budget_ms: u64,
}

impl Default for Limits {
    /// The ocr plugin's defaults for the first two; the budget fits the gateway's
    /// default 1 s plugin call.
    fn default() -> Self {
        Self {
            max_images: 8,
            max_image_bytes: 5 * 1024 * 1024,
            budget_ms: 600,
        }
    }
}

/// The longest text kept, as the ocr plugin's annotation.
const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The text of the images among `candidates`, in order, one image per line; `None` when
/// no image gave any text or OCR is unavailable (not configured, capability denied).
pub fn read(
    source: &mut impl ImageSource,
    candidates: &[Candidate],
    limits: Limits,
) -> Option<String> {
    let started = source.now_ms();
    let mut texts: Vec<String> = Vec::new();
    let mut sent = 0;
    for candidate in candidates.iter().filter(|c| may_be_image(c)) {
        if sent >= limits.max_images
            || candidate.size > limits.max_image_bytes
            || source.now_ms().saturating_sub(started) >= limits.budget_ms
        {
            continue;
        }
        let Some(bytes) = source.attachment_bytes(candidate.index) else {
            continue;
        };
        let Some(media_type) = sniff(&bytes) else {
            continue;
        };
        sent += 1;
        match source.recognize(&bytes, media_type) {
            Ok(text) => {
                let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                if !text.is_empty() {
                    texts.push(text);
                }
            }
            Err(OcrError::NotConfigured | OcrError::Denied) => return None,
            Err(_) => {}
        }
    }
    if texts.is_empty() {
        return None;
    }
    let mut joined = texts.join("\n");
    if joined.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !joined.is_char_boundary(end) {
            end -= 1;
        }
        joined.truncate(end);
    }
    Some(joined)
}

/// Whether an attachment may be an image, as the ocr plugin decides: declared as an
/// image, as `application/octet-stream` or with no type, or named like one. The bytes
/// decide in the end ([`sniff`]).
fn may_be_image(candidate: &Candidate) -> bool {
    let declared = candidate.content_type.as_str();
    let named = candidate.name.as_deref().is_some_and(|name| {
        let name = name.to_ascii_lowercase();
        [".png", ".jpg", ".jpeg", ".jpe", ".gif"]
            .iter()
            .any(|ext| name.ends_with(ext))
    });
    declared.starts_with("image/")
        || declared.is_empty()
        || declared == "application/octet-stream"
        || named
}

/// The media type the magic bytes say: PNG, JPEG or GIF.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\nrest";
    const JPEG: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2];

    /// A gateway whose attachments are `parts`, whose engine answers `answers` in turn
    /// and whose clock advances `step_ms` at every reading.
    struct Fake {
        parts: Vec<Vec<u8>>,
        answers: Vec<Result<String, OcrError>>,
        asked: Vec<String>,
        clock: u64,
        step_ms: u64,
    }

    impl Fake {
        fn new(parts: &[&[u8]], answers: Vec<Result<&str, OcrError>>) -> Self {
            Self {
                parts: parts.iter().map(|p| p.to_vec()).collect(),
                answers: answers
                    .into_iter()
                    .map(|a| a.map(str::to_owned))
                    .rev()
                    .collect(),
                asked: Vec::new(),
                clock: 0,
                step_ms: 0,
            }
        }
    }

    impl ImageSource for Fake {
        fn attachment_bytes(&mut self, index: u32) -> Option<Vec<u8>> {
            self.parts.get(index as usize).cloned()
        }

        fn recognize(&mut self, _image: &[u8], media_type: &str) -> Result<String, OcrError> {
            self.asked.push(media_type.to_owned());
            self.answers.pop().unwrap_or(Ok(String::new()))
        }

        fn now_ms(&mut self) -> u64 {
            self.clock += self.step_ms;
            self.clock
        }
    }

    fn candidate(index: u32, content_type: &str, name: Option<&str>) -> Candidate {
        Candidate {
            index,
            content_type: content_type.to_owned(),
            name: name.map(str::to_owned),
            size: 100,
        }
    }

    #[test]
    fn reads_images_in_order_one_line_each() {
        let mut fake = Fake::new(
            &[PNG, b"%PDF-1.4", JPEG],
            vec![Ok("Fast  Personal\nLoans "), Ok("Bad credit accepted")],
        );
        let candidates = [
            candidate(0, "image/png", None),
            candidate(1, "application/pdf", Some("a.pdf")),
            candidate(2, "application/octet-stream", Some("x.bin")),
        ];
        let text = read(&mut fake, &candidates, Limits::default());
        assert_eq!(
            text.as_deref(),
            Some("Fast Personal Loans\nBad credit accepted")
        );
        // The declared type is not trusted: the bytes say JPEG.
        assert_eq!(fake.asked, ["image/png", "image/jpeg"]);
    }

    #[test]
    fn non_images_and_empty_texts_give_nothing() {
        let mut fake = Fake::new(&[b"GIF8", PNG], vec![Ok("  \n ")]);
        let candidates = [
            candidate(0, "image/gif", None),
            candidate(1, "image/png", None),
        ];
        assert_eq!(read(&mut fake, &candidates, Limits::default()), None);
        assert_eq!(fake.asked, ["image/png"], "a truncated GIF is not sent");
    }

    #[test]
    fn stops_when_ocr_is_unavailable() {
        for error in [OcrError::Denied, OcrError::NotConfigured] {
            let mut fake = Fake::new(&[PNG, PNG], vec![Err(error), Ok("text")]);
            let candidates = [candidate(0, "image/png", None), candidate(1, "", None)];
            assert_eq!(read(&mut fake, &candidates, Limits::default()), None);
            assert_eq!(fake.asked.len(), 1);
        }
        // Other errors skip the image only.
        let mut fake = Fake::new(&[PNG, PNG], vec![Err(OcrError::Timeout), Ok("text")]);
        let candidates = [
            candidate(0, "image/png", None),
            candidate(1, "", Some("b.PNG")),
        ];
        assert_eq!(
            read(&mut fake, &candidates, Limits::default()).as_deref(),
            Some("text")
        );
    }

    #[test]
    fn limits_are_held() {
        let candidates: Vec<Candidate> = (0..5).map(|i| candidate(i, "image/png", None)).collect();
        let parts = [PNG; 5];
        let limits = Limits {
            max_images: 2,
            ..Limits::default()
        };
        let mut fake = Fake::new(&parts, vec![Ok("a1"), Ok("b2"), Ok("c3")]);
        assert_eq!(
            read(&mut fake, &candidates, limits).as_deref(),
            Some("a1\nb2")
        );

        let mut big = candidates.clone();
        big[0].size = 6 * 1024 * 1024;
        let mut fake = Fake::new(&parts, vec![Ok("a1"), Ok("b2")]);
        assert_eq!(
            read(&mut fake, &big[..2], Limits::default()).as_deref(),
            Some("a1")
        );

        // The clock moves 200 ms each time it is read: the third image would start 600 ms
        // after the first reading, which is the budget.
        let mut fake = Fake::new(&parts, vec![Ok("a1"), Ok("b2"), Ok("c3")]);
        fake.step_ms = 200;
        assert_eq!(
            read(&mut fake, &candidates, Limits::default()).as_deref(),
            Some("a1\nb2")
        );
    }

    #[test]
    fn text_is_cut_at_16_kib() {
        let long = "é".repeat(10_000);
        let mut fake = Fake::new(&[PNG], vec![Ok(&long)]);
        let text = read(
            &mut fake,
            &[candidate(0, "image/png", None)],
            Limits::default(),
        )
        .unwrap();
        assert_eq!(text.len(), 16 * 1024);
    }
}
