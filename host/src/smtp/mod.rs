//! The SMTP side: listeners, sessions, the sans-IO protocol layer, replies, TLS and relay
//! control.
//!
//! * `listener`: the accept loop of each configured listener (connection caps, back-off).
//! * `session`: one conversation — read loop, phases, one handler per command, the data
//!   path to the filters and the queue.
//! * `proto`: command parsing and the line/DATA/BDAT receivers; no I/O, fuzzed.
//! * `reply`: every reply Moat sends, with its enhanced status code.
//! * `tls`: the STARTTLS configuration; `relay`: which recipients are accepted.
//! * `budget`: the memory given to mail in flight, one budget for the server.
//! * `metrics`: what the SMTP side counts (connections, decisions, logins).
//! * `header_fields`: the header section as received: hops counted, verdict fields a
//!   sender may not pre-write removed.
//! * `headers`: the header fields Moat adds to a message it accepts (`Received`, the
//!   spam verdict).
//! * `verify`: recipient verification against the protected server (`[relay]
//!   verify_recipients`), its cache and its shared probes.

pub mod budget;
pub mod header_fields;
pub mod headers;
pub mod listener;
pub mod metrics;
pub mod proto;
pub mod relay;
pub mod reply;
pub mod session;
pub mod tls;
pub mod verify;
