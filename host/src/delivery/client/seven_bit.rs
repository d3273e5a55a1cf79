//! 8-bit to 7-bit conversion for a next hop that does not offer 8BITMIME (RFC 6152 §3: such
//! a message must then be converted, or returned). As Postfix does by default: every body
//! part with 8-bit bytes that is sent as it is (no transfer encoding, `7bit`, `8bit` or
//! `binary`) is re-encoded as quoted-printable (RFC 2045 §6.7), and its
//! `Content-Transfer-Encoding` says so. Everything else stays byte for byte.
//!
//! Left as they are: 8-bit bytes in header fields (they need SMTPUTF8, not a transfer
//! encoding), and inside an attached `message/rfc822` or in a multipart's preamble, which
//! no encoding may cover. The message then goes as it is, as before.

use std::ops::Range;

use mail_parser::{Encoding, HeaderName, MessageParser, MessagePart, PartType};

/// The longest encoded line, without its CRLF (RFC 2045 §6.7 rule 5).
const MAX_LINE: usize = 76;

/// `message` with its 8-bit body parts quoted-printable, or `None` when nothing could be
/// converted (already 7-bit, not parsable, or 8-bit only where no encoding applies).
pub(super) fn downgrade(message: &[u8]) -> Option<Vec<u8>> {
    if message.is_ascii() {
        return None;
    }
    let parsed = MessageParser::default().parse(message)?;
    let top_is_mime = parsed
        .root_part()
        .headers
        .iter()
        .any(|h| h.name == HeaderName::MimeVersion);
    let edits = parsed
        .parts
        .iter()
        .enumerate()
        .filter_map(|(index, part)| part_edits(message, part, index == 0 && !top_is_mime))
        .flatten()
        .collect();
    apply(message, edits)
}

/// A range of the message's bytes and what replaces it.
type Edit = (Range<usize>, Vec<u8>);

/// The edits that send `part` of `message` quoted-printable, in message order: its
/// `Content-Transfer-Encoding` field (replaced, or added after its last field), and its
/// body encoded. `None` for a part that stays as it is: not a leaf with a body of its own,
/// already encoded, or 7-bit. `not_mime_yet`: the part is the body of a message without
/// `MIME-Version`, which the first edit then adds (with a `Content-Type` if it has none).
fn part_edits(message: &[u8], part: &MessagePart<'_>, not_mime_yet: bool) -> Option<[Edit; 2]> {
    if !matches!(
        part.body,
        PartType::Text(_) | PartType::Html(_) | PartType::Binary(_) | PartType::InlineBinary(_)
    ) || part.encoding != Encoding::None
    {
        return None;
    }
    let body = part.offset_body as usize..part.offset_end as usize;
    let bytes = message.get(body.clone())?;
    if bytes.is_ascii() {
        return None;
    }
    let mut header = b"Content-Transfer-Encoding: quoted-printable\r\n".to_vec();
    if not_mime_yet {
        // Not MIME yet: say so, and which charset the text is in (RFC 1428 when unknown).
        let charset = if std::str::from_utf8(bytes).is_ok() {
            "utf-8"
        } else {
            "unknown-8bit"
        };
        header.extend_from_slice(b"MIME-Version: 1.0\r\n");
        if !part
            .headers
            .iter()
            .any(|h| h.name == HeaderName::ContentType)
        {
            header.extend_from_slice(
                format!("Content-Type: text/plain; charset={charset}\r\n").as_bytes(),
            );
        }
    }
    let field = match part
        .headers
        .iter()
        .find(|h| h.name == HeaderName::ContentTransferEncoding)
    {
        Some(old) => old.offset_field as usize..old.offset_end as usize,
        None => {
            // After the last field, so trace fields (Received) stay on top (RFC 5321 §4.4).
            let at = part
                .headers
                .last()
                .map_or(part.offset_header, |h| h.offset_end) as usize;
            at..at
        }
    };
    Some([(field, header), (body, quoted_printable(bytes))])
}

/// `message` with `edits` made, or `None` when there are none, or when two overlap.
fn apply(message: &[u8], mut edits: Vec<Edit>) -> Option<Vec<u8>> {
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = Vec::with_capacity(message.len() + message.len() / 4);
    let mut at = 0;
    for (range, replacement) in edits {
        if range.start < at {
            // Overlapping edits would mean offsets we do not understand: send as it is.
            return None;
        }
        out.extend_from_slice(&message[at..range.start]);
        out.extend_from_slice(&replacement);
        at = range.end;
    }
    out.extend_from_slice(&message[at..]);
    Some(out)
}

