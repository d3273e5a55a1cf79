//! Byte-stream receivers: they take whatever chunks the socket delivers, keep their own
//! buffers, and say how many bytes they consumed, so the session can hand the rest of a read
//! to the next receiver (pipelined commands after `.CRLF` or after a BDAT chunk) or drop it
//! (anything after `STARTTLS`, RFC 3207 §4.2).
//!
//! Every `ingest` returns `(consumed, event)`. No event means every byte was consumed and the
//! receiver needs more; an event means the receiver stopped right after the bytes that
//! produced it. After an event the receiver is ready for the next line, message or chunk.

mod bdat;
mod data;
mod line;

pub use bdat::{BdatEnd, BdatReceiver};
pub use data::{BareLfPolicy, DataEnd, DataReceiver};
pub use line::{LineEvent, LineReceiver};

/// A complete message as received by DATA or BDAT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageData {
    /// The content: after DATA, dot-unstuffed with CRLF line endings; after BDAT, the chunks'
    /// octets as sent.
    pub bytes: Vec<u8>,
    /// Holds a byte ≥ 0x80. Without `BODY=8BITMIME` (or `BINARYMIME`) the client broke
    /// RFC 6152 §3; whether to refuse (`554 5.6.0`) or accept as most MTAs do is the
    /// session's choice.
    pub has_8bit: bool,
    /// Holds a NUL byte, which RFC 5322 §2.3 forbids in a message; the session decides.
    pub has_nul: bool,
    /// Holds a CR or LF that is not part of a CRLF pair. Never set after DATA (such bytes are
    /// refused or normalised there); after BDAT it means the bytes must be normalised before
    /// they are relayed with DATA, or a vulnerable next hop could split the message.
    pub has_bare_line_ending: bool,
}
