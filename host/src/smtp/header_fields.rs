//! The header section of a message as it arrived: its fields as byte ranges (no decoding),
//! the hops its `Received` fields count, and the fields a sender must not write for Moat
//! — a verdict (`X-Spam-*`, `X-Moat-*`) or an `Authentication-Results` field carrying
//! Moat's own authserv-id — which are removed before any filter sees the message, so a
//! mail client or the downstream server never trusts a verdict the sender pre-wrote.

use std::ops::Range;

use crate::message::header_section::{Field, fields};

/// How many `Received` fields the header section holds: the hops the message has made
/// (RFC 5321 §6.3: a message that made too many is in a loop).
pub fn hop_count(raw: &[u8]) -> usize {
    fields(raw)
        .iter()
        .filter(|f| raw[f.name.clone()].eq_ignore_ascii_case(b"Received"))
        .count()
}

/// A field name to remove: exact, or a prefix when written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
}

impl Pattern {
    fn matches(&self, name: &[u8]) -> bool {
        match self {
            Self::Exact(exact) => name.eq_ignore_ascii_case(exact),
            Self::Prefix(prefix) => {
                name.len() >= prefix.len() && name[..prefix.len()].eq_ignore_ascii_case(prefix)
            }
        }
    }
}

/// The fields a sender may not write: the operator's list (`[smtp] strip_headers`), and
/// `Authentication-Results` naming Moat's own authserv-id (RFC 8601 §5 asks an MTA to
/// remove those).
#[derive(Debug, Clone)]
pub struct HeaderStrip {
    patterns: Vec<Pattern>,
    authserv_id: String,
}

impl HeaderStrip {
    /// Removes fields named as in `names` (`X-Spam-*` for a prefix; any case), and
    /// `Authentication-Results` fields whose authserv-id is `authserv_id`.
    pub fn new(names: &[String], authserv_id: &str) -> Self {
        let patterns = names
            .iter()
            .map(|name| match name.strip_suffix('*') {
                Some(prefix) => Pattern::Prefix(prefix.as_bytes().to_vec()),
                None => Pattern::Exact(name.as_bytes().to_vec()),
            })
            .collect();
        Self {
            patterns,
            authserv_id: authserv_id.to_ascii_lowercase(),
        }
    }

    /// `raw` without the fields to remove, or `None` when it has none (no copy made).
    pub fn strip(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let doomed: Vec<Range<usize>> = fields(raw)
            .into_iter()
            .filter(|f| self.removes(raw, f))
            .map(|f| f.whole)
            .collect();
        if doomed.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut at = 0;
        for range in doomed {
            out.extend_from_slice(&raw[at..range.start]);
            at = range.end;
        }
        out.extend_from_slice(&raw[at..]);
        Some(out)
    }

    fn removes(&self, raw: &[u8], field: &Field) -> bool {
        let name = &raw[field.name.clone()];
        if self.patterns.iter().any(|p| p.matches(name)) {
            return true;
        }
        name.eq_ignore_ascii_case(b"Authentication-Results")
            && authserv_id(&raw[field.name.end..field.whole.end])
                .is_some_and(|id| id.eq_ignore_ascii_case(&self.authserv_id))
    }
}

/// The authserv-id an `Authentication-Results` field starts with (`rest` is the field
/// after its name): after the colon, comments (nested too) and folding whitespace are
/// skipped, and the id is a token or a quoted string (RFC 8601 §2.2 allows both), ending
/// at `;`, whitespace or a comment. So `(x) "mx.example.org"; dkim=pass` claims
/// `mx.example.org` as surely as `mx.example.org; dkim=pass` does.
fn authserv_id(rest: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(rest);
    let mut chars = text.trim_start().strip_prefix(':')?.chars().peekable();
    loop {
        match chars.peek() {
            Some(c) if c.is_whitespace() => {
                chars.next();
            }
            Some('(') => {
                let mut depth = 0usize;
                for c in chars.by_ref() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => break,
        }
    }
    let id: String = if chars.peek() == Some(&'"') {
        chars.next();
        chars
            .take_while(|c| *c != '"')
            .filter(|c| *c != '\\')
            .collect()
    } else {
        chars
            .take_while(|c| !matches!(c, ';' | '(') && !c.is_whitespace())
            .collect()
    };
    let id = id.trim().to_owned();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip() -> HeaderStrip {
        HeaderStrip::new(
            &["X-Spam".into(), "X-Spam-*".into(), "X-Moat-*".into()],
            "mx.example.test",
        )
    }

    #[test]
    fn verdict_fields_go_with_their_continuation_lines_and_the_rest_stays_byte_for_byte() {
        let raw = b"Received: from a\r\n\tby b; now\r\nX-Spam-Flag: NO\r\nx-spam-status: No,\r\n score=-5\r\nX-Spam: no\r\nX-Spammy: kept\r\nX-Moat-Report: forged\r\nSubject: hi\r\n\r\nX-Spam-Flag: NO in the body stays\r\n";
        let out = strip().strip(raw).expect("fields removed");
        assert_eq!(
            out,
            b"Received: from a\r\n\tby b; now\r\nX-Spammy: kept\r\nSubject: hi\r\n\r\nX-Spam-Flag: NO in the body stays\r\n"
        );
        assert!(strip().strip(b"Subject: clean\n\nbody\n").is_none());
    }

    #[test]
    fn only_authentication_results_with_our_own_authserv_id_are_removed() {
        let raw = b"Authentication-Results: MX.example.test; spf=pass\nAuthentication-Results: mx.example.test (moat) 1; dkim=pass\nAuthentication-Results: (a (nested) comment)\n mx.example.test; dmarc=pass\nAuthentication-Results: \"mx.example.test\"; dkim=pass\nAuthentication-Results: gmail.com; spf=pass\nAuthentication-Results:mx.example.test.evil; dmarc=pass\n\nbody\n";
        let out = strip().strip(raw).expect("removed");
        assert_eq!(
            out,
            b"Authentication-Results: gmail.com; spf=pass\nAuthentication-Results:mx.example.test.evil; dmarc=pass\n\nbody\n"
        );
    }

    #[test]
    fn received_fields_are_counted_in_the_header_section_only() {
        let mut raw = Vec::new();
        for i in 0..60 {
            raw.extend_from_slice(format!("Received: hop {i}\r\n\tcontinued\r\n").as_bytes());
        }
        raw.extend_from_slice(b"received : spaced\r\nSubject: x\r\n\r\nReceived: in the body\r\n");
        assert_eq!(hop_count(&raw), 61);
        assert_eq!(hop_count(b""), 0);
        assert_eq!(hop_count(b"no colon here\nReceived: after\n"), 0);
    }
}
