//! Tests of the protocol layer through its public API. `Driver` plays a minimal session
//! (commands, DATA, BDAT) so whole conversations can be fed in every possible split.

mod address;
mod bdat;
mod command;
mod data;
mod line;
mod params;
mod pipelining;
mod reference;
mod smuggling;

use super::{
    BareLfPolicy, BdatEnd, BdatReceiver, Command, CommandError, DataEnd, DataReceiver, LineEvent,
    LineReceiver, parse_command,
};

/// What the driver saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
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

/// A session without replies or state checks: DATA and BDAT switch receivers at once.
struct Driver {
    mode: Mode,
    lines: LineReceiver,
    data: DataReceiver,
    bdat: BdatReceiver,
    events: Vec<Event>,
}

impl Driver {
    fn new(max_size: u64, policy: BareLfPolicy) -> Self {
        Self {
            mode: Mode::Line,
            lines: LineReceiver::new(100),
            data: DataReceiver::new(max_size, policy),
            bdat: BdatReceiver::new(max_size),
            events: Vec::new(),
        }
    }

    fn feed(&mut self, mut input: &[u8]) {
        loop {
            let (used, produced) = match self.mode {
                Mode::Line => {
                    let (used, event) = self.lines.ingest(input);
                    (used, event.map(|event| self.on_line(event)).is_some())
                }
                Mode::Data => {
                    let (used, end) = self.data.ingest(input);
                    (used, end.map(|end| self.finish(Event::Data(end))).is_some())
                }
                Mode::Bdat => {
                    let (used, end) = self.bdat.ingest(input);
                    (used, end.map(|end| self.finish(Event::Bdat(end))).is_some())
                }
            };
            assert!(used <= input.len(), "consumed more than given");
            input = &input[used..];
            if !produced {
                assert!(input.is_empty(), "stopped without an event");
                return;
            }
        }
    }

    fn on_line(&mut self, event: LineEvent) {
        let LineEvent::Line(line) = event else {
            self.events.push(Event::BadLine(event));
            return;
        };
        let command = parse_command(&line);
        match command {
            Ok(Command::Data) => self.mode = Mode::Data,
            Ok(Command::Bdat { size, last }) => {
                self.bdat.start_chunk(size, last);
                self.mode = Mode::Bdat;
            }
            _ => {}
        }
        self.events.push(Event::Command(command));
    }

    fn finish(&mut self, event: Event) {
        self.events.push(event);
        self.mode = Mode::Line;
    }
}

/// Feeds `input` whole, byte by byte, and (for short inputs) in every 2- and 3-way split,
/// asserts that every way gives the same events, and returns them.
fn events_in_every_split(input: &[u8], max_size: u64, policy: BareLfPolicy) -> Vec<Event> {
    let run = |chunks: &[&[u8]]| {
        let mut driver = Driver::new(max_size, policy);
        for chunk in chunks {
            driver.feed(chunk);
        }
        driver.events
    };
    let whole = run(&[input]);
    let bytewise: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run(&bytewise), whole, "byte by byte");
    for_each_split(input, |chunks| {
        assert_eq!(run(chunks), whole, "split {chunks:?}")
    });
    whole
}

/// Calls `check` with every split of `input` into 2 parts and, up to 64 bytes, into 3.
fn for_each_split(input: &[u8], mut check: impl FnMut(&[&[u8]])) {
    for first in 0..=input.len() {
        check(&[&input[..first], &input[first..]]);
        if input.len() <= 64 {
            for second in first..=input.len() {
                check(&[&input[..first], &input[first..second], &input[second..]]);
            }
        }
    }
}

/// The events for a plain, well-formed conversation, for tests that only look at the end.
fn events(input: &[u8]) -> Vec<Event> {
    events_in_every_split(input, 1 << 20, BareLfPolicy::Reject)
}
