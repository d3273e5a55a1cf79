//! Replies of the next hop: reading one (possibly multi-line) reply from the stream, with
//! bounds on line length and line count, and what its code means.

use std::fmt;

use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncReadExt as _};

use super::ClientError;

/// The longest reply line accepted (RFC 5321 §4.5.3.1.5 allows 512; servers exceed it).
const MAX_LINE: usize = 8 * 1024;
/// The most lines in one reply (EHLO replies are the longest, a few dozen lines).
const MAX_LINES: usize = 128;

/// One reply: its code and the text of each line (after the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line.
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 5xx: a permanent refusal.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code (RFC 3463) at the start of the first line, if any and
    /// agreeing with the reply's class, e.g. `5.1.1`.
    pub fn enhanced(&self) -> Option<&str> {
        let first = self.lines.first()?.split_whitespace().next()?;
        let mut parts = first.split('.');
        let class = parts.next()?;
        let valid = class.len() == 1
            && class.as_bytes()[0] == b'0' + (self.code / 100) as u8
            && matches!(class, "2" | "4" | "5")
            && parts.clone().count() == 2
            && parts
                .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
        valid.then_some(first)
    }
}

impl fmt::Display for Reply {
    /// The reply on one line: `550 5.1.1 no such user` (lines joined by a space).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for line in &self.lines {
            write!(f, " {line}")?;
        }
        Ok(())
    }
}

/// Reads one reply from `reader`.
pub(super) async fn read_reply<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Reply, ClientError> {
    let mut lines = Vec::new();
    let mut code = None;
    loop {
        let mut raw = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut raw)
            .await
            .map_err(ClientError::Io)?;
        if n == 0 {
            return Err(ClientError::Closed);
        }
        if raw.last() != Some(&b'\n') {
            return Err(ClientError::Protocol(format!(
                "a reply line longer than {MAX_LINE} bytes"
            )));
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let (this_code, more, text) = parse_line(line)?;
        match code {
            None => code = Some(this_code),
            Some(first) if first != this_code => {
                return Err(ClientError::Protocol(format!(
                    "reply lines with codes {first} and {this_code}"
                )));
            }
            Some(_) => {}
        }
        lines.push(text.to_owned());
        if !more {
            break;
        }
        if lines.len() >= MAX_LINES {
            return Err(ClientError::Protocol(format!(
                "a reply of more than {MAX_LINES} lines"
            )));
        }
    }
    Ok(Reply {
        code: code.unwrap_or_default(),
        lines,
    })
}

/// A reply line's code, whether more lines follow, and its text.
fn parse_line(line: &str) -> Result<(u16, bool, &str), ClientError> {
    let bytes = line.as_bytes();
    let bad = || ClientError::Protocol(format!("not a reply line: {:?}", truncate(line)));
    if bytes.len() < 3
        || !bytes[..3].iter().all(u8::is_ascii_digit)
        || !(b'2'..=b'5').contains(&bytes[0])
    {
        return Err(bad());
    }
    let code: u16 = line[..3].parse().map_err(|_| bad())?;
    match bytes.get(3) {
        None => Ok((code, false, "")),
        Some(b' ') => Ok((code, false, &line[4..])),
        Some(b'-') => Ok((code, true, &line[4..])),
        Some(_) => Err(bad()),
    }
}

fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8]) -> Result<Reply, ClientError> {
        let mut reader = tokio::io::BufReader::new(bytes);
        read_reply(&mut reader).await
    }

    #[tokio::test]
    async fn single_and_multi_line_replies() {
        let reply = read(b"250 2.0.0 OK\r\n").await.unwrap();
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, ["2.0.0 OK"]);
        let ehlo = read(b"250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
            .await
            .unwrap();
        assert_eq!(ehlo.lines, ["mx.test", "PIPELINING", "SIZE 1000"]);
        assert_eq!(read(b"354\r\n").await.unwrap().code, 354);
        assert_eq!(read(b"220 bare lf\n").await.unwrap().code, 220);
    }

    #[tokio::test]
    async fn malformed_replies_are_protocol_errors() {
        for bad in [
            &b"hello\r\n"[..],
            b"250-a\r\n251 b\r\n",
            b"2500 x\r\n",
            b"650 x\r\n",
        ] {
            assert!(
                matches!(read(bad).await, Err(ClientError::Protocol(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(read(b"").await, Err(ClientError::Closed)));
        assert!(matches!(read(b"250-a\r\n").await, Err(ClientError::Closed)));
        let long = [b"250 ".as_slice(), &[b'x'; MAX_LINE], b"\r\n"].concat();
        assert!(matches!(read(&long).await, Err(ClientError::Protocol(_))));
    }

    #[test]
    fn enhanced_codes_must_match_the_class() {
        let reply = |code, text: &str| Reply {
            code,
            lines: vec![text.to_owned()],
        };
        assert_eq!(reply(550, "5.1.1 no such user").enhanced(), Some("5.1.1"));
        assert_eq!(reply(451, "4.3.0 later").enhanced(), Some("4.3.0"));
        assert_eq!(reply(550, "4.1.1 mismatch").enhanced(), None);
        assert_eq!(reply(550, "no such user").enhanced(), None);
        assert_eq!(reply(550, "5.1 short").enhanced(), None);
        assert_eq!(
            reply(550, "5.1.1 no such user").to_string(),
            "550 5.1.1 no such user"
        );
    }
}
