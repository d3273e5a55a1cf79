//! The envelope a message is run with offline (`moat check`, `moat plugin test` and the
//! corpus commands): the client its `Received` chain names (`check_client.rs`), the sender
//! in its Return-Path (else its From), the recipients in its To and Cc, and the
//! operator's `--ip`, `--helo`, `--from` and `--rcpt` over them. Derived here once, so
//! every command that runs a message offline takes the same envelope from it.

use std::net::IpAddr;

use super::check_client::{CheckedClient, client_of};
use crate::message::ParsedMessage;
use crate::sender_auth::TrustedRelays;

/// The recipient of a message that names none in To or Cc.
const FALLBACK_RECIPIENT: &str = "postmaster@localhost";

/// What the operator says about the envelope (`--ip`, `--helo`, `--from`, `--rcpt`);
/// what is left unset comes from the message.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnvelopeOverrides {
    /// The client IP the message is taken to come from (default: the first hop of its
    /// Received chain outside loopback and `[relay] trusted_relays`, else 127.0.0.1).
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// The EHLO name the client is taken to give (default: that hop's, else localhost).
    #[arg(long)]
    pub helo: Option<String>,
    /// The envelope sender, "" for the null sender (default: the message's Return-Path,
    /// else its From address).
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// An envelope recipient; repeat for several (default: the message's To and Cc
    /// addresses, else postmaster@localhost).
    #[arg(long, value_name = "ADDRESS")]
    pub rcpt: Vec<String>,
}

/// The client and envelope a message is run with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CheckedEnvelope {
    /// The client it is taken to come from.
    pub(super) client: CheckedClient,
    /// The envelope sender ("" for the null sender).
    pub(super) mail_from: String,
    /// The envelope recipients, in order.
    pub(super) rcpt_to: Vec<String>,
}

impl EnvelopeOverrides {
    /// The envelope of `message`, whose client is looked for past `relays`, with these
    /// overrides over what the message says.
    pub(super) fn envelope_of(
        &self,
        message: &ParsedMessage,
        relays: &TrustedRelays,
    ) -> CheckedEnvelope {
        CheckedEnvelope {
            client: client_of(message, relays, self.ip, self.helo.as_deref()),
            mail_from: self
                .from
                .clone()
                .unwrap_or_else(|| envelope_sender(message)),
            rcpt_to: if self.rcpt.is_empty() {
                envelope_recipients(message)
            } else {
                self.rcpt.clone()
            },
        }
    }
}

/// The address in Return-Path (`<>`: the null sender), else in From, else the null
/// sender.
fn envelope_sender(message: &ParsedMessage) -> String {
    if let Some(return_path) = message.header("Return-Path") {
        if return_path.trim() == "<>" {
            return String::new();
        }
        if let Some(address) = extract_address(return_path) {
            return address;
        }
    }
    message
        .header("From")
        .and_then(extract_address)
        .unwrap_or_default()
}

/// The addresses in To and Cc, else [`FALLBACK_RECIPIENT`].
fn envelope_recipients(message: &ParsedMessage) -> Vec<String> {
    let found: Vec<String> = message
        .header_all("To")
        .chain(message.header_all("Cc"))
        .flat_map(|v| v.split(','))
        .filter_map(extract_address)
        .collect();
    if found.is_empty() {
        vec![FALLBACK_RECIPIENT.to_owned()]
    } else {
        found
    }
}

/// The address in `text`: inside its last angle brackets, else the whole of it, if it
/// looks like one.
fn extract_address(text: &str) -> Option<String> {
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let address = inner.trim();
    (address.contains('@') && !address.contains(char::is_whitespace)).then(|| address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::check_client::relays_with_loopback;

    fn envelope(raw: &str, overrides: &EnvelopeOverrides) -> CheckedEnvelope {
        let message = ParsedMessage::parse(raw.as_bytes().to_vec()).unwrap();
        overrides.envelope_of(&message, &relays_with_loopback(&[]).unwrap())
    }

    #[test]
    fn addresses_are_taken_from_angle_brackets_or_bare() {
        assert_eq!(
            extract_address("Alice <alice@example.org>").as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(
            extract_address(" bob@example.test ").as_deref(),
            Some("bob@example.test")
        );
        assert_eq!(extract_address("undisclosed-recipients:;"), None);
    }

    #[test]
    fn the_sender_is_the_return_path_and_the_recipients_to_and_cc() {
        let raw = "Return-Path: <bounces@lists.example>\r\nFrom: Alice <alice@example.org>\r\n\
To: Bob <bob@example.test>, carol@example.test\r\nCc: dave@example.test\r\n\
Subject: s\r\n\r\nbody\r\n";
        let found = envelope(raw, &EnvelopeOverrides::default());
        assert_eq!(found.mail_from, "bounces@lists.example");
        assert_eq!(
            found.rcpt_to,
            [
                "bob@example.test",
                "carol@example.test",
                "dave@example.test"
            ]
        );
        assert_eq!(found.client.helo, "localhost");
    }

    #[test]
    fn a_bounce_has_the_null_sender_and_from_stands_in_for_a_missing_return_path() {
        let bounce = "Return-Path: <>\r\nFrom: MAILER-DAEMON@example.org\r\n\
Subject: s\r\n\r\nbody\r\n";
        let found = envelope(bounce, &EnvelopeOverrides::default());
        assert_eq!(found.mail_from, "");
        assert_eq!(found.rcpt_to, [FALLBACK_RECIPIENT]);
        let plain = "From: Alice <alice@example.org>\r\nSubject: s\r\n\r\nbody\r\n";
        let found = envelope(plain, &EnvelopeOverrides::default());
        assert_eq!(found.mail_from, "alice@example.org");
    }

    #[test]
    fn overrides_win_over_the_message() {
        let raw = "Return-Path: <a@example.org>\r\nTo: b@example.test\r\n\r\nbody\r\n";
        let overrides = EnvelopeOverrides {
            ip: Some("192.0.2.7".parse().unwrap()),
            helo: Some("mx.example.net".into()),
            from: Some(String::new()),
            rcpt: vec!["x@example.test".into(), "y@example.test".into()],
        };
        let found = envelope(raw, &overrides);
        assert_eq!(found.mail_from, "");
        assert_eq!(found.rcpt_to, ["x@example.test", "y@example.test"]);
        assert_eq!(found.client.ip, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(found.client.helo, "mx.example.net");
    }
}
