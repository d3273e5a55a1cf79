//! BDAT chunks (RFC 3030 §2): exactly `size` octets each, no dot handling, and one size limit
//! across all the chunks of a message.

use std::mem;

use super::MessageData;

/// How a BDAT chunk ended; it always ends after exactly its announced size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BdatEnd {
    /// A chunk that was not the last was received. Reply `250 2.0.0` with the octet count.
    Chunk {
        /// Octets received in this message so far.
        total: u64,
    },
    /// The last chunk was received: the whole message.
    Complete(MessageData),
    /// The chunks exceeded the size limit; the content is discarded and every later chunk of
    /// the message is consumed and reported this way too. Reply `552 5.3.4`.
    TooLarge,
}

/// Receives the chunks of one BDAT message from arbitrary chunks of input.
#[derive(Debug, Clone)]
pub struct BdatReceiver {
    max_size: u64,
    remaining: u64,
    last: bool,
    total: u64,
    too_large: bool,
    pending_cr: bool,
    message: MessageData,
    /// The session stopped keeping the content (no memory for it): chunks are consumed and
    /// dropped, and the message ends empty.
    discarding: bool,
}

impl BdatReceiver {
    /// A receiver for a message of at most `max_size` octets. Call
    /// [`BdatReceiver::start_chunk`] for each `BDAT` command before ingesting its octets.
    pub fn new(max_size: u64) -> Self {
        Self {
            max_size,
            remaining: 0,
            last: false,
            total: 0,
            too_large: false,
            pending_cr: false,
            message: MessageData::default(),
            discarding: false,
        }
    }

    /// The content kept so far, in bytes (what the message holds in memory).
    pub fn held(&self) -> usize {
        self.message.bytes.len()
    }

    /// Drops the content kept so far and keeps no more of this message: its chunks are
    /// consumed and it completes empty. For a session that has no memory left for it.
    pub fn discard(&mut self) {
        self.discarding = true;
        self.message.bytes = Vec::new();
    }

    /// Announces a chunk of `size` octets (`BDAT size [LAST]`). A chunk that would take the
    /// message past the limit is consumed without being stored.
    pub fn start_chunk(&mut self, size: u64, last: bool) {
        self.remaining = size;
        self.last = last;
        self.total = self.total.saturating_add(size);
        if self.total > self.max_size && !self.too_large {
            self.too_large = true;
            self.message = MessageData::default();
        }
    }

    /// Consumes up to the rest of the current chunk and returns how many octets it took and,
    /// once the chunk is complete, how it ended. A chunk of size 0 ends at once, even when
    /// `bytes` is empty.
    pub fn ingest(&mut self, bytes: &[u8]) -> (usize, Option<BdatEnd>) {
        let take =
            usize::try_from(self.remaining).map_or(bytes.len(), |left| left.min(bytes.len()));
        self.store(&bytes[..take]);
        self.remaining -= take as u64;
        if self.remaining > 0 {
            return (take, None);
        }
        (take, Some(self.finish_chunk()))
    }

    fn store(&mut self, content: &[u8]) {
        if self.too_large || self.discarding {
            return;
        }
        self.note_line_endings(content);
        self.message.has_nul |= content.contains(&0);
        self.message.has_8bit |= !content.is_ascii();
        self.message.bytes.extend_from_slice(content);
    }

    /// Tracks CR and LF outside CRLF pairs, across chunk boundaries.
    fn note_line_endings(&mut self, content: &[u8]) {
        for &byte in content {
            let bare = if self.pending_cr {
                byte != b'\n'
            } else {
                byte == b'\n'
            };
            self.message.has_bare_line_ending |= bare;
            self.pending_cr = byte == b'\r';
        }
    }

    fn finish_chunk(&mut self) -> BdatEnd {
        if !self.last {
            return if self.too_large {
                BdatEnd::TooLarge
            } else {
                BdatEnd::Chunk { total: self.total }
            };
        }
        let done = mem::replace(self, Self::new(self.max_size));
        if done.too_large {
            BdatEnd::TooLarge
        } else {
            let mut message = done.message;
            message.has_bare_line_ending |= done.pending_cr;
            BdatEnd::Complete(message)
        }
    }
}
