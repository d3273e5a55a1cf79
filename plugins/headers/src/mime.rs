//! Checks on the message's MIME structure: ASCII text sent in base64, and HTML that is
//! pictures with little text. Each check is one pass over text the plugin already holds,
//! without allocating per word. (A text alternative that says something else than the
//! HTML one was measured and not kept; the README says why.)

use crate::rules::{Facts, Finding};
use crate::symbols::{HTML_IMAGES_LITTLE_TEXT, MIME_BASE64_TEXT, MIME_QP_LONG_LINE};

/// With fewer words than this (of three letters or more), HTML with images has little
/// text.
pub(crate) const LITTLE_TEXT_WORDS: usize = 40;

/// What one pass over the raw message's header blocks (the message's own and each MIME
/// part's) found about transfer encodings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TransferScan {
    /// Parts of type `text/*` (or without a type, so `text/plain`) sent in base64.
    pub(crate) base64_text_parts: usize,
    /// Lines of quoted-printable bodies longer than [`QP_MAX_LINE`].
    pub(crate) qp_long_lines: usize,
}

/// RFC 2045 §6.7: encoded lines of quoted-printable text are at most 76 characters.
pub(crate) const QP_MAX_LINE: usize = 76;

/// One header block being read: what its `Content-Type` and
/// `Content-Transfer-Encoding` say.
#[derive(Default)]
struct Block {
    text_or_untyped: bool,
    typed: bool,
    base64: bool,
    quoted_printable: bool,
    /// The last field was `Content-Type` with its value on the next line.
    type_pending: bool,
}

impl Block {
    fn field(&mut self, line: &[u8]) {
        if line
            .first()
            .is_some_and(|&byte| byte == b' ' || byte == b'\t')
        {
            if self.type_pending {
                self.content_type(line);
            }
            return;
        }
        self.type_pending = false;
        let Some(colon) = line.iter().position(|&byte| byte == b':') else {
            return;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-type") {
            self.content_type(value);
        } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
            let starts = |word: &[u8]| {
                trim(value)
                    .get(..word.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(word))
            };
            self.base64 = starts(b"base64");
            self.quoted_printable = starts(b"quoted-printable");
        }
    }

    fn content_type(&mut self, value: &[u8]) {
        let value = trim(value);
        if value.is_empty() {
            self.type_pending = true;
            return;
        }
        self.type_pending = false;
        self.typed = true;
        self.text_or_untyped = value
            .get(..5)
            .is_some_and(|word| word.eq_ignore_ascii_case(b"text/"));
    }

    fn is_base64_text(&self) -> bool {
        self.base64 && (self.text_or_untyped || !self.typed)
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(start, |end| end + 1);
    &bytes[start..end]
}

/// Reads the header blocks of `raw`: the message's, and the one after each line that
/// starts with `--` (a MIME boundary, or a body line that merely looks like one; such a
/// block rarely holds a transfer encoding, so no boundary bookkeeping is needed).
pub(crate) fn scan_transfer(raw: &[u8]) -> TransferScan {
    let mut scan = TransferScan::default();
    let mut block = Some(Block::default());
    let mut in_quoted_printable = false;
    for line in crate::raw::lines(raw) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match &mut block {
            Some(current) if line.is_empty() => {
                if current.is_base64_text() {
                    scan.base64_text_parts += 1;
                }
                in_quoted_printable = current.quoted_printable;
                block = None;
            }
            Some(current) => current.field(line),
            None if line.len() > 2 && line.starts_with(b"--") => block = Some(Block::default()),
            None if in_quoted_printable && line.len() > QP_MAX_LINE => scan.qp_long_lines += 1,
            None => {}
        }
    }
    scan
}

/// MIME_QP_LONG_LINE: a quoted-printable body has lines longer than MIME allows, which
/// an encoder never writes: the text was pasted into the part by hand or by a template.
pub(crate) fn qp_long_line(facts: &Facts) -> Option<Finding> {
    let lines = facts.transfer?.qp_long_lines;
    (lines > 0).then(|| {
        Finding::new(
            MIME_QP_LONG_LINE,
            format!("{lines} quoted-printable line(s) over {QP_MAX_LINE} characters"),
        )
    })
}

/// MIME_BASE64_TEXT: a text part sent in base64 although all the text is ASCII, which
/// no mail program needs to do: bulk senders do it to hide words from simple filters.
/// (Base64 for non-ASCII text is ordinary, so it does not count.)
pub(crate) fn base64_text(facts: &Facts) -> Option<Finding> {
    let parts = facts.transfer?.base64_text_parts;
    if parts == 0 {
        return None;
    }
    let ascii = facts
        .text_parts
        .iter()
        .chain(&facts.html_sources)
        .all(|part| part.is_ascii());
    ascii.then(|| {
        Finding::new(
            MIME_BASE64_TEXT,
            format!("{parts} text part(s) in base64, all ASCII"),
        )
    })
}

/// The words of `text`: runs of letters and digits, at least three characters long.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|ch: char| !ch.is_alphanumeric())
        .filter(|word| word.chars().nth(2).is_some())
}

/// How many `<img` tags `html` has (ASCII case-insensitive).
fn img_tags(html: &str) -> usize {
    crate::html::tag_ends(html, "img").count()
}

