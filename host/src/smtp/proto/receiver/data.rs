//! DATA content (RFC 5321 §4.1.1.4, §4.5.2): dot-unstuffing, and an end of data that is
//! `<CRLF>.<CRLF>` and nothing else.
//!
//! SMTP smuggling (CVE-2023-51764/51765/51766) works when two servers disagree on where a
//! message ends: `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>` and the like end it for some. Here
//! only the five raw octets CR LF `.` CR LF end the data, the first CRLF possibly being the one
//! that ended the DATA command line; so the end is always the first occurrence of CRLF.CRLF
//! in CRLF followed by the raw input. Bare CR or LF anywhere either spoils the message
//! ([`BareLfPolicy::Reject`]) or becomes CRLF ([`BareLfPolicy::Normalize`]); in neither case
//! can it end the message or split it in two.

use std::mem;

use super::MessageData;

/// What to do with a CR or LF that is not part of a CRLF pair in DATA content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BareLfPolicy {
    /// Receive the message to its real end, then report [`DataEnd::BareLineEnding`] (as
    /// Postfix's `smtpd_forbid_bare_newline = yes`). Reply `554 5.5.2` (or `521` and close).
    #[default]
    Reject,
    /// Turn each bare CR or LF into CRLF and go on (as Postfix's
    /// `smtpd_forbid_bare_newline = normalize`). A line begun that way is dot-unstuffed like
    /// any other, but a lone `.` on it is content, because it did not follow a real CRLF.
    Normalize,
}

/// How a DATA transfer ended; it always ends on the real `<CRLF>.<CRLF>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataEnd {
    /// The message, within the size limit and with CRLF line endings.
    Complete(MessageData),
    /// The content exceeded the size limit and was discarded. Reply `552 5.3.4`.
    TooLarge,
    /// Under [`BareLfPolicy::Reject`], the content held a bare CR or LF and was discarded.
    /// Reported before [`DataEnd::TooLarge`] as the stronger sign of abuse.
    BareLineEnding,
}

/// Where the receiver stands in the line structure of the raw input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line. `after_crlf` is false after a bare CR or LF: such a line
    /// can never be the end marker.
    LineStart { after_crlf: bool },
    /// Read `.` at the start of a line.
    Dot { after_crlf: bool },
    /// Read `.` CR at the start of a line.
    DotCr { after_crlf: bool },
    /// Inside a line.
    InLine,
    /// Read a CR inside a line; an LF next makes it a line ending.
    Cr,
}

/// Where the ordinary content from `start` (inside a line) ends: at the first CR or LF
/// that is not part of a CRLF followed by a byte other than `.`, CR or LF, or at the end
/// of `bytes`. Such content is kept as it is, so it is copied in one go.
fn ordinary_run_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    loop {
        end += memchr::memchr2(b'\r', b'\n', &bytes[end..]).unwrap_or(bytes.len() - end);
        match bytes.get(end..end + 3) {
            Some([b'\r', b'\n', next]) if !matches!(next, b'.' | b'\r' | b'\n') => end += 3,
            _ => return end,
        }
    }
}

/// Receives one DATA message at a time from arbitrary chunks of input.
#[derive(Debug, Clone)]
pub struct DataReceiver {
    max_size: u64,
    bare_lf: BareLfPolicy,
    state: State,
    message: MessageData,
    size: u64,
    too_large: bool,
    saw_bare_line_ending: bool,
    /// The session stopped keeping the content (no memory for it): it is scanned for its
    /// end and dropped, and the message ends empty.
    discarding: bool,
}

impl DataReceiver {
    /// A receiver that keeps at most `max_size` octets of (unstuffed) content and treats bare
    /// line endings by `bare_lf`. Call it right after the `354` reply to DATA.
    pub fn new(max_size: u64, bare_lf: BareLfPolicy) -> Self {
        Self {
            max_size,
            bare_lf,
            // The CRLF that ended the DATA line counts: `.CRLF` alone is an empty message.
            state: State::LineStart { after_crlf: true },
            message: MessageData::default(),
            size: 0,
            too_large: false,
            saw_bare_line_ending: false,
            discarding: false,
        }
    }

