//! How a logged message is recognised when the operator later names it: by its queue id
//! (quarantine release), else by its Message-ID, else by a digest of its body. Body and
//! Message-ID survive what Moat adds on top (Received, verdict fields), so the copy a user
//! forwards to `moat learn` is still the logged one.

use sha2::{Digest as _, Sha256};

use crate::message::ParsedMessage;

/// What a message is recognised by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageIdentity {
    /// The Message-ID as written, without its angle brackets; `None` without one.
    pub message_id: Option<String>,
    /// [`body_digest`] of the message.
    pub digest: String,
}

impl MessageIdentity {
    /// The identity of `message`.
    pub fn of(message: &ParsedMessage) -> Self {
        Self {
            message_id: message.header("Message-ID").and_then(normalize_message_id),
            digest: body_digest(message.raw()),
        }
    }
}

/// A Message-ID without blanks and angle brackets; `None` when nothing is left.
fn normalize_message_id(value: &str) -> Option<String> {
    let id = value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.chars().take(256).collect())
}

/// The SHA-256 of the body (everything after the first empty line), carriage returns
/// left out so that a copy saved with LF line ends has the same digest; 32 hex digits.
pub fn body_digest(raw: &[u8]) -> String {
    let body = body_of(raw);
    let mut hasher = Sha256::new();
    let mut start = 0;
    for cr in memchr::memchr_iter(b'\r', body) {
        hasher.update(&body[start..cr]);
        start = cr + 1;
    }
    hasher.update(&body[start..]);
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn body_of(raw: &[u8]) -> &[u8] {
    let mut line_start = 0;
    while line_start < raw.len() {
        let rest = &raw[line_start..];
        if rest.starts_with(b"\r\n") {
            return &raw[line_start + 2..];
        }
        if rest.starts_with(b"\n") {
            return &raw[line_start + 1..];
        }
        match memchr::memchr(b'\n', rest) {
            Some(end) => line_start += end + 1,
            None => return &[],
        }
    }
    &[]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_of_the_body_whatever_the_line_ends_and_headers_added() {
        let sent = b"Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nHello\r\nthere\r\n";
        let delivered = b"Received: from x\nX-Spam-Status: No\nSubject: hi\nMessage-ID: <a@b>\n\nHello\nthere\n";
        assert_eq!(body_digest(sent), body_digest(delivered));
        // The logs of earlier versions name messages by this digest: it must not change.
        assert_eq!(body_digest(sent), "90a0e6a5723ed24628b329d2de651d36");
        assert_ne!(
            body_digest(sent),
            body_digest(b"Subject: hi\r\n\r\nHello\r\n")
        );
        assert_eq!(body_digest(sent).len(), 32);
    }

    #[test]
    fn a_message_without_a_body_has_the_empty_bodys_digest() {
        assert_eq!(
            body_digest(b"Subject: x\r\n"),
            body_digest(b"Subject: y\r\n\r\n")
        );
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(normalize_message_id(" <a@b> "), Some("a@b".into()));
        assert_eq!(normalize_message_id("<>"), None);
        assert_eq!(normalize_message_id("plain"), Some("plain".into()));
    }
}
