//! PIPELINING (RFC 2920): several commands, and the message after DATA or BDAT, arrive in one
//! read; each receiver must stop at its end and leave the rest to the next one.

use super::super::{BdatEnd, Command, DataEnd, ForwardPath, MessageData, ReversePath};
use super::{Event, events};

fn command(line: &str) -> Event {
    Event::Command(super::super::parse_command(line.as_bytes()))
}

fn message(bytes: &[u8]) -> MessageData {
    MessageData {
        bytes: bytes.to_vec(),
        ..MessageData::default()
    }
}

#[test]
fn an_envelope_and_data_in_one_read_are_all_parsed() {
    let events = events(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
    assert_eq!(
        events,
        [
            command("MAIL FROM:<a@b.example>"),
            command("RCPT TO:<c@d.example>"),
            Event::Command(Ok(Command::Data)),
        ]
    );
    assert!(matches!(
        &events[0],
        Event::Command(Ok(Command::MailFrom {
            from: ReversePath::Address(_),
            ..
        }))
    ));
    assert!(matches!(
        &events[1],
        Event::Command(Ok(Command::RcptTo {
            to: ForwardPath::Address(_),
            ..
        }))
    ));
}

#[test]
fn commands_after_the_end_of_data_are_parsed_as_commands() {
    assert_eq!(
        events(b"DATA\r\nhello\r\n.\r\nQUIT\r\n"),
        [
            Event::Command(Ok(Command::Data)),
            Event::Data(DataEnd::Complete(message(b"hello\r\n"))),
            Event::Command(Ok(Command::Quit)),
        ]
    );
}

#[test]
fn two_whole_transactions_in_one_read_give_two_messages() {
    let input = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\none\r\n.\r\n\
MAIL FROM:<>\r\nRCPT TO:<postmaster>\r\nDATA\r\ntwo\r\n.\r\nQUIT\r\n";
    let events = events(input);
    let messages: Vec<&Event> = events
        .iter()
        .filter(|event| matches!(event, Event::Data(_)))
        .collect();
    assert_eq!(
        messages,
        [
            &Event::Data(DataEnd::Complete(message(b"one\r\n"))),
            &Event::Data(DataEnd::Complete(message(b"two\r\n"))),
        ]
    );
    assert_eq!(events.len(), 9);
    assert_eq!(events.last(), Some(&Event::Command(Ok(Command::Quit))));
}

#[test]
fn bdat_chunks_and_the_commands_between_them_are_told_apart() {
    assert_eq!(
        events(b"BDAT 5\r\nhelloBDAT 3 LAST\r\nabcQUIT\r\n"),
        [
            Event::Command(Ok(Command::Bdat {
                size: 5,
                last: false
            })),
            Event::Bdat(BdatEnd::Chunk { total: 5 }),
            Event::Command(Ok(Command::Bdat {
                size: 3,
                last: true
            })),
            Event::Bdat(BdatEnd::Complete(message(b"helloabc"))),
            Event::Command(Ok(Command::Quit)),
        ]
    );
}

#[test]
fn command_text_inside_a_bdat_chunk_is_content() {
    assert_eq!(
        events(b"BDAT 6 LAST\r\nQUIT\r\nNOOP\r\n"),
        [
            Event::Command(Ok(Command::Bdat {
                size: 6,
                last: true
            })),
            Event::Bdat(BdatEnd::Complete(message(b"QUIT\r\n"))),
            Event::Command(Ok(Command::Noop)),
        ]
    );
}

#[test]
fn an_empty_last_chunk_ends_the_message_at_once() {
    assert_eq!(
        events(b"BDAT 2\r\nhiBDAT 0 LAST\r\nQUIT\r\n"),
        [
            Event::Command(Ok(Command::Bdat {
                size: 2,
                last: false
            })),
            Event::Bdat(BdatEnd::Chunk { total: 2 }),
            Event::Command(Ok(Command::Bdat {
                size: 0,
                last: true
            })),
            Event::Bdat(BdatEnd::Complete(message(b"hi"))),
            Event::Command(Ok(Command::Quit)),
        ]
    );
}
