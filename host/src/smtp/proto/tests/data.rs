use super::super::{BareLfPolicy, DataEnd, DataReceiver, MessageData};
use super::for_each_split;
use super::reference::{Outcome, decode_data};

const POLICIES: [BareLfPolicy; 2] = [BareLfPolicy::Reject, BareLfPolicy::Normalize];

/// Feeds `chunks` to one receiver and returns the total consumed and the end, checking that
/// no end is reported before the last byte it consumed.
fn receive(chunks: &[&[u8]], max_size: u64, policy: BareLfPolicy) -> (usize, Option<DataEnd>) {
    let mut receiver = DataReceiver::new(max_size, policy);
    let mut consumed = 0;
    for chunk in chunks {
        let (used, end) = receiver.ingest(chunk);
        consumed += used;
        if end.is_some() {
            return (consumed, end);
        }
        assert_eq!(used, chunk.len(), "consumed part of a chunk without an end");
    }
    (consumed, None)
}

/// The end of `input`, the same in every split.
fn receive_split(input: &[u8], max_size: u64, policy: BareLfPolicy) -> (usize, Option<DataEnd>) {
    let whole = receive(&[input], max_size, policy);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(receive(&bytewise, max_size, policy), whole, "byte by byte");
    for_each_split(input, |chunks| {
        assert_eq!(receive(chunks, max_size, policy), whole, "{chunks:?}");
    });
    whole
}

fn complete(bytes: &[u8]) -> Option<DataEnd> {
    Some(DataEnd::Complete(MessageData {
        bytes: bytes.to_vec(),
        ..MessageData::default()
    }))
}

#[test]
fn a_lone_dot_right_after_data_is_an_empty_message() {
    for policy in POLICIES {
        assert_eq!(receive_split(b".\r\n", 100, policy), (3, complete(b"")));
    }
}

#[test]
fn data_ends_only_on_crlf_dot_crlf_and_keeps_the_last_crlf() {
    let input = b"Subject: hi\r\n\r\nbody\r\n.\r\n";
    for policy in POLICIES {
        assert_eq!(
            receive_split(input, 100, policy),
            (input.len(), complete(b"Subject: hi\r\n\r\nbody\r\n"))
        );
    }
}

#[test]
fn leading_dots_are_unstuffed() {
    let input = b"..\r\n.a\r\n..b\r\nc.\r\n\r\n...\r\n.\r\n";
    for policy in POLICIES {
        assert_eq!(
            receive_split(input, 100, policy),
            (input.len(), complete(b".\r\na\r\n.b\r\nc.\r\n\r\n..\r\n"))
        );
    }
}

#[test]
fn ingest_stops_at_the_end_and_leaves_the_rest() {
    let mut receiver = DataReceiver::new(100, BareLfPolicy::Reject);
    let input = b"hello\r\n.\r\nQUIT\r\n";
    let (used, end) = receiver.ingest(input);
    assert_eq!(end, complete(b"hello\r\n"));
    assert_eq!(&input[used..], b"QUIT\r\n");
}

#[test]
fn the_receiver_is_ready_for_another_message_after_an_end() {
    let mut receiver = DataReceiver::new(100, BareLfPolicy::Reject);
    assert_eq!(receiver.ingest(b"one\r\n.\r\n"), (8, complete(b"one\r\n")));
    assert_eq!(receiver.ingest(b".\r\n"), (3, complete(b"")));
}

#[test]
fn without_an_end_everything_is_consumed_and_nothing_reported() {
    for input in [
        &b""[..],
        b"abc",
        b"abc\r\n",
        b"abc\r\n.",
        b"abc\r\n.\r",
        b".\r",
    ] {
        for policy in POLICIES {
            assert_eq!(
                receive_split(input, 100, policy),
                (input.len(), None),
                "{input:?}"
            );
        }
    }
}

#[test]
fn eight_bit_and_nul_bytes_are_kept_and_flagged() {
    let (_, end) = receive_split(b"caf\xc3\xa9\r\n.\r\n", 100, BareLfPolicy::Reject);
    let Some(DataEnd::Complete(message)) = end else {
        panic!("no message: {end:?}");
    };
    assert!(message.has_8bit && !message.has_nul);
    assert_eq!(message.bytes, b"caf\xc3\xa9\r\n");
    let (_, end) = receive_split(b"a\0b\r\n.\r\n", 100, BareLfPolicy::Reject);
    let Some(DataEnd::Complete(message)) = end else {
        panic!("no message: {end:?}");
    };
    assert!(message.has_nul && !message.has_8bit);
    assert!(!message.has_bare_line_ending);
}

#[test]
fn a_message_of_exactly_the_limit_is_accepted_and_one_more_octet_is_too_large() {
    // "0123456789\r\n" is 12 octets of content.
    let input = b"0123456789\r\n.\r\nQUIT\r\n";
    for policy in POLICIES {
        assert_eq!(
            receive_split(input, 12, policy),
            (15, complete(b"0123456789\r\n"))
        );
        assert_eq!(
            receive_split(input, 11, policy),
            (15, Some(DataEnd::TooLarge))
        );
    }
}

#[test]
fn the_limit_counts_unstuffed_octets() {
    assert_eq!(
        receive_split(b"..\r\n.\r\n", 3, BareLfPolicy::Reject),
        (7, complete(b".\r\n"))
    );
}