/// HTML_IMAGES_LITTLE_TEXT: HTML that is mostly pictures (`<img>` tags) with few words,
/// the shape of image spam that hides its text from content filters. Image attachments
/// alone do not count: a short note with holiday photos is ham.
pub(crate) fn images_little_text(facts: &Facts) -> Option<Finding> {
    let images: usize = facts.html_sources.iter().map(|html| img_tags(html)).sum();
    if images == 0 {
        return None;
    }
    // Counting stops at the threshold: only fewer words matter.
    let count = |parts: &[String]| -> usize {
        parts
            .iter()
            .flat_map(|part| words(part))
            .take(LITTLE_TEXT_WORDS)
            .count()
    };
    // Alternatives say the same thing twice: the longer one is the message's text.
    let text_words = count(&facts.text_parts).max(count(&facts.html_parts));
    (text_words < LITTLE_TEXT_WORDS).then(|| {
        Finding::new(
            HTML_IMAGES_LITTLE_TEXT,
            format!("{images} <img> tags and {text_words} words of text"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean;

    #[test]
    fn long_lines_count_in_quoted_printable_bodies_only() {
        let long = "x".repeat(QP_MAX_LINE + 1);
        let fits = "y".repeat(QP_MAX_LINE);
        let message = format!(
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\n{long}\r\n{fits}\r\n{long}\r\n\
             --b\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{long}\r\n--b--\r\n"
        );
        let scan = scan_transfer(message.as_bytes());
        assert_eq!(scan.qp_long_lines, 2);
        let facts = Facts {
            transfer: Some(scan),
            ..clean()
        };
        assert_eq!(
            qp_long_line(&facts).unwrap().detail,
            "2 quoted-printable line(s) over 76 characters"
        );
        let single = format!("Content-Transfer-Encoding: Quoted-Printable\n\n{long}\n");
        assert_eq!(scan_transfer(single.as_bytes()).qp_long_lines, 1);
        let plain = format!("Subject: x\n\n{long}\n");
        assert_eq!(scan_transfer(plain.as_bytes()).qp_long_lines, 0);
    }

    const MULTIPART: &str = "From: a@example.org\r\n\
        Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        SGVsbG8=\r\n\
        --b1\r\n\
        Content-Type: image/gif\r\n\
        Content-Transfer-Encoding: base64\r\n\
        \r\n\
        R0lGODlh\r\n\
        --b1--\r\n";

    #[test]
    fn scan_counts_base64_text_parts_only() {
        assert_eq!(scan_transfer(MULTIPART.as_bytes()).base64_text_parts, 1);
        let quoted = MULTIPART.replacen("base64", "quoted-printable", 1);
        assert_eq!(scan_transfer(quoted.as_bytes()).base64_text_parts, 0);
        assert_eq!(scan_transfer(b"").base64_text_parts, 0);
    }

    #[test]
    fn scan_reads_untyped_folded_and_lf_only_headers() {
        // No Content-Type: text/plain by default.
        let untyped = "Subject: x\nContent-Transfer-Encoding: BASE64\n\nSGVsbG8=\n";
        assert_eq!(scan_transfer(untyped.as_bytes()).base64_text_parts, 1);
        let folded = "Content-Type:\n\ttext/html\nContent-Transfer-Encoding: base64\n\nPGI+\n";
        assert_eq!(scan_transfer(folded.as_bytes()).base64_text_parts, 1);
        let folded_image = "Content-Type:\n image/png\nContent-Transfer-Encoding: base64\n\n";
        assert_eq!(scan_transfer(folded_image.as_bytes()).base64_text_parts, 0);
    }

    #[test]
    fn scan_ignores_body_lines_that_only_look_like_boundaries() {
        let signature = "Subject: x\n\nHi\n-- \nAlice, base64: yes\n\nmore\n";
        assert_eq!(scan_transfer(signature.as_bytes()).base64_text_parts, 0);
        let dashes = "Subject: x\n\n--\nContent-Transfer-Encoding: base64\n\nbody\n";
        assert_eq!(
            scan_transfer(dashes.as_bytes()).base64_text_parts,
            0,
            "`--` alone"
        );
    }

    #[test]
    fn base64_text_needs_ascii_text() {
        let mut facts = clean();
        assert_eq!(base64_text(&facts), None, "not scanned");
        facts.transfer = Some(TransferScan {
            base64_text_parts: 1,
            ..TransferScan::default()
        });
        let finding = base64_text(&facts).unwrap();
        assert_eq!(finding.symbol, MIME_BASE64_TEXT);
        assert_eq!(finding.detail, "1 text part(s) in base64, all ASCII");
        facts.text_parts = vec!["Grüße aus Köln".to_owned()];
        assert_eq!(base64_text(&facts), None);
        facts.transfer = Some(TransferScan::default());
        facts.text_parts = vec!["plain".to_owned()];
        assert_eq!(base64_text(&facts), None);
    }

    #[test]
    fn images_with_little_text() {
        let mut facts = clean();
        facts.text_parts.clear();
        facts.html_sources =
            vec!["<p>Buy <IMG src=\"http://x.example/a.gif\"><img src=b>".to_owned()];
        facts.html_parts = vec!["Buy now".to_owned()];
        let finding = images_little_text(&facts).unwrap();
        assert_eq!(finding.symbol, HTML_IMAGES_LITTLE_TEXT);
        assert_eq!(finding.detail, "2 <img> tags and 2 words of text");

        let long = "word ".repeat(LITTLE_TEXT_WORDS);
        facts.text_parts = vec![long];
        assert_eq!(
            images_little_text(&facts),
            None,
            "the text alternative is long"
        );

        let mut no_images = clean();
        no_images.html_sources = vec!["<p>imagine</p>".to_owned()];
        assert_eq!(images_little_text(&no_images), None);
    }

    #[test]
    fn words_are_three_characters_or_more() {
        assert_eq!(
            words("a bb ccc, dddd—éèê 1234").collect::<Vec<_>>(),
            ["ccc", "dddd", "éèê", "1234"]
        );
    }
}
