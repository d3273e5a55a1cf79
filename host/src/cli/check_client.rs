//! The client `moat check` takes a message to come from, as a live gateway would have seen
//! it: the first hop of its `Received` chain outside the trusted relays (`[relay]
//! trusted_relays`, and loopback, where mail is fetched or re-injected), as SpamAssassin
//! finds the last external relay. Without such a hop, 127.0.0.1 greeting as `localhost`.
//! `--ip` and `--helo` override what the chain says.

use std::net::IpAddr;

use crate::message::ParsedMessage;
use crate::sender_auth::{Path, TrustedRelays};

/// The client a message is checked as coming from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CheckedClient {
    /// Its address.
    pub(super) ip: IpAddr,
    /// Its EHLO name.
    pub(super) helo: String,
    /// Its reverse name, when the chain records one.
    pub(super) reverse_dns: Option<String>,
}

/// The networks whose hops are looked past: the operator's trusted relays and loopback.
pub(super) fn relays_with_loopback(trusted: &[String]) -> anyhow::Result<TrustedRelays> {
    let mut networks = trusted.to_vec();
    networks.extend(["127.0.0.0/8".to_owned(), "::1".to_owned()]);
    Ok(TrustedRelays::parse(&networks)?)
}

/// The client of `message` by its `Received` chain past `relays`, with the overrides.
pub(super) fn client_of(
    message: &ParsedMessage,
    relays: &TrustedRelays,
    ip: Option<IpAddr>,
    helo: Option<&str>,
) -> CheckedClient {
    let found = match relays.path(&message.received_hops()) {
        Path::From(origin) => CheckedClient {
            ip: origin.ip,
            helo: origin.helo.unwrap_or_else(|| "unknown".to_owned()),
            reverse_dns: origin.reverse_dns,
        },
        Path::Inside | Path::Unreadable => CheckedClient {
            ip: IpAddr::from([127, 0, 0, 1]),
            helo: "localhost".to_owned(),
            reverse_dns: None,
        },
    };
    CheckedClient {
        reverse_dns: if ip.is_some_and(|ip| ip != found.ip) {
            None
        } else {
            found.reverse_dns
        },
        ip: ip.unwrap_or(found.ip),
        helo: helo.map_or(found.helo, str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FETCHED: &[u8] = b"Received: from localhost (localhost [127.0.0.1])\r\n\
\tby home.example (Postfix) with ESMTP id 1; Mon, 23 Nov 2026 10:00:02 +0000\r\n\
Received: from mail.sender.example (mail.sender.example [203.0.113.9])\r\n\
\tby mx.example.net (Postfix) with ESMTP id 2; Mon, 23 Nov 2026 10:00:01 +0000\r\n\
Received: from inside (inside [10.0.0.5])\r\n\
\tby mail.sender.example with ESMTP id 3; Mon, 23 Nov 2026 10:00:00 +0000\r\n\
From: a@sender.example\r\nSubject: s\r\n\r\nbody\r\n";

    fn message(raw: &[u8]) -> ParsedMessage {
        ParsedMessage::parse(raw.to_vec()).unwrap()
    }

    #[test]
    fn the_first_hop_past_loopback_and_the_relays_is_the_client() {
        let relays = relays_with_loopback(&[]).unwrap();
        let client = client_of(&message(FETCHED), &relays, None, None);
        assert_eq!(
            client,
            CheckedClient {
                ip: "203.0.113.9".parse().unwrap(),
                helo: "mail.sender.example".into(),
                reverse_dns: Some("mail.sender.example".into()),
            }
        );
        let past_it = relays_with_loopback(&["203.0.113.0/24".into()]).unwrap();
        assert_eq!(
            client_of(&message(FETCHED), &past_it, None, None).ip,
            "10.0.0.5".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn a_qmail_scanner_step_is_passed_over() {
        // A newsletter as a qmail host with qmail-scanner delivered it (training ham).
        let raw = b"Received: (qmail 5969 invoked by uid 82); 25 Jun 2002 11:39:03 -0000\r\n\
Received: from enews-owner@tribute.example by newmail\r\n\
\t by uid 1005 with qmail-scanner-1.10 (avp. Clear:0. Processed in 0.32 secs); \
23 Aug 2002 07:25:40 -0000\r\n\
Received: from mail.axess.example (216.162.64.150)\r\n\
  by newmail.axess.example with SMTP; 23 Aug 2002 07:25:39 -0000\r\n\
From: a@tribute.example\r\nSubject: s\r\n\r\nbody\r\n";
        let relays = relays_with_loopback(&[]).unwrap();
        let client = client_of(&message(raw), &relays, None, None);
        assert_eq!(client.ip, "216.162.64.150".parse::<IpAddr>().unwrap());
        assert_eq!(client.helo, "mail.axess.example");
        // The scanner copies the envelope sender; an address literal there is the
        // client's choice and never becomes the origin.
        let literal = b"Received: from x@[192.0.2.66] by newmail by uid 1005 with \
qmail-scanner-1.10 (avp. Clear:0.); 23 Aug 2002 07:25:40 -0000\r\n\
Received: from mail.axess.example (216.162.64.150)\r\n\
  by newmail.axess.example with SMTP; 23 Aug 2002 07:25:39 -0000\r\n\
From: a@tribute.example\r\nSubject: s\r\n\r\nbody\r\n";
        let client = client_of(&message(literal), &relays, None, None);
        assert_eq!(client.ip, "216.162.64.150".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn overrides_win_and_a_message_without_a_chain_comes_from_localhost() {
        let relays = relays_with_loopback(&[]).unwrap();
        let client = client_of(
            &message(FETCHED),
            &relays,
            Some("192.0.2.1".parse().unwrap()),
            Some("given.example"),
        );
        assert_eq!(client.ip, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(client.helo, "given.example");
        assert_eq!(
            client.reverse_dns, None,
            "the chain's name is not the given address's"
        );
        let bare = client_of(&message(b"Subject: s\r\n\r\nbody\r\n"), &relays, None, None);
        assert_eq!(bare.ip, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(bare.helo, "localhost");
    }
}
