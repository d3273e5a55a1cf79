//! The misbehaviours themselves. Each is written so the optimizer cannot remove or
//! shorten it.

use std::hint::black_box;

use moat_sdk::{Message, ocr};

/// Spins forever.
pub(crate) fn spin_forever() -> ! {
    let mut counter = 0_u64;
    loop {
        counter = black_box(counter).wrapping_add(1);
    }
}

/// Allocates 1 MiB chunks forever, writing to every page of each so the memory is really
/// committed, until the sandbox's memory limit stops it.
pub(crate) fn exhaust_memory() -> ! {
    const CHUNK: usize = 1 << 20;
    const PAGE: usize = 4096;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0_u8; CHUNK];
        for page in chunk.iter_mut().step_by(PAGE) {
            *page = black_box(0xA5);
        }
        hoard.push(black_box(chunk));
    }
}

/// Recurses until the wasm call stack is exhausted. The result of each call goes through
/// an opaque `black_box` before it is combined, so the recursion is neither a tail call
/// nor an accumulator the optimizer could turn into a loop, and the end condition is
/// opaque too. Frames keep nothing in linear memory beyond a few bytes, so the engine's
/// call-stack limit trips long before the guest's own shadow stack in linear memory runs
/// out (which would look like an out-of-bounds access instead).
pub(crate) fn overflow_stack(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return depth;
    }
    let below = overflow_stack(depth + 1);
    black_box(below) ^ depth
}

/// Holds `copies` copies of `text`, each really in memory, and returns their total length.
pub(crate) fn hoard(text: &str, copies: usize) -> usize {
    let hoard: Vec<String> = (0..copies).map(|_| black_box(text.to_owned())).collect();
    black_box(&hoard).iter().map(String::len).sum()
}

/// Each attachment's OCR outcome, as `INDEX: N bytes of text` or `INDEX: ERROR`, joined by
/// `; `: every attachment is sent as it is, whatever its type or size.
pub(crate) fn ocr_everything(message: &Message) -> String {
    let mut outcomes = Vec::new();
    for attachment in message.attachments() {
        let Some(bytes) = message.attachment_bytes(attachment.index) else {
            continue;
        };
        let outcome = match ocr::recognize(&bytes, &attachment.content_type) {
            Ok(text) => format!("{} bytes of text", text.len()),
            Err(error) => format!("{error:?}"),
        };
        outcomes.push(format!("{}: {outcome}", attachment.index));
    }
    outcomes.join("; ")
}