#[test]
fn an_oversized_message_is_scanned_to_its_real_end_without_being_stored() {
    let mut receiver = DataReceiver::new(10, BareLfPolicy::Reject);
    for _ in 0..100 {
        assert_eq!(receiver.ingest(&[b'x'; 1000]), (1000, None));
    }
    assert_eq!(receiver.ingest(b"\r\n..\r\n.\r"), (8, None));
    assert_eq!(receiver.ingest(b"\nNOOP"), (1, Some(DataEnd::TooLarge)));
}

#[test]
fn bare_line_endings_spoil_the_message_under_reject() {
    for input in [
        &b"a\nb\r\n.\r\n"[..],
        b"a\rb\r\n.\r\n",
        b"a\r\r\n.\r\n",
        b"\n\r\n.\r\n",
    ] {
        assert_eq!(
            receive_split(input, 100, BareLfPolicy::Reject),
            (input.len(), Some(DataEnd::BareLineEnding)),
            "{input:?}"
        );
    }
}

#[test]
fn a_bare_line_ending_is_reported_before_the_size() {
    let input = b"0123456789\n0123456789\r\n.\r\n";
    assert_eq!(
        receive_split(input, 5, BareLfPolicy::Reject),
        (input.len(), Some(DataEnd::BareLineEnding))
    );
}

#[test]
fn bare_line_endings_become_crlf_under_normalize() {
    for (input, content) in [
        (&b"a\nb\r\n.\r\n"[..], &b"a\r\nb\r\n"[..]),
        (b"a\rb\r\n.\r\n", b"a\r\nb\r\n"),
        (b"a\r\r\n.\r\n", b"a\r\n\r\n"),
        (b"a\n\n\r\n.\r\n", b"a\r\n\r\n\r\n"),
    ] {
        assert_eq!(
            receive_split(input, 100, BareLfPolicy::Normalize),
            (input.len(), complete(content)),
            "{input:?}"
        );
    }
}

#[test]
fn lines_begun_by_a_normalised_ending_are_unstuffed_but_a_lone_dot_there_is_content() {
    for (input, content) in [
        // ".." after a bare LF is a stuffed "."; ".x" loses its dot.
        (&b"a\n..\r\n.\r\n"[..], &b"a\r\n.\r\n"[..]),
        (b"a\n.x\r\n.\r\n", b"a\r\nx\r\n"),
        (b"a\r.x\r\n.\r\n", b"a\r\nx\r\n"),
        // A lone "." after a bare ending did not follow a CRLF: it stays, and so does one
        // ended by a bare ending.
        (b"a\n.\r\n.\r\n", b"a\r\n.\r\n"),
        (b"a\r\n.\nb\r\n.\r\n", b"a\r\n.\r\nb\r\n"),
        (b"a\r\n.\rb\r\n.\r\n", b"a\r\n.\r\nb\r\n"),
        (b"a\r\n.\r\rb\r\n.\r\n", b"a\r\n.\r\n\r\nb\r\n"),
    ] {
        assert_eq!(
            receive_split(input, 100, BareLfPolicy::Normalize),
            (input.len(), complete(content)),
            "{input:?}"
        );
    }
}

#[test]
fn normalised_content_never_holds_a_bare_line_ending() {
    let (_, end) = receive_split(b"\r\r\n\n\r.\n.\r\r\n.\r\n", 100, BareLfPolicy::Normalize);
    let Some(DataEnd::Complete(message)) = end else {
        panic!("no message: {end:?}");
    };
    assert!(!message.has_bare_line_ending);
    let text = message.bytes;
    for (at, &byte) in text.iter().enumerate() {
        match byte {
            b'\r' => assert_eq!(text.get(at + 1), Some(&b'\n'), "bare CR at {at}"),
            b'\n' => assert_eq!(
                text.get(at.wrapping_sub(1)),
                Some(&b'\r'),
                "bare LF at {at}"
            ),
            _ => {}
        }
    }
}

/// xorshift64: a fixed sequence of pseudo-random numbers, so failures reproduce.
fn pseudo_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn the_receiver_agrees_with_the_reference_model_on_many_generated_inputs() {
    const ALPHABET: &[u8] = b"\r\n.\r\n.a\0\xe9";
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..50_000 {
        let len = (pseudo_random(&mut seed) % 24) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| ALPHABET[(pseudo_random(&mut seed) % ALPHABET.len() as u64) as usize])
            .collect();
        let max_size = pseudo_random(&mut seed) % 20;
        let split = (pseudo_random(&mut seed) as usize) % (len + 1);
        for policy in POLICIES {
            let normalize = policy == BareLfPolicy::Normalize;
            let expected = decode_data(&input, max_size, normalize);
            let actual = receive(&[&input[..split], &input[split..]], max_size, policy);
            match expected {
                None => assert_eq!(actual, (len, None), "{input:?}"),
                Some((consumed, outcome)) => {
                    let end = actual.1.map(|end| match end {
                        DataEnd::Complete(message) => Outcome::Complete(message.bytes),
                        DataEnd::TooLarge => Outcome::TooLarge,
                        DataEnd::BareLineEnding => Outcome::BareLineEnding,
                    });
                    assert_eq!(
                        (actual.0, end),
                        (consumed, Some(outcome)),
                        "{input:?} {policy:?}"
                    );
                }
            }
        }
    }
}
