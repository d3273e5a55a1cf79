//! Just enough `Received` parsing for the forgery checks: the name the client gave
//! (HELO), its address, and the time the hop was recorded. The field's format is loose
//! (RFC 5321 §4.4 gives the clauses, each MTA writes its comments its own way), so each
//! part is optional.

use std::net::Ipv4Addr;

use crate::date::parse_date_millis;

/// One `Received` field, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Hop<'a> {
    /// The `from` clause with its comments, up to ` by `; empty if there is none.
    pub(crate) from: &'a str,
    /// The name the client gave in HELO/EHLO: Exim's `helo=`, qmail's `HELO`, otherwise
    /// the first word of the `from` clause.
    pub(crate) helo: Option<&'a str>,
    /// The client's IPv4 address, from the first `[a.b.c.d]` (or qmail's `(a.b.c.d)`) of
    /// the `from` clause.
    pub(crate) ip: Option<Ipv4Addr>,
    /// The protocol of the `with` clause (`SMTP`, `ESMTPS`, `HTTP`, …).
    pub(crate) with: Option<&'a str>,
    /// The date after the last `;`: when the hop was recorded.
    pub(crate) date: Option<&'a str>,
}

impl Hop<'_> {
    /// When the hop was recorded, in milliseconds since the Unix epoch (parsed on asking:
    /// most checks never look at it).
    pub(crate) fn date_millis(&self) -> Option<i64> {
        parse_date_millis(self.date?)
    }
}

/// Reads one `Received` value.
pub(crate) fn parse(value: &str) -> Hop<'_> {
    let (clauses, date) = match value.rsplit_once(';') {
        Some((clauses, date)) => (clauses, Some(date.trim())),
        None => (value, None),
    };
    let clauses = clauses.trim_start();
    let from = match clauses.get(..5) {
        Some(word) if word.eq_ignore_ascii_case("from ") => {
            let rest = &clauses[5..];
            let end = find_word(rest, "by").unwrap_or(rest.len());
            rest[..end].trim()
        }
        _ => "",
    };
    let with = find_word(clauses, "with")
        .and_then(|at| clauses[at + 4..].split_whitespace().next())
        .map(|protocol| protocol.trim_end_matches([';', ')']));
    Hop {
        from,
        helo: helo(from),
        ip: ip(from),
        with,
        date,
    }
}

/// Where the word `word` (ASCII case-insensitive, with blanks both sides) starts in `text`.
fn find_word(text: &str, word: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let len = word.len();
    (1..bytes.len().saturating_sub(len)).find(|&at| {
        bytes[at - 1].is_ascii_whitespace()
            && bytes[at..at + len].eq_ignore_ascii_case(word.as_bytes())
            && bytes[at + len].is_ascii_whitespace()
    })
}

fn helo(from: &str) -> Option<&str> {
    for marker in ["helo=", "HELO "] {
        if let Some(at) = from.find(marker) {
            let rest = &from[at + marker.len()..];
            let end = rest.find([')', ' ']).unwrap_or(rest.len());
            return Some(&rest[..end]).filter(|name| !name.is_empty());
        }
    }
    from.split_whitespace().next()
}

/// Whether the `from` clause's comment records the client without a reverse name:
/// `([192.0.2.1])` or `(unknown [192.0.2.1])`.
pub(crate) fn unnamed_client(from: &str) -> bool {
    from.split('(').skip(1).any(|comment| {
        let comment = comment.trim_start();
        comment.starts_with('[')
            || comment
                .get(..8)
                .is_some_and(|word| word.eq_ignore_ascii_case("unknown "))
                && comment[8..].trim_start().starts_with('[')
    })
}

fn ip(from: &str) -> Option<Ipv4Addr> {
    for (open, close) in [('[', ']'), ('(', ')')] {
        let found = from.split(open).skip(1).find_map(|piece| {
            let inside = piece.split(close).next()?;
            inside.strip_prefix("IPv4:").unwrap_or(inside).parse().ok()
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendmail_and_postfix() {
        let hop = parse(
            "from mail.example.org (mail.example.org [192.0.2.1]) by mx.example.com \
             (8.11.6/8.11.6) with ESMTP id g7MBkTZ05087; Thu, 22 Aug 2002 12:46:29 +0100",
        );
        assert_eq!(hop.from, "mail.example.org (mail.example.org [192.0.2.1])");
        assert_eq!(hop.helo, Some("mail.example.org"));
        assert_eq!(hop.ip, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(hop.with, Some("ESMTP"));
        assert_eq!(hop.date_millis(), Some(1_030_016_789_000));
    }

    #[test]
    fn exim_and_qmail() {
        let exim = parse("from [192.0.2.7] (helo=1Yop2245k) by mx.example.net with smtp");
        assert_eq!(exim.helo, Some("1Yop2245k"));
        assert_eq!(exim.ip, Some(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(exim.date_millis(), None);
        let qmail = parse("from unknown (HELO 10.0.0.1) (192.0.2.9) by mx.example.net");
        assert_eq!(qmail.helo, Some("10.0.0.1"));
        assert_eq!(qmail.ip, Some(Ipv4Addr::new(192, 0, 2, 9)));
        let webmail = parse("from 192.0.2.4 by webmail.example.net with HTTP; 24 Aug 2002");
        assert_eq!(webmail.with, Some("HTTP"));
    }

    #[test]
    fn clauses_without_from() {
        let hop = parse("(qmail 11764 invoked from network); 22 Aug 2002 11:46:29 -0000");
        assert_eq!(hop.from, "");
        assert_eq!(hop.helo, None);
        assert_eq!(hop.ip, None);
        assert!(hop.date_millis().is_some());
        assert_eq!(parse(""), Hop::default());
        assert_eq!(parse("from ünïcode by x").helo, Some("ünïcode"));
    }
}
