//! The header section of a raw message as byte ranges, without decoding anything: what
//! the session counts and removes before the filters run (`smtp::header_fields`), and
//! what a bounce returns of a message (`delivery::dsn`). A line that is not a field ends
//! the section, as it would for a reader, so a message without a blank line has no
//! header beyond its last field.

use std::ops::Range;

/// One header field: its name, and the whole field (continuation lines and line end
/// included), as ranges of the raw message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name, without the colon or the spaces before it.
    pub name: Range<usize>,
    /// The whole field, continuation lines and line end included.
    pub whole: Range<usize>,
}

/// The fields of `raw`'s header section, up to the blank line (or the end). A line that
/// is not a field (no colon) ends the section, as it would for a reader.
pub fn fields(raw: &[u8]) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |i| at + i + 1);
        let line = &raw[at..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        if matches!(content[0], b' ' | b'\t') {
            match fields.last_mut() {
                Some(field) => field.whole.end = end,
                None => break,
            }
        } else {
            let Some(colon) = content.iter().position(|&b| b == b':') else {
                break;
            };
            let name_end = content[..colon]
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(0, |i| i + 1);
            fields.push(Field {
                name: at..at + name_end,
                whole: at..end,
            });
        }
        at = end;
    }
    fields
}

/// The longest prefix of `raw`'s header section made of whole fields and at most `max`
/// bytes long.
pub fn header_prefix(raw: &[u8], max: usize) -> &[u8] {
    let end = fields(raw)
        .into_iter()
        .map(|field| field.whole.end)
        .take_while(|&end| end <= max)
        .last()
        .unwrap_or(0);
    &raw[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_end_at_the_blank_line_or_at_a_line_that_is_not_a_field() {
        let raw = b"A: 1\r\n\tcontinued\r\nB : 2\r\n\r\nC: body\r\n";
        let found = fields(raw);
        assert_eq!(found.len(), 2);
        assert_eq!(&raw[found[0].name.clone()], b"A");
        assert_eq!(&raw[found[0].whole.clone()], b"A: 1\r\n\tcontinued\r\n");
        assert_eq!(&raw[found[1].name.clone()], b"B");
        assert_eq!(
            fields(b"A: 1\nthis is the body, no blank line\nB: 2\n").len(),
            1
        );
    }

    #[test]
    fn a_header_prefix_holds_whole_fields_only() {
        let raw = b"A: 1\r\nB: 22\r\n\r\nbody";
        assert_eq!(header_prefix(raw, 1000), b"A: 1\r\nB: 22\r\n");
        assert_eq!(header_prefix(raw, 12), b"A: 1\r\n");
        assert_eq!(header_prefix(raw, 3), b"");
        let header_only: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("X-{i}: v\r\n").into_bytes())
            .collect();
        let cut = header_prefix(&header_only, 16 * 1024);
        assert!(
            cut.len() <= 16 * 1024 && cut.len() > 16 * 1024 - 20,
            "{}",
            cut.len()
        );
        assert!(cut.ends_with(b"\r\n"));
    }
}
