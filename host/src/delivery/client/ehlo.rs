//! What the next hop announced in its EHLO reply.

use super::reply::Reply;

/// The ESMTP extensions that change how a message is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// `PIPELINING` (RFC 2920): MAIL, RCPT and DATA go in one write.
    pub pipelining: bool,
    /// `SIZE n` (RFC 1870): the largest message accepted, 0 for no stated limit.
    pub size: Option<u64>,
    /// `8BITMIME` (RFC 6152).
    pub eight_bit_mime: bool,
    /// `SMTPUTF8` (RFC 6531).
    pub smtputf8: bool,
    /// `STARTTLS` (RFC 3207).
    pub starttls: bool,
    /// `AUTH PLAIN` is offered (RFC 4954).
    pub auth_plain: bool,
}

impl Capabilities {
    /// The capabilities in an EHLO reply (its first line is the server's name).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Self::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "STARTTLS" => caps.starttls = true,
                "AUTH" => caps.auth_plain = words.any(|m| m.eq_ignore_ascii_case("PLAIN")),
                _ => {}
            }
        }
        caps
    }

    /// Whether a message of `size` bytes is over the announced limit.
    pub fn too_large(&self, size: u64) -> bool {
        matches!(self.size, Some(limit) if limit > 0 && size > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_read_case_insensitively() {
        let reply = Reply {
            code: 250,
            lines: [
                "mx.test greets you",
                "pipelining",
                "SIZE 10240000",
                "8BITMIME",
                "SMTPUTF8",
                "STARTTLS",
                "AUTH LOGIN PLAIN",
                "ENHANCEDSTATUSCODES",
            ]
            .map(String::from)
            .to_vec(),
        };
        let caps = Capabilities::from_ehlo(&reply);
        assert_eq!(
            caps,
            Capabilities {
                pipelining: true,
                size: Some(10_240_000),
                eight_bit_mime: true,
                smtputf8: true,
                starttls: true,
                auth_plain: true,
            }
        );
        assert!(caps.too_large(10_240_001));
        assert!(!caps.too_large(10_240_000));
        let unlimited = Capabilities {
            size: Some(0),
            ..Capabilities::default()
        };
        assert!(!unlimited.too_large(u64::MAX));
    }

    #[test]
    fn the_server_name_line_is_not_a_keyword() {
        let reply = Reply {
            code: 250,
            lines: vec!["PIPELINING".into()],
        };
        assert!(!Capabilities::from_ehlo(&reply).pipelining);
    }
}
