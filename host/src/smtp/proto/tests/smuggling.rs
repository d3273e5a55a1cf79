//! SMTP smuggling (CVE-2023-51764 and kin): a fake end of data inside one message must never
//! end it, so the commands after the fake end stay message content.

use super::super::{BareLfPolicy, Command, DataEnd, MessageData};
use super::reference::{Outcome, decode_data};
use super::{Event, events_in_every_split};

/// Fake ends that some servers have honoured, and mixes of them.
const FAKE_ENDS: [&[u8]; 15] = [
    b"\n.\n",
    b"\r.\r",
    b"\n.\r\n",
    b"\r\n.\n",
    b"\r.\r\n",
    b"\n.\r",
    b"\r\n.\r",
    b"\r.\n",
    b"\n\r.\r\n",
    b"\r\r\n.\n",
    b"\r\n\n.\n",
    b"\r\n.\n\r\n.\r",
    b"\n.\n\r.\r\n.\r",
    b"\r\n.\r\r\n",
    b"\r\n\r.\r\n\r",
];

const ENVELOPE: &[u8] = b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n\
RCPT TO:<c@d.example>\r\nDATA\r\n";
const SMUGGLED: &[u8] = b"MAIL FROM:<evil@b.example>\r\nRCPT TO:<victim@d.example>\r\n\
DATA\r\nsmuggled\r\n";
const REAL_END: &[u8] = b"\r\n.\r\n";

/// The conversation: envelope, content with `fake_end` then smuggled commands, the real end,
/// and QUIT. Returns the input and the DATA content's raw bytes.
fn conversation(fake_end: &[u8], crlf_before: bool) -> (Vec<u8>, Vec<u8>) {
    let mut content = b"Subject: hi\r\n\r\nhello".to_vec();
    if crlf_before {
        content.extend_from_slice(b"\r\n");
    }
    content.extend_from_slice(fake_end);
    content.extend_from_slice(SMUGGLED);
    let mut raw = content.clone();
    raw.extend_from_slice(&REAL_END[2..]);
    let mut input = ENVELOPE.to_vec();
    input.extend_from_slice(&raw);
    input.extend_from_slice(b"QUIT\r\n");
    (input, raw)
}

/// The events before and after the message, which smuggling would change.
fn commands(events: &[Event]) -> Vec<&Command> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Command(Ok(command)) => Some(command),
            _ => None,
        })
        .collect()
}

fn data_ends(events: &[Event]) -> Vec<&DataEnd> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Data(end) => Some(end),
            _ => None,
        })
        .collect()
}

#[test]
fn no_fake_end_holds_a_real_one() {
    for fake_end in FAKE_ENDS {
        let (_, raw) = conversation(fake_end, true);
        let mut framed = b"\r\n".to_vec();
        framed.extend_from_slice(&raw);
        let first_real = framed.windows(5).position(|window| window == REAL_END);
        assert_eq!(first_real, Some(framed.len() - 5), "{fake_end:?}");
    }
}

#[test]
fn fake_ends_never_end_the_message_under_reject() {
    for fake_end in FAKE_ENDS {
        for crlf_before in [false, true] {
            let (input, _) = conversation(fake_end, crlf_before);
            let events = events_in_every_split(&input, 1 << 20, BareLfPolicy::Reject);
            assert_eq!(
                data_ends(&events),
                [&DataEnd::BareLineEnding],
                "{fake_end:?}"
            );
            assert_eq!(commands(&events).len(), 5, "{fake_end:?}: {events:?}");
            assert_eq!(commands(&events).last(), Some(&&Command::Quit));
        }
    }
}

#[test]
fn fake_ends_never_end_the_message_under_normalize() {
    for fake_end in FAKE_ENDS {
        for crlf_before in [false, true] {
            let (input, raw) = conversation(fake_end, crlf_before);
            let events = events_in_every_split(&input, 1 << 20, BareLfPolicy::Normalize);
            let ends = data_ends(&events);
            let [DataEnd::Complete(MessageData { bytes, .. })] = ends.as_slice() else {
                panic!("{fake_end:?}: not one message: {events:?}");
            };
            let smuggled_line = b"MAIL FROM:<evil@b.example>\r\n";
            assert!(
                bytes
                    .windows(smuggled_line.len())
                    .any(|window| window == smuggled_line),
                "{fake_end:?}: smuggled commands are not content"
            );
            let expected = decode_data(&raw, 1 << 20, true);
            assert_eq!(
                expected,
                Some((raw.len(), Outcome::Complete(bytes.clone()))),
                "{fake_end:?}"
            );
            assert_eq!(commands(&events).len(), 5, "{fake_end:?}: {events:?}");
        }
    }
}

#[test]
fn a_fake_end_right_after_data_is_not_an_end_either() {
    for fake_end in [&b".\n"[..], b".\r", b".\r\r\n", b".\n\r\n"] {
        let mut input = b"DATA\r\n".to_vec();
        input.extend_from_slice(fake_end);
        input.extend_from_slice(b"QUIT\r\n.\r\nNOOP\r\n");
        for policy in [BareLfPolicy::Reject, BareLfPolicy::Normalize] {
            let events = events_in_every_split(&input, 1 << 20, policy);
            assert_eq!(
                commands(&events),
                [&Command::Data, &Command::Noop],
                "{fake_end:?}"
            );
            assert_eq!(data_ends(&events).len(), 1, "{fake_end:?}");
        }
    }
}

#[test]
fn a_dot_line_with_more_on_it_is_content_not_an_end() {
    for fake_end in [&b"\r\n.\0\r\n"[..], b"\r\n. \r\n", b"\r\n..\r\n"] {
        let (input, raw) = conversation(fake_end, false);
        for policy in [BareLfPolicy::Reject, BareLfPolicy::Normalize] {
            let events = events_in_every_split(&input, 1 << 20, policy);
            let ends = data_ends(&events);
            let [DataEnd::Complete(MessageData { bytes, .. })] = ends.as_slice() else {
                panic!("{fake_end:?}: not one message: {events:?}");
            };
            let expected = decode_data(&raw, 1 << 20, false);
            assert_eq!(
                expected,
                Some((raw.len(), Outcome::Complete(bytes.clone())))
            );
            assert_eq!(commands(&events).len(), 5, "{fake_end:?}: {events:?}");
        }
    }
}
