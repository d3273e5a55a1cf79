//! Fuzz harness for Moat's sans-IO SMTP layer. It compiles `host/src/smtp/proto` from the
//! host's own sources (and the reference model of DATA decoding from its tests), so fuzzing
//! does not build the whole gateway.
//!
//! One input drives a minimal session (lines → `parse_command` → DATA or BDAT receivers → back
//! to lines) twice, whole and in pseudo-random chunks, and checks on the way:
//!
//! * nothing panics (overflow checks are on in fuzz builds);
//! * every `ingest` consumes at most what it was given, and all of it unless it reports an
//!   event; a line event is reported right after an LF;
//! * lines respect the length limit and hold no LF or NUL;
//! * DATA ends exactly at the first CRLF.CRLF of CRLF + raw input, never elsewhere, and its
//!   content, flags and size verdict equal the reference model's;
//! * BDAT chunks take exactly their size, and the message equals the chunks' concatenation,
//!   within the size limit;
//! * every parsed mailbox displays as a path that parses back to the same mailbox;
//! * the events do not depend on how the input was split;
//! * SASL PLAIN and LOGIN responses never panic, and accepted PLAIN credentials survive
//!   being encoded again.

#[path = "../../src/smtp/proto/mod.rs"]
pub mod proto;

#[path = "../../src/smtp/proto/tests/reference.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "`cargo test` also compiles it inside proto's own tests"
)]
mod reference;

mod driver;
mod input;
mod sasl;

use driver::Driver;
use proto::{ParseContext, parse_command_with};

/// Runs one fuzz input. The first byte chooses the input mapping and the limits.
pub fn run(data: &[u8]) {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let settings = input::Settings::from_control(control);
    let bytes = input::remap(control, rest);

    let whole = Driver::run(settings, &[&bytes]);
    let chunks = input::pseudo_random_chunks(&bytes, u64::from(control) ^ rest.len() as u64);
    let pieces = Driver::run(settings, &chunks);
    assert_eq!(whole, pieces, "events depend on how the input was split");

    // The parser also meets lines the receiver would have refused.
    for line in bytes.split(|&byte| byte == b'\n') {
        for smtputf8 in [false, true] {
            let _ = parse_command_with(line, ParseContext { smtputf8 });
        }
    }
    sasl::check(&bytes);
}

#[cfg(test)]
mod tests {
    /// The seeds pass the harness under every control byte, so a fuzz crash is a finding,
    /// not a harness bug.
    #[test]
    fn every_seed_passes_under_every_setting() {
        let seeds = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/smtp_proto"))
            .expect("seed directory exists");
        for seed in seeds {
            let path = seed.expect("seed entry is readable").path();
            let data = std::fs::read(&path).expect("seed is readable");
            for control in 0..=u8::MAX {
                let mut input = data.clone();
                input[0] = control;
                super::run(&input);
            }
        }
    }
}
