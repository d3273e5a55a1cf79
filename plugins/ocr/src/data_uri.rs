//! Images embedded as `data:image/...;base64,` URIs, which have no MIME part of their
//! own. The host's `html-parts` are HTML converted to text, without tags and so without
//! `src` attributes; the URIs are therefore searched in the raw message. The payload is
//! read through quoted-printable soft line breaks and `=3D`, so quoted-printable HTML
//! parts work as well as 7bit and 8bit ones; an HTML part sent base64-encoded is not
//! searched.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Standard base64, padding optional: payloads cut by soft line breaks lose it at times.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// What every image data URI starts with, compared case-insensitively.
const PREFIX: &[u8] = b"data:image/";

/// The longest media subtype and parameter section read (`png;name=x;base64`).
const MAX_HEADER: usize = 256;

/// One `data:image/...;base64,` URI found in the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DataUri {
    /// The declared media type, lower-case, e.g. `image/png`.
    pub(crate) media_type: String,
    /// The number of base64 characters in the payload.
    pub(crate) encoded_len: usize,
    /// The base64 payload; `None` when it was longer than the caller's limit.
    encoded: Option<String>,
}

impl DataUri {
    /// The decoded size in bytes (up to two bytes more than the real one).
    pub(crate) fn decoded_len(&self) -> usize {
        self.encoded_len.div_ceil(4) * 3
    }

    /// The decoded image; `None` when the payload was over the limit or is not base64.
    pub(crate) fn decode(&self) -> Option<Vec<u8>> {
        BASE64.decode(self.encoded.as_deref()?).ok()
    }
}

/// The first `max_uris` image data URIs in `raw`, in order. Payloads of more than
/// `max_encoded` base64 characters are measured but not kept.
pub(crate) fn find(raw: &[u8], max_uris: usize, max_encoded: usize) -> Vec<DataUri> {
    let mut found = Vec::new();
    let mut at = 0;
    while found.len() < max_uris {
        let Some(offset) = find_prefix(&raw[at..]) else {
            break;
        };
        let start = at + offset + PREFIX.len();
        match parse(&raw[start..], max_encoded) {
            Some((uri, used)) => {
                found.push(uri);
                at = start + used;
            }
            None => at = start,
        }
    }
    found
}

/// Where `data:image/` starts, in any case.
fn find_prefix(bytes: &[u8]) -> Option<usize> {
    // From each colon (rare in text, and found a vector at a time), look back for `data`
    // and on for `image/`: a window compared at every byte cost this plugin more than
    // everything else it does with a message without images.
    const SCHEME: usize = b"data".len();
    memchr::memchr_iter(b':', bytes).find_map(|colon| {
        let start = colon.checked_sub(SCHEME)?;
        let window = bytes.get(start..start + PREFIX.len())?;
        window.eq_ignore_ascii_case(PREFIX).then_some(start)
    })
}

/// Reads what follows `data:image/`: subtype, parameters ending in `;base64`, a comma,
/// the payload. Returns the URI and the bytes used; `None` if this is not a base64 image
/// URI.
fn parse(bytes: &[u8], max_encoded: usize) -> Option<(DataUri, usize)> {
    let header_len = bytes.iter().take(MAX_HEADER).position(|&b| b == b',')?;
    let header = std::str::from_utf8(&bytes[..header_len]).ok()?;
    let mut params = header.split(';');
    let subtype = params.next()?.to_ascii_lowercase();
    let subtype_ok = !subtype.is_empty()
        && subtype
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
    if !subtype_ok || !params.next_back()?.trim().eq_ignore_ascii_case("base64") {
        return None;
    }
    let (encoded, encoded_len, used) = payload(&bytes[header_len + 1..], max_encoded);
    let uri = DataUri {
        media_type: format!("image/{subtype}"),
        encoded_len,
        encoded,
    };
    Some((uri, header_len + 1 + used))
}

