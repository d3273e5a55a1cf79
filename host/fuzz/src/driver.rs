//! A minimal session that switches receivers the way the real one does and checks every
//! receiver result against its contract and the reference models.

use crate::input::Settings;
use crate::proto::{
    BareLfPolicy, BdatEnd, BdatReceiver, Command, CommandError, DataEnd, DataReceiver, ForwardPath,
    LineEvent, LineReceiver, Mailbox, MessageData, ParseContext, ReversePath, parse_command_with,
};
use crate::reference::{Outcome, decode_data};

/// What the session saw, in order; compared between differently split runs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Command(Result<Command, CommandError>),
    BadLine(LineEvent),
    Data(DataEnd),
    Bdat(BdatEnd),
}

enum Mode {
    Line,
    Data,
    Bdat,
}

pub(crate) struct Driver {
    settings: Settings,
    mode: Mode,
    smtputf8: bool,
    lines: LineReceiver,
    data: DataReceiver,
    bdat: BdatReceiver,
    events: Vec<Event>,
    /// Raw bytes given to the DATA receiver since the DATA command.
    data_raw: Vec<u8>,
    /// The BDAT model: octets of the current chunk still due, whether it is the last, the
    /// message so far and its announced size.
    bdat_left: u64,
    bdat_last: bool,
    bdat_content: Vec<u8>,
    bdat_total: u64,
}

impl Driver {
    /// Feeds `chunks` in order and returns the events.
    pub(crate) fn run(settings: Settings, chunks: &[&[u8]]) -> Vec<Event> {
        let mut driver = Self {
            settings,
            mode: Mode::Line,
            smtputf8: false,
            lines: LineReceiver::new(settings.max_line),
            data: DataReceiver::new(settings.max_size, settings.policy),
            bdat: BdatReceiver::new(settings.max_size),
            events: Vec::new(),
            data_raw: Vec::new(),
            bdat_left: 0,
            bdat_last: false,
            bdat_content: Vec::new(),
            bdat_total: 0,
        };
        for chunk in chunks {
            driver.feed(chunk);
        }
        if let Mode::Data = driver.mode {
            let normalize = settings.policy == BareLfPolicy::Normalize;
            let expected = decode_data(&driver.data_raw, settings.max_size, normalize);
            assert_eq!(
                expected, None,
                "input holds an end of data the receiver missed"
            );
        }
        driver.events
    }

    fn feed(&mut self, mut input: &[u8]) {
        loop {
            let (used, produced) = match self.mode {
                Mode::Line => self.feed_lines(input),
                Mode::Data => self.feed_data(input),
                Mode::Bdat => self.feed_bdat(input),
            };
            assert!(used <= input.len(), "consumed {used} of {}", input.len());
            if !produced {
                assert_eq!(used, input.len(), "stopped without an event");
                return;
            }
            input = &input[used..];
        }
    }

    fn feed_lines(&mut self, input: &[u8]) -> (usize, bool) {
        let (used, event) = self.lines.ingest(input);
        let Some(event) = event else {
            return (used, false);
        };
        assert_eq!(
            input.get(used.wrapping_sub(1)),
            Some(&b'\n'),
            "line ended without LF"
        );
        match event {
            LineEvent::Line(line) => {
                assert!(line.len() <= self.settings.max_line, "line over the limit");
                assert!(
                    !line.contains(&b'\n') && !line.contains(&0),
                    "LF or NUL in a line"
                );
                self.command(&line);
            }
            other => self.events.push(Event::BadLine(other)),
        }
        (used, true)
    }