    /// The content kept so far, in bytes (what the message holds in memory).
    pub fn held(&self) -> usize {
        self.message.bytes.len()
    }

    /// Drops the content kept so far and keeps no more of this message: it is read to its
    /// end and completes empty. For a session that has no memory left for it.
    pub fn discard(&mut self) {
        self.discarding = true;
        self.message.bytes = Vec::new();
    }

    /// Consumes `bytes` up to and including the end of data, if it is there, and returns how
    /// many it took and how the message ended. Content past the size limit (or past a bare
    /// line ending under `Reject`) is scanned for the end but not stored.
    pub fn ingest(&mut self, bytes: &[u8]) -> (usize, Option<DataEnd>) {
        let mut at = 0;
        while at < bytes.len() {
            if self.state == State::InLine {
                // Fast path: copy ordinary lines in one go, up to the first CR or LF that
                // is not a CRLF followed by a byte that starts an ordinary line.
                let end = ordinary_run_end(bytes, at);
                self.emit(&bytes[at..end]);
                at = end;
                if at == bytes.len() {
                    break;
                }
            }
            let byte = bytes[at];
            at += 1;
            if self.step(byte) {
                return (at, Some(self.finish()));
            }
        }
        (bytes.len(), None)
    }

    /// Advances the state by one byte; true when it completed `<CRLF>.<CRLF>`.
    fn step(&mut self, byte: u8) -> bool {
        match self.state {
            State::LineStart { after_crlf } if byte == b'.' => {
                self.state = State::Dot { after_crlf };
            }
            State::LineStart { .. } | State::InLine => self.in_line(byte),
            State::Dot { after_crlf } => match byte {
                b'\r' => self.state = State::DotCr { after_crlf },
                b'\n' => {
                    self.emit(b".");
                    self.bare_line_ending();
                }
                // RFC 5321 §4.5.2: a leading period is removed when more follows on the line.
                _ => self.in_line(byte),
            },
            State::DotCr { after_crlf: true } if byte == b'\n' => return true,
            State::DotCr { after_crlf: false } if byte == b'\n' => {
                self.emit(b".\r\n");
                self.state = State::LineStart { after_crlf: true };
            }
            State::DotCr { .. } => {
                // A lone `.` ended by a bare CR: content, not an end.
                self.emit(b".");
                self.bare_line_ending();
                return self.step(byte);
            }
            State::Cr if byte == b'\n' => {
                self.emit(b"\r\n");
                self.state = State::LineStart { after_crlf: true };
            }
            State::Cr => {
                self.bare_line_ending();
                return self.step(byte);
            }
        }
        false
    }

    fn in_line(&mut self, byte: u8) {
        match byte {
            b'\r' => self.state = State::Cr,
            b'\n' => self.bare_line_ending(),
            _ => {
                self.emit(&[byte]);
                self.state = State::InLine;
            }
        }
    }

    fn bare_line_ending(&mut self) {
        match self.bare_lf {
            BareLfPolicy::Reject => {
                self.saw_bare_line_ending = true;
                self.message.bytes = Vec::new();
            }
            BareLfPolicy::Normalize => self.emit(b"\r\n"),
        }
        self.state = State::LineStart { after_crlf: false };
    }

    fn emit(&mut self, content: &[u8]) {
        if self.too_large || self.saw_bare_line_ending || self.discarding {
            return;
        }
        self.size += content.len() as u64;
        if self.size > self.max_size {
            self.too_large = true;
            self.message.bytes = Vec::new();
            return;
        }
        self.message.has_nul |= memchr::memchr(0, content).is_some();
        self.message.has_8bit |= !content.is_ascii();
        self.message.bytes.extend_from_slice(content);
    }

    /// Reports the end and makes the receiver ready for another message.
    fn finish(&mut self) -> DataEnd {
        let done = mem::replace(self, Self::new(self.max_size, self.bare_lf));
        if done.saw_bare_line_ending {
            DataEnd::BareLineEnding
        } else if done.too_large {
            DataEnd::TooLarge
        } else {
            DataEnd::Complete(done.message)
        }
    }
}