/// `text` encoded quoted-printable, its CRLF line breaks kept as hard line breaks.
fn quoted_printable(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 3);
    let mut lines = text.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let (line, crlf) = match line.strip_suffix(b"\r") {
            Some(line) if !last => (line, true),
            _ => (line, !last),
        };
        encode_line(line, &mut out);
        if crlf {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// One line of quoted-printable, with soft line breaks (`=` CRLF) to keep within 76.
fn encode_line(line: &[u8], out: &mut Vec<u8>) {
    let mut width = 0;
    for (i, &byte) in line.iter().enumerate() {
        let at_end = i + 1 == line.len();
        let literal = (byte.is_ascii_graphic() && byte != b'=')
            || ((byte == b' ' || byte == b'\t') && !at_end);
        let len = if literal { 1 } else { 3 };
        // Room for the `=` of a soft break, unless this is the line's last character.
        let room = if at_end { MAX_LINE } else { MAX_LINE - 1 };
        if width + len > room {
            out.extend_from_slice(b"=\r\n");
            width = 0;
        }
        if literal {
            out.push(byte);
        } else {
            out.extend_from_slice(format!("={byte:02X}").as_bytes());
        }
        width += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded_text(message: &[u8]) -> Vec<String> {
        let parsed = MessageParser::default().parse(message).expect("parses");
        parsed
            .text_bodies()
            .map(|p| p.text_contents().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn a_seven_bit_message_is_left_alone() {
        assert_eq!(downgrade(b"Subject: hi\r\n\r\nplain\r\n"), None);
    }

    #[test]
    fn an_eight_bit_single_part_becomes_quoted_printable_and_reads_the_same() {
        let message = "MIME-Version: 1.0\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-8\r\n\
                       Content-Transfer-Encoding: 8bit\r\n\r\nCaf\u{e9} cr\u{e8}me = good\r\n.dot line \r\n";
        let out = downgrade(message.as_bytes()).expect("converted");
        assert!(out.is_ascii(), "{}", String::from_utf8_lossy(&out));
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("Content-Transfer-Encoding: quoted-printable\r\n"),
            "{text}"
        );
        assert!(!text.contains("8bit"), "{text}");
        assert!(
            text.contains("Caf=C3=A9 cr=C3=A8me =3D good\r\n.dot line=20\r\n"),
            "{text}"
        );
        assert_eq!(decoded_text(&out), decoded_text(message.as_bytes()));
    }

    #[test]
    fn only_the_eight_bit_parts_of_a_multipart_change() {
        let message = "MIME-Version: 1.0\r\nSubject: two\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                       --b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nascii only\r\n\
                       --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nStra\u{df}e\r\n\
                       --b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n\
                       --b--\r\n";
        let out = downgrade(message.as_bytes()).expect("converted");
        let text = String::from_utf8(out.clone()).expect("7-bit");
        assert!(text.is_ascii());
        assert_eq!(text.matches("quoted-printable").count(), 1, "{text}");
        assert!(
            text.contains("--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nStra=C3=9Fe\r\n--b"),
            "{text}"
        );
        assert!(text.contains("\r\nascii only\r\n--b"), "{text}");
        assert!(text.contains("base64\r\n\r\nAAEC\r\n--b--"), "{text}");
        assert_eq!(decoded_text(&out), decoded_text(message.as_bytes()));
    }

    #[test]
    fn a_message_without_mime_gets_the_fields_that_say_what_it_is() {
        let message = "Received: by a\r\nSubject: old\r\n\r\nna\u{ef}ve\r\n";
        let out = downgrade(message.as_bytes()).expect("converted");
        let text = String::from_utf8(out).expect("7-bit");
        assert_eq!(
            text,
            "Received: by a\r\nSubject: old\r\nContent-Transfer-Encoding: quoted-printable\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nna=C3=AFve\r\n"
        );
    }

    #[test]
    fn long_lines_are_broken_softly_within_76() {
        let line = "\u{e9}".repeat(60);
        let message = format!(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{line}\r\n"
        );
        let out = downgrade(message.as_bytes()).expect("converted");
        let text = String::from_utf8(out.clone()).expect("7-bit");
        assert!(text.split("\r\n").all(|l| l.len() <= MAX_LINE), "{text}");
        assert_eq!(decoded_text(&out), decoded_text(message.as_bytes()));
    }

    #[test]
    fn eight_bit_only_in_a_header_is_left_alone() {
        assert_eq!(
            downgrade("Subject: caf\u{e9}\r\n\r\nascii\r\n".as_bytes()),
            None
        );
    }
}
