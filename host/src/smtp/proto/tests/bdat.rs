use super::super::{BdatEnd, BdatReceiver, MessageData};
use super::for_each_split;

/// Feeds one chunk of `size` octets from `chunks` and returns what was consumed and the end.
fn chunk(
    receiver: &mut BdatReceiver,
    size: u64,
    last: bool,
    chunks: &[&[u8]],
) -> (usize, Option<BdatEnd>) {
    receiver.start_chunk(size, last);
    let mut consumed = 0;
    for piece in chunks {
        let (used, end) = receiver.ingest(piece);
        consumed += used;
        if end.is_some() {
            return (consumed, end);
        }
        assert_eq!(used, piece.len());
    }
    (consumed, None)
}

fn complete(bytes: &[u8]) -> Option<BdatEnd> {
    Some(BdatEnd::Complete(MessageData {
        bytes: bytes.to_vec(),
        ..MessageData::default()
    }))
}

#[test]
fn a_chunk_is_exactly_its_size_in_any_split() {
    let input = b"hello\r\n.\r\nQUIT\r\n";
    for_each_split(input, |chunks| {
        let mut receiver = BdatReceiver::new(100);
        assert_eq!(
            chunk(&mut receiver, 10, true, chunks),
            (10, complete(b"hello\r\n.\r\n"))
        );
    });
}

#[test]
fn chunks_accumulate_into_one_message() {
    let mut receiver = BdatReceiver::new(100);
    assert_eq!(
        chunk(&mut receiver, 3, false, &[b"abc"]),
        (3, Some(BdatEnd::Chunk { total: 3 }))
    );
    assert_eq!(
        chunk(&mut receiver, 2, false, &[b"de"]),
        (2, Some(BdatEnd::Chunk { total: 5 }))
    );
    assert_eq!(
        chunk(&mut receiver, 1, true, &[b"fXYZ"]),
        (1, complete(b"abcdef"))
    );
}

#[test]
fn a_zero_size_chunk_ends_without_input() {
    let mut receiver = BdatReceiver::new(100);
    receiver.start_chunk(0, true);
    assert_eq!(receiver.ingest(b""), (0, complete(b"")));
    receiver.start_chunk(0, false);
    assert_eq!(
        receiver.ingest(b"NOOP"),
        (0, Some(BdatEnd::Chunk { total: 0 }))
    );
}

#[test]
fn the_size_limit_spans_chunks_and_stays_exceeded_until_the_last() {
    let mut receiver = BdatReceiver::new(10);
    assert_eq!(
        chunk(&mut receiver, 6, false, &[b"abcdef"]),
        (6, Some(BdatEnd::Chunk { total: 6 }))
    );
    assert_eq!(
        chunk(&mut receiver, 5, false, &[b"ghijk"]),
        (5, Some(BdatEnd::TooLarge))
    );
    assert_eq!(
        chunk(&mut receiver, 1, true, &[b"l"]),
        (1, Some(BdatEnd::TooLarge))
    );
    // The next message starts afresh.
    assert_eq!(
        chunk(&mut receiver, 10, true, &[b"0123456789"]),
        (10, complete(b"0123456789"))
    );
}

#[test]
fn a_huge_announced_size_is_refused_without_allocating_it() {
    let mut receiver = BdatReceiver::new(10);
    receiver.start_chunk(u64::MAX, true);
    assert_eq!(receiver.ingest(&[b'x'; 1000]), (1000, None));
    receiver.start_chunk(u64::MAX, true);
    assert_eq!(receiver.ingest(b"x"), (1, None));
}

#[test]
fn bare_line_endings_are_flagged_even_across_chunk_boundaries() {
    let flagged = |pieces: &[(&[u8], bool)]| {
        let mut receiver = BdatReceiver::new(100);
        let mut last_end = None;
        for &(piece, last) in pieces {
            last_end = chunk(&mut receiver, piece.len() as u64, last, &[piece]).1;
        }
        match last_end {
            Some(BdatEnd::Complete(message)) => message.has_bare_line_ending,
            other => panic!("no message: {other:?}"),
        }
    };
    assert!(!flagged(&[(b"a\r", false), (b"\nb\r\n", true)]));
    assert!(flagged(&[(b"a\n", true)]));
    assert!(flagged(&[(b"a\r", false), (b"b", true)]));
    assert!(flagged(&[(b"a\r", true)]));
    assert!(flagged(&[(b"a\r\r\n", true)]));
}

#[test]
fn eight_bit_and_nul_bytes_are_flagged() {
    let mut receiver = BdatReceiver::new(100);
    let Some(BdatEnd::Complete(message)) = chunk(&mut receiver, 3, true, &[b"\0\xff\x01"]).1 else {
        panic!("no message");
    };
    assert!(message.has_nul && message.has_8bit && !message.has_bare_line_ending);
}
