use super::super::{LineEvent, LineReceiver};
use super::for_each_split;

/// Every event `input` produces, fed in the given chunks.
fn lines(max_line: usize, chunks: &[&[u8]]) -> Vec<LineEvent> {
    let mut receiver = LineReceiver::new(max_line);
    let mut events = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        loop {
            let (used, event) = receiver.ingest(rest);
            rest = &rest[used..];
            match event {
                Some(event) => events.push(event),
                None => {
                    assert!(rest.is_empty());
                    break;
                }
            }
        }
    }
    events
}

fn line(text: &str) -> LineEvent {
    LineEvent::Line(text.as_bytes().to_vec())
}

#[test]
fn crlf_and_bare_lf_both_end_a_command_line() {
    let input = b"EHLO a\r\nNOOP\nQUIT\r\n";
    let expected = vec![line("EHLO a"), line("NOOP"), line("QUIT")];
    assert_eq!(lines(512, &[input]), expected);
    for_each_split(input, |chunks| {
        assert_eq!(lines(512, chunks), expected, "{chunks:?}")
    });
}

#[test]
fn a_bare_cr_stays_inside_the_line() {
    assert_eq!(lines(512, &[b"NO\rOP\r\n"]), vec![line("NO\rOP")]);
    assert_eq!(lines(512, &[b"NOOP\r\r\n"]), vec![line("NOOP\r")]);
}

#[test]
fn an_incomplete_line_waits_for_more_and_consumes_everything() {
    let mut receiver = LineReceiver::new(512);
    assert_eq!(receiver.ingest(b"QUI"), (3, None));
    assert!(receiver.has_partial_line());
    assert_eq!(receiver.ingest(b"T\r"), (2, None));
    assert_eq!(receiver.ingest(b"\nNOOP"), (1, Some(line("QUIT"))));
    assert!(!receiver.has_partial_line());
}

#[test]
fn ingest_stops_after_one_line_so_the_rest_can_go_elsewhere() {
    let mut receiver = LineReceiver::new(512);
    let input = b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n";
    let (used, event) = receiver.ingest(input);
    assert_eq!(event, Some(line("STARTTLS")));
    assert_eq!(&input[used..], b"MAIL FROM:<evil@example.org>\r\n");
    assert!(!receiver.has_partial_line());
}

#[test]
fn a_line_of_exactly_the_limit_is_accepted() {
    let at_limit = [b'a'; 16];
    let mut input = at_limit.to_vec();
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        lines(16, &[&input]),
        vec![LineEvent::Line(at_limit.to_vec())]
    );
    for_each_split(&input, |chunks| {
        assert_eq!(lines(16, chunks), vec![LineEvent::Line(at_limit.to_vec())]);
    });
}

#[test]
fn an_over_long_line_is_discarded_to_its_end_and_reported_once() {
    let mut input = vec![b'a'; 17];
    input.extend_from_slice(b"\r\nQUIT\r\n");
    let expected = vec![LineEvent::TooLong, line("QUIT")];
    assert_eq!(lines(16, &[&input]), expected);
    for_each_split(&input, |chunks| {
        assert_eq!(lines(16, chunks), expected, "{chunks:?}")
    });
    let mut bare = vec![b'a'; 17];
    bare.extend_from_slice(b"\n");
    assert_eq!(lines(16, &[&bare]), vec![LineEvent::TooLong]);
}

#[test]
fn a_very_long_line_does_not_grow_the_buffer() {
    let mut receiver = LineReceiver::new(16);
    for _ in 0..1000 {
        assert_eq!(receiver.ingest(&[b'x'; 1000]), (1000, None));
    }
    assert!(receiver.has_partial_line());
    assert_eq!(receiver.ingest(b"\r\n"), (2, Some(LineEvent::TooLong)));
}

#[test]
fn a_line_with_a_nul_is_reported() {
    let expected = vec![LineEvent::ContainsNul, line("QUIT")];
    assert_eq!(lines(512, &[b"NO\0OP\r\nQUIT\r\n"]), expected);
}

#[test]
fn empty_lines_are_lines() {
    assert_eq!(lines(512, &[b"\r\n\n"]), vec![line(""), line("")]);
}
