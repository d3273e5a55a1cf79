//! SASL responses: every input line is fed to PLAIN, and consecutive lines to LOGIN as user
//! name then password. Nothing may panic, and credentials PLAIN accepts, encoded again,
//! give the same credentials back.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::proto::{SaslExchange, SaslStep};

/// Runs the SASL checks over the lines of `bytes`.
pub fn check(bytes: &[u8]) {
    let lines: Vec<&[u8]> = bytes.split(|&byte| byte == b'\n').collect();
    for line in &lines {
        if let Ok((None, SaslStep::Done(credentials))) = SaslExchange::Plain.respond(line) {
            assert!(
                !credentials.login.is_empty(),
                "PLAIN accepted an empty login"
            );
            let again =
                STANDARD.encode(format!("\0{}\0{}", credentials.login, credentials.password));
            match SaslExchange::Plain.respond(again.as_bytes()) {
                Ok((None, SaslStep::Done(round_trip))) => assert_eq!(round_trip, credentials),
                other => panic!("re-encoded PLAIN credentials were refused: {other:?}"),
            }
        }
    }
    for pair in lines.windows(2) {
        let Ok((Some(waiting), SaslStep::Challenge(_))) = SaslExchange::LoginUser.respond(pair[0])
        else {
            continue;
        };
        assert!(matches!(waiting, SaslExchange::LoginPassword(ref user) if !user.is_empty()));
        if let Ok((next, step)) = waiting.respond(pair[1]) {
            assert!(next.is_none() && matches!(step, SaslStep::Done(_)));
        }
    }
}
