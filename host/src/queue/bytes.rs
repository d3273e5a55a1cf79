//! The bytes of a message on their way into the queue, in the form the store keeps them.
//!
//! A message in flight is held once by its session (the received bytes, which the parse
//! and the outcome stage share). What the queue writes is those bytes behind the header
//! fields Moat adds (Received, the verdict's), built straight into the store's own buffer
//! in one allocation: no intermediate joined copy, and none when the store takes it.

use fjall::Slice;

/// A message as it will be stored: built once, handed to the store without a copy.
pub struct MessageBytes(Slice);

impl MessageBytes {
    /// `added` header fields, then the message `raw` as received, in one buffer.
    pub fn joined(added: &[u8], raw: &[u8]) -> Self {
        Self(Slice::from(byteview::ByteView::fused(added, raw)))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// How many bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What the store writes.
    pub(super) fn into_slice(self) -> Slice {
        self.0
    }
}

impl From<Vec<u8>> for MessageBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Slice::from(bytes))
    }
}

impl std::fmt::Debug for MessageBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageBytes")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_bytes_are_the_added_fields_then_the_message() {
        let bytes = MessageBytes::joined(b"Received: x\r\n", b"Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(
            bytes.as_bytes(),
            b"Received: x\r\nSubject: hi\r\n\r\nbody\r\n"
        );
        assert_eq!(bytes.len(), 34);
        assert!(MessageBytes::from(Vec::new()).is_empty());
    }
}
