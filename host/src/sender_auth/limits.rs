//! Bounds on what one message can make sender authentication do: at most
//! [`MAX_SIGNATURES`] DKIM signatures are verified (each may cost a DNS lookup and a
//! public-key operation, and a sender chooses how many to write), and the names a
//! signature gives are cut to DNS's own limits before they are shown anywhere.

/// The most DKIM-Signature fields of one message that are verified; the others are
/// reported together as one `permerror`.
pub const MAX_SIGNATURES: usize = 10;

/// A domain name's longest text form (RFC 1035 §2.3.4).
const MAX_DOMAIN: usize = 253;

/// A DNS label's longest form: the most a selector can be.
const MAX_SELECTOR: usize = 63;

/// `raw` with only its first `max` DKIM-Signature fields, and how many it had; `None`
/// when it has at most `max` (no copy made).
pub(super) fn keep_first_signatures(raw: &[u8], max: usize) -> Option<(Vec<u8>, usize)> {
    let fields = header_fields(raw);
    let signatures: Vec<&(usize, usize)> = fields
        .iter()
        .filter(|(start, _)| is_signature(&raw[*start..]))
        .collect();
    if signatures.len() <= max {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut at = 0;
    for (start, end) in signatures.iter().skip(max) {
        out.extend_from_slice(&raw[at..*start]);
        at = *end;
    }
    out.extend_from_slice(&raw[at..]);
    Some((out, signatures.len()))
}

/// A signature's `d=` as shown: at most a domain name's length.
pub(super) fn shown_domain(domain: &str) -> String {
    domain
        .chars()
        .take(MAX_DOMAIN)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// A signature's `s=` as shown: at most a label's length.
pub(super) fn shown_selector(selector: &str) -> String {
    selector.chars().take(MAX_SELECTOR).collect()
}

/// `header.b` for a signature whose `b=` is `signature`: its first 8 base64 characters
/// (RFC 6008 §4: enough to tell signatures apart, short enough to show).
pub(super) fn signature_prefix(signature: &[u8]) -> String {
    use base64::Engine as _;
    let shown = &signature[..signature.len().min(6)];
    base64::engine::general_purpose::STANDARD.encode(shown)
}

fn is_signature(field: &[u8]) -> bool {
    const NAME: &[u8] = b"dkim-signature";
    field.len() > NAME.len()
        && field[..NAME.len()].eq_ignore_ascii_case(NAME)
        && matches!(field[NAME.len()], b':' | b' ' | b'\t')
}

/// The byte ranges of the header section's fields, each with its continuation lines and
/// line end.
fn header_fields(raw: &[u8]) -> Vec<(usize, usize)> {
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let end = raw[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| at + i + 1);
        let line = &raw[at..end];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        match (line.first(), fields.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.1 = end,
            _ => fields.push((at, end)),
        }
        at = end;
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_past_the_limit_are_dropped_with_their_continuation_lines() {
        let raw = b"DKIM-Signature: a=1;\r\n\tb=1\r\nFrom: x@y\r\ndkim-signature: a=2\r\nDKIM-Signature:a=3;\r\n b=3\r\nSubject: s\r\n\r\nDKIM-Signature: in the body\r\n";
        let (out, total) = keep_first_signatures(raw, 2).expect("one too many");
        assert_eq!(total, 3);
        assert_eq!(
            out,
            b"DKIM-Signature: a=1;\r\n\tb=1\r\nFrom: x@y\r\ndkim-signature: a=2\r\nSubject: s\r\n\r\nDKIM-Signature: in the body\r\n"
        );
        assert!(keep_first_signatures(raw, 3).is_none());
    }

    #[test]
    fn shown_names_are_cut_to_dns_limits() {
        assert_eq!(shown_domain(&"A".repeat(300)).len(), 253);
        assert_eq!(shown_domain("Example.ORG"), "example.org");
        assert_eq!(shown_selector(&"s".repeat(100)).len(), 63);
        assert_eq!(
            signature_prefix(b"\x01\x02\x03\x04\x05\x06\x07"),
            "AQIDBAUG"
        );
    }
}
