//! The message as it is on the wire, for the checks that must see what the sender wrote
//! rather than what a parser made of it (raw bytes that are not UTF-8, a `Message-ID`
//! without its angle brackets).

/// The lines of `raw` without their `\n`, as `raw.split(|&b| b == b'\n')` gives them,
/// found with `memchr` (a look at every byte was most of a scan's time).
pub(crate) fn lines(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', raw).chain(std::iter::once(raw.len()));
    ends.map(move |end| {
        let line = &raw[start..end];
        start = end + 1;
        line
    })
}

/// The fields of `raw`'s header section as they are on the wire, each with its folded
/// continuation lines (and their line ends) included.
pub(crate) fn raw_fields(raw: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    for line in lines(raw) {
        let end = start + line.len();
        match (line.first(), fields.last_mut()) {
            (None | Some(b'\r'), _) if line.len() <= 1 => break,
            (Some(b' ' | b'\t'), Some(field)) => field.end = end,
            _ => fields.push(start..end),
        }
        start = end + 1;
    }
    fields.into_iter().map(|range| &raw[range]).collect()
}

/// The raw value of the first field of `raw`'s header section named `name`.
pub(crate) fn raw_value<'a>(raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
    raw_fields(raw).into_iter().find_map(|field| {
        let colon = field.iter().position(|&byte| byte == b':')?;
        let found = field[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes());
        found.then(|| &field[colon + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_as_the_slice_method_does() {
        for raw in [&b""[..], b"\n", b"a", b"a\n", b"a\r\nb\n\nc", b"\n\nx\n"] {
            let expected: Vec<&[u8]> = raw.split(|&byte| byte == b'\n').collect();
            assert_eq!(lines(raw).collect::<Vec<_>>(), expected, "{raw:?}");
        }
    }

    #[test]
    fn fields_are_unfolded_and_end_at_the_blank_line() {
        let raw = b"Subject: a\r\n b\r\nMessage-Id: <1@x>\r\n\r\nBody: no\r\n";
        let fields = raw_fields(raw);
        assert_eq!(
            fields,
            [&b"Subject: a\r\n b\r"[..], &b"Message-Id: <1@x>\r"[..]]
        );
        assert_eq!(raw_value(raw, "message-id"), Some(&b" <1@x>\r"[..]));
        assert_eq!(raw_value(raw, "Body"), None);
    }
}
