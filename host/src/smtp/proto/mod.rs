//! The SMTP protocol without I/O: command parsing and the byte-stream receivers the session
//! feeds with whatever the socket delivers. Nothing here reads a socket, knows the time, or
//! writes a reply, so every part is tested with plain bytes and fuzzed (`host/fuzz`).
//!
//! * [`parse_command`]: one command line to a [`Command`] or a [`CommandError`] naming the
//!   reply it deserves; paths ([`ReversePath`], [`ForwardPath`], [`Mailbox`]) and ESMTP
//!   parameters ([`MailParams`], [`RcptParams`]) are validated on the way.
//! * [`LineReceiver`], [`DataReceiver`], [`BdatReceiver`]: split the input into command lines,
//!   DATA content (dot-unstuffed, ended only by `<CRLF>.<CRLF>`) and BDAT chunks, each with a
//!   hard limit and each saying how many bytes it consumed so pipelined input goes on to the
//!   next receiver.
//!
//! * [`SaslExchange`]: the AUTH mechanisms (PLAIN, LOGIN) as a state machine over the
//!   client's base64 responses.
//!
//! A session drives them like this, handing what one receiver leaves to the next:
//!
//! ```ignore
//! let mut input = &read_buffer[..read];
//! loop {
//!     match &mut receiver {
//!         Receiver::Line(lines) => {
//!             let (used, event) = lines.ingest(input);
//!             input = &input[used..];
//!             match event {
//!                 None => break, // all consumed: read more
//!                 Some(LineEvent::Line(line)) => match parse_command(&line) {
//!                     // after the 354 reply:
//!                     Ok(Command::Data) => receiver = Receiver::Data(DataReceiver::new(max, lf)),
//!                     // after the 220 reply: drop `input`, upgrade, start afresh
//!                     Ok(Command::StartTls) => return Next::StartTls,
//!                     other => reply_to(other),
//!                 },
//!                 Some(LineEvent::TooLong | LineEvent::ContainsNul) => reply_500(),
//!             }
//!         }
//!         Receiver::Data(data) => {
//!             let (used, end) = data.ingest(input);
//!             input = &input[used..];
//!             let Some(end) = end else { break };
//!             reply_to_message(end); // queue or refuse
//!             receiver = Receiver::Line(LineReceiver::new(max_line));
//!         }
//!     }
//! }
//! ```

mod address;
mod command;
mod domain;
mod params;
mod receiver;
mod sasl;

pub use address::{AddressError, ForwardPath, Mailbox, ReversePath};
pub use command::{Command, CommandError, ParseContext, parse_command, parse_command_with};
pub use domain::DomainError;
pub use params::{Body, MailParams, RcptParams};
pub use receiver::{
    BareLfPolicy, BdatEnd, BdatReceiver, DataEnd, DataReceiver, LineEvent, LineReceiver,
    MessageData,
};
pub use sasl::{Credentials, MECHANISMS, SaslError, SaslExchange, SaslStep};

#[cfg(test)]
mod tests;
