//! The message as it goes after `DATA`: lines starting with a dot get a second one
//! (RFC 5321 §4.5.2), the last line is ended with CRLF if it was not, and `.CRLF` follows.

use tokio::io::{AsyncWrite, AsyncWriteExt as _};

/// Bytes written per `write_all`: large enough for few syscalls, small enough that a
/// 25 MiB message is never copied whole.
const CHUNK: usize = 64 * 1024;

/// Writes `message` dot-stuffed and terminated to `out`, then flushes.
pub(super) async fn write_data<W: AsyncWrite + Unpin>(
    out: &mut W,
    message: &[u8],
) -> std::io::Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK + 2);
    let mut at_line_start = true;
    for &byte in message {
        if at_line_start && byte == b'.' {
            chunk.push(b'.');
        }
        chunk.push(byte);
        at_line_start = byte == b'\n';
        if chunk.len() >= CHUNK {
            out.write_all(&chunk).await?;
            chunk.clear();
        }
    }
    if !message.is_empty() && !message.ends_with(b"\r\n") {
        if message.ends_with(b"\r") {
            chunk.push(b'\n');
        } else {
            chunk.extend_from_slice(b"\r\n");
        }
    }
    chunk.extend_from_slice(b".\r\n");
    out.write_all(&chunk).await?;
    out.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn stuffed(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_data(&mut out, message).await.unwrap();
        out
    }

    #[tokio::test]
    async fn leading_dots_are_doubled_and_the_end_is_marked() {
        assert_eq!(
            stuffed(b".hidden\r\nok\r\n.\r\n..two\r\n").await,
            b"..hidden\r\nok\r\n..\r\n...two\r\n.\r\n"
        );
        assert_eq!(
            stuffed(b"no final newline").await,
            b"no final newline\r\n.\r\n"
        );
        assert_eq!(stuffed(b"").await, b".\r\n");
        assert_eq!(stuffed(b"a.b\r\n").await, b"a.b\r\n.\r\n");
    }

    #[tokio::test]
    async fn large_messages_round_trip_through_chunks() {
        let mut message = Vec::new();
        for i in 0..20_000 {
            message.extend_from_slice(format!(".line {i}\r\n").as_bytes());
        }
        let out = stuffed(&message).await;
        let unstuffed: Vec<u8> = out[..out.len() - 3]
            .split(|&b| b == b'\n')
            .map(|line| line.strip_prefix(b".").unwrap_or(line))
            .collect::<Vec<_>>()
            .join(&b'\n');
        assert_eq!(unstuffed, message);
    }
}
