//! Command lines (and SASL response lines): bytes up to a line ending, with a length limit.
//!
//! A line ends at LF, with one CR before it removed. A bare LF ends a command line too, as
//! Postfix and smtp-proto accept: a command line carries no message content, so the leniency
//! cannot be used to smuggle a message; DATA content is where line endings are strict.

use std::mem;

/// What a completed line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// A line, without its line ending.
    Line(Vec<u8>),
    /// The line was longer than the limit; it was discarded up to its end. Reply `500 5.5.2`
    /// (RFC 5321 §4.5.3.1.4 "line too long").
    TooLong,
    /// The line held a NUL byte and was discarded. Reply `500 5.5.2`.
    ContainsNul,
}

/// Collects one line at a time from arbitrary chunks of input.
#[derive(Debug, Clone)]
pub struct LineReceiver {
    max_line: usize,
    line: Vec<u8>,
    overflowed: bool,
}

impl LineReceiver {
    /// A receiver for lines of at most `max_line` octets, not counting the line ending.
    /// RFC 5321 §4.5.3.1.4 allows 512 with CRLF; extensions make longer lines legitimate.
    pub fn new(max_line: usize) -> Self {
        Self {
            max_line,
            line: Vec::new(),
            overflowed: false,
        }
    }

    /// Consumes `bytes` up to and including the first line ending and returns how many it
    /// took and the line, if one was completed.
    pub fn ingest(&mut self, bytes: &[u8]) -> (usize, Option<LineEvent>) {
        match bytes.iter().position(|&byte| byte == b'\n') {
            Some(end) => {
                self.store(&bytes[..end]);
                (end + 1, Some(self.finish_line()))
            }
            None => {
                self.store(bytes);
                (bytes.len(), None)
            }
        }
    }

    /// Whether part of a line is buffered.
    pub fn has_partial_line(&self) -> bool {
        !self.line.is_empty() || self.overflowed
    }

    fn store(&mut self, bytes: &[u8]) {
        if self.overflowed {
            return;
        }
        // One more than the limit leaves room for the CR of the CRLF.
        if self.line.len() + bytes.len() > self.max_line.saturating_add(1) {
            self.overflowed = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn finish_line(&mut self) -> LineEvent {
        let mut line = mem::take(&mut self.line);
        let overflowed = mem::replace(&mut self.overflowed, false);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if overflowed || line.len() > self.max_line {
            LineEvent::TooLong
        } else if line.contains(&0) {
            LineEvent::ContainsNul
        } else {
            LineEvent::Line(line)
        }
    }
}
