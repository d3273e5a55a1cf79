//! A slow, obviously correct model of DATA decoding to check `DataReceiver` against, written
//! from the rules rather than as a state machine. The fuzz crate includes this file too, so it
//! uses nothing but std.

/// How the model says a DATA transfer ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The content, unstuffed, with CRLF line endings.
    Complete(Vec<u8>),
    TooLarge,
    BareLineEnding,
}

/// Decodes `raw` (the bytes after the DATA command line): `None` when it holds no end of
/// data, else the number of bytes up to and including the end and the outcome.
pub(crate) fn decode_data(raw: &[u8], max_size: u64, normalize: bool) -> Option<(usize, Outcome)> {
    // The CRLF that ended the DATA line starts the first line.
    let mut framed = b"\r\n".to_vec();
    framed.extend_from_slice(raw);
    let end = framed
        .windows(5)
        .position(|window| window == b"\r\n.\r\n")?;
    let consumed = end + 5 - 2;
    // The CRLF before the final dot ends the last line of content (RFC 5321 §4.1.1.4).
    let content = &framed[2..end + 2];
    let mut bare = false;
    let mut output = Vec::new();
    for (line, crlf) in lines(content) {
        bare |= !crlf;
        // RFC 5321 §4.5.2: a leading period is removed when more follows on the line.
        let line = match line {
            [b'.', rest @ ..] if !rest.is_empty() => rest,
            _ => line,
        };
        output.extend_from_slice(line);
        output.extend_from_slice(b"\r\n");
    }
    let outcome = if bare && !normalize {
        Outcome::BareLineEnding
    } else if output.len() as u64 > max_size {
        Outcome::TooLarge
    } else {
        Outcome::Complete(output)
    };
    Some((consumed, outcome))
}

/// Splits `content` (which ends with a line ending, or is empty) into lines, each with whether
/// it ended in CRLF rather than a bare CR or LF.
fn lines(content: &[u8]) -> Vec<(&[u8], bool)> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < content.len() {
        match (content[at], content.get(at + 1)) {
            (b'\r', Some(b'\n')) => {
                lines.push((&content[start..at], true));
                at += 2;
                start = at;
            }
            (b'\r' | b'\n', _) => {
                lines.push((&content[start..at], false));
                at += 1;
                start = at;
            }
            _ => at += 1,
        }
    }
    lines
}