    fn command(&mut self, line: &[u8]) {
        let context = ParseContext {
            smtputf8: self.smtputf8,
        };
        let command = parse_command_with(line, context);
        match &command {
            Ok(Command::MailFrom { from, params }) => {
                self.smtputf8 = params.smtputf8;
                if let ReversePath::Address(mailbox) = from {
                    check_round_trip(mailbox);
                }
            }
            Ok(Command::RcptTo {
                to: ForwardPath::Address(mailbox),
                ..
            }) => check_round_trip(mailbox),
            Ok(Command::Data) => {
                self.data_raw.clear();
                self.mode = Mode::Data;
            }
            Ok(Command::Bdat { size, last }) => {
                self.bdat.start_chunk(*size, *last);
                self.bdat_left = *size;
                self.bdat_last = *last;
                self.bdat_total = self.bdat_total.saturating_add(*size);
                self.mode = Mode::Bdat;
            }
            _ => {}
        }
        self.events.push(Event::Command(command));
    }

    fn feed_data(&mut self, input: &[u8]) -> (usize, bool) {
        let (used, end) = self.data.ingest(input);
        self.data_raw
            .extend_from_slice(&input[..used.min(input.len())]);
        let Some(end) = end else {
            return (used, false);
        };
        let normalize = self.settings.policy == BareLfPolicy::Normalize;
        let expected = decode_data(&self.data_raw, self.settings.max_size, normalize);
        let actual = match &end {
            DataEnd::Complete(message) => {
                check_flags(message);
                assert!(!message.has_bare_line_ending, "bare line ending after DATA");
                Outcome::Complete(message.bytes.clone())
            }
            DataEnd::TooLarge => Outcome::TooLarge,
            DataEnd::BareLineEnding => Outcome::BareLineEnding,
        };
        assert_eq!(
            expected,
            Some((self.data_raw.len(), actual)),
            "DATA disagrees with the model"
        );
        self.events.push(Event::Data(end));
        self.mode = Mode::Line;
        (used, true)
    }

    fn feed_bdat(&mut self, input: &[u8]) -> (usize, bool) {
        let (used, end) = self.bdat.ingest(input);
        assert!(
            used as u64 <= self.bdat_left,
            "BDAT consumed past its chunk"
        );
        self.bdat_left -= used as u64;
        if self.bdat_total <= self.settings.max_size {
            self.bdat_content
                .extend_from_slice(&input[..used.min(input.len())]);
        }
        let Some(end) = end else {
            return (used, false);
        };
        assert_eq!(self.bdat_left, 0, "BDAT ended before its size");
        let over = self.bdat_total > self.settings.max_size;
        match &end {
            BdatEnd::Chunk { total } => {
                assert!(!over, "chunk accepted past the limit");
                assert_eq!(*total, self.bdat_total);
            }
            BdatEnd::TooLarge => assert!(over, "TooLarge within the limit"),
            BdatEnd::Complete(message) => {
                assert!(!over, "message accepted past the limit");
                assert_eq!(message.bytes, self.bdat_content, "BDAT content differs");
                check_flags(message);
                assert_eq!(
                    message.has_bare_line_ending,
                    has_bare_line_ending(&message.bytes)
                );
            }
        }
        if self.bdat_last {
            self.bdat_content.clear();
            self.bdat_total = 0;
        }
        self.events.push(Event::Bdat(end));
        self.mode = Mode::Line;
        (used, true)
    }
}

fn check_flags(message: &MessageData) {
    assert_eq!(message.has_nul, message.bytes.contains(&0), "NUL flag");
    assert_eq!(message.has_8bit, !message.bytes.is_ascii(), "8-bit flag");
}

fn has_bare_line_ending(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(at, &byte)| match byte {
        b'\r' => bytes.get(at + 1) != Some(&b'\n'),
        b'\n' => at == 0 || bytes[at - 1] != b'\r',
        _ => false,
    })
}

/// A displayed mailbox, bracketed, parses back to itself.
fn check_round_trip(mailbox: &Mailbox) {
    let line = format!("RCPT TO:<{mailbox}>");
    let context = ParseContext {
        smtputf8: !line.is_ascii(),
    };
    match parse_command_with(line.as_bytes(), context) {
        Ok(Command::RcptTo {
            to: ForwardPath::Address(again),
            ..
        }) => assert_eq!(&again, mailbox, "round trip changed the mailbox"),
        other => panic!("{line:?} did not parse back: {other:?}"),
    }
}