/// Reads a base64 payload up to the first byte that cannot belong to it, skipping line
/// breaks and quoted-printable soft line breaks, and reading `=3D` as `=`. Returns the
/// payload (or `None` beyond `max_encoded` characters), its length and the bytes used.
fn payload(bytes: &[u8], max_encoded: usize) -> (Option<String>, usize, usize) {
    let mut encoded = String::new();
    let mut len = 0;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let rest = &bytes[at..];
        let (kept, step) = match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => (Some(byte), 1),
            b'\r' | b'\n' => (None, 1),
            b'=' if rest.starts_with(b"=\r\n") => (None, 3),
            b'=' if rest.starts_with(b"=\n") => (None, 2),
            b'=' if rest.len() >= 3 && rest[1..3].eq_ignore_ascii_case(b"3d") => (Some(b'='), 3),
            b'=' => (Some(b'='), 1),
            _ => break,
        };
        if let Some(kept) = kept {
            len += 1;
            if len <= max_encoded {
                encoded.push(char::from(kept));
            }
        }
        at += step;
    }
    let encoded = (len <= max_encoded).then_some(encoded);
    (encoded, len, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `iVBORw0KGgo=` is the 8-byte PNG signature.
    const PNG_B64: &str = "iVBORw0KGgo=";

    #[test]
    fn finds_base64_image_uris_in_html() {
        let html = format!(
            "<p>Hi</p><img src=\"data:image/png;base64,{PNG_B64}\" alt=x>\
             <img src='DATA:IMAGE/JPEG;name=a.jpg;BASE64,/9j/'>"
        );
        let uris = find(html.as_bytes(), 10, 1000);
        assert_eq!(uris.len(), 2);
        assert_eq!(uris[0].media_type, "image/png");
        assert_eq!(uris[0].encoded_len, 12);
        assert_eq!(uris[0].decode().unwrap(), b"\x89PNG\r\n\x1a\n");
        assert_eq!(uris[1].media_type, "image/jpeg");
        assert_eq!(uris[1].decode().unwrap(), [0xFF, 0xD8, 0xFF]);
    }

    #[test]
    fn reads_through_quoted_printable_and_line_breaks() {
        let qp = "<img src=3D\"data:image/png;base64,iVBORw0K=\r\nGgo=3D\">";
        let uris = find(qp.as_bytes(), 10, 1000);
        assert_eq!(uris[0].decode().unwrap(), b"\x89PNG\r\n\x1a\n");
        let wrapped = "url(data:image/gif;base64,R0lG\nODlh)";
        let uris = find(wrapped.as_bytes(), 10, 1000);
        assert_eq!(uris[0].media_type, "image/gif");
        assert_eq!(uris[0].decode().unwrap(), b"GIF89a");
    }

    #[test]
    fn ignores_what_is_not_a_base64_image() {
        let text = "data:image/svg+xml;utf8,<svg/> data:text/plain;base64,aGk= \
                    data:image/;base64,AAAA data:image/png,AAAA data:image/p n g;base64,AAAA";
        assert!(find(text.as_bytes(), 10, 1000).is_empty());
        assert!(find(b"", 10, 1000).is_empty());
        assert!(find(b"data:image/png;base64", 10, 1000).is_empty());
    }

    #[test]
    fn bad_base64_does_not_decode() {
        let uris = find(b"data:image/png;base64,A===B\"", 10, 1000);
        assert_eq!(uris.len(), 1);
        assert_eq!(uris[0].decode(), None);
    }

    #[test]
    fn bounds_count_and_size() {
        let one = format!("<img src=\"data:image/png;base64,{PNG_B64}\">");
        let many = one.repeat(5);
        assert_eq!(find(many.as_bytes(), 3, 1000).len(), 3);

        let uris = find(one.as_bytes(), 10, 8);
        assert_eq!(uris[0].encoded_len, 12);
        assert_eq!(uris[0].decoded_len(), 9);
        assert_eq!(uris[0].decode(), None, "over the limit: measured, not kept");
    }

    #[test]
    fn the_prefix_is_found_where_a_window_at_every_byte_finds_it() {
        let naive = |bytes: &[u8]| {
            bytes
                .windows(PREFIX.len())
                .position(|window| window.eq_ignore_ascii_case(PREFIX))
        };
        for text in [
            &b"data:image/png"[..],
            b"DATA:IMAGE/gif",
            b"x:data:Image/",
            b"ata:image/ data:image",
            b"data:image",
            b"::::data:image/:",
            b"http://a data:text/ dAtA:iMaGe/jpeg",
            b"",
            b":",
            b"no colon here",
        ] {
            assert_eq!(
                find_prefix(text),
                naive(text),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn non_utf8_bytes_around_are_harmless() {
        let mut raw = vec![0xFF, 0xFE];
        raw.extend_from_slice(format!("data:image/png;base64,{PNG_B64}").as_bytes());
        raw.extend_from_slice(&[0xC3, 0x28]);
        assert_eq!(find(&raw, 10, 1000).len(), 1);
    }
}
