//! Checks for forged headers against the `Received` chain: a `Date` long before or after
//! the relays saw the message, a chain whose times go backwards, a client that greeted
//! with a bare IP address or had no reverse name, and free mail that never went through
//! its provider. (The `Message-ID` checks are in `msgid.rs`.)

use std::net::Ipv4Addr;

use crate::address::{addresses, domain};
use crate::received::{self, Hop};
use crate::rules::{Facts, Finding};
use crate::symbols::{
    DATE_AFTER_RECEIVED, DATE_IN_PAST, FORGED_FREEMAIL_RCVD, RCVD_DATE_REVERSED, RCVD_NUMERIC_HELO,
    RDNS_NONE,
};

const HOUR_MILLIS: i64 = 60 * 60 * 1000;
/// How long before the first relay received it a message may have been written (a
/// draft, a queue, a wrong clock) before its `Date` is suspicious.
pub(crate) const PAST_DATE_TOLERANCE_MILLIS: i64 = 96 * HOUR_MILLIS;
/// How far after the last relay received it a message's `Date` may be. A sender's clock
/// set to the wrong zone is off by whole hours; measured, ham stays within 3.
pub(crate) const AFTER_RECEIVED_TOLERANCE_MILLIS: i64 = 6 * HOUR_MILLIS;
/// How much later than the hop above it a hop may claim to be before the chain is out
/// of order: relays' clocks set to the wrong zone are off by up to 14 hours (measured,
/// ham stays within 15).
pub(crate) const REVERSED_TOLERANCE_MILLIS: i64 = 16 * HOUR_MILLIS;

/// Microsoft's free-mail relays: Hotmail's own, MSN's, and Outlook.com's today.
const MICROSOFT_RELAYS: &[&str] = &["hotmail.com", "msn.com", "outlook.com"];

/// Free-mail domains and the domains their own relays write into `Received`.
const FREEMAIL_RELAYS: &[(&str, &[&str])] = &[
    ("hotmail.com", MICROSOFT_RELAYS),
    ("msn.com", MICROSOFT_RELAYS),
    ("yahoo.com", &["yahoo.com"]),
    ("aol.com", &["aol.com"]),
    ("gmail.com", &["google.com"]),
];

/// Fields a mailing list adds (RFC 2369, RFC 2919, and ezmlm's).
const LIST_FIELDS: [&str; 3] = ["List-Id", "List-Post", "Mailing-List"];

/// The `Received` fields, newest (topmost) first.
fn hops(facts: &Facts) -> impl Iterator<Item = Hop<'_>> {
    facts.values("Received").map(received::parse)
}

/// The time the first relay (the bottom `Received` field with a date) and the last one
/// (the topmost with a date) recorded.
fn received_span(facts: &Facts) -> Option<(i64, i64)> {
    let dates = facts.received_dates();
    Some((*dates.last()?, *dates.first()?))
}

/// DATE_IN_PAST: the `Date` is more than [`PAST_DATE_TOLERANCE_MILLIS`] before the first
/// relay received the message. Spam is often sent with a stale date. The first relay is
/// the reference, not the last: mail fetched or re-delivered late is still ham.
pub(crate) fn date_in_past(facts: &Facts) -> Option<Finding> {
    let date = facts.date_millis()?;
    let (first, _) = received_span(facts)?;
    let behind = first.saturating_sub(date);
    (behind > PAST_DATE_TOLERANCE_MILLIS).then(|| {
        Finding::new(
            DATE_IN_PAST,
            format!(
                "Date is {} h before the first relay received the message",
                behind / HOUR_MILLIS
            ),
        )
    })
}

/// DATE_AFTER_RECEIVED: the `Date` is more than [`AFTER_RECEIVED_TOLERANCE_MILLIS`] after
/// the last relay received the message: written after it was delivered. Unlike
/// DATE_IN_FUTURE it needs no clock of the gateway's, so it also holds for mail checked
/// later.
pub(crate) fn date_after_received(facts: &Facts) -> Option<Finding> {
    let date = facts.date_millis()?;
    let (_, last) = received_span(facts)?;
    let ahead = date.saturating_sub(last);
    (ahead > AFTER_RECEIVED_TOLERANCE_MILLIS).then(|| {
        Finding::new(
            DATE_AFTER_RECEIVED,
            format!(
                "Date is {} h after the last relay received the message",
                ahead / HOUR_MILLIS
            ),
        )
    })
}

/// RCVD_NUMERIC_HELO: a client greeted with a bare public IP address instead of a name,
/// the gateway's own client or one in the `Received` chain (a literal in brackets is
/// what RFC 5321 asks for and passes; private addresses are inside hops, and webmail's
/// HTTP hops name the web client).
pub(crate) fn numeric_helo(facts: &Facts) -> Option<Finding> {
    let client = facts.client_helo.as_deref().and_then(public_ipv4);
    if let Some(helo) = client {
        return Some(Finding::new(
            RCVD_NUMERIC_HELO,
            format!("the client said HELO {helo}"),
        ));
    }
    let (helo, client) = hops(facts).find_map(|hop| {
        // A webmail front end records its web client's address where the HELO name goes.
        let web = hop.with.is_some_and(|protocol| {
            protocol
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("HTTP"))
        });
        let helo = public_ipv4(hop.helo.filter(|_| !web)?)?;
        Some((helo, hop.ip))
    })?;
    let client = client.map_or_else(String::new, |ip| format!(" from {ip}"));
    Some(Finding::new(
        RCVD_NUMERIC_HELO,
        format!("a relay's client said HELO {helo}{client}"),
    ))
}

/// RDNS_NONE: a relay recorded a public client address without a reverse name:
/// sendmail's `from helo ([192.0.2.1])`, Postfix's `from helo (unknown [192.0.2.1])`.
pub(crate) fn rdns_none(facts: &Facts) -> Option<Finding> {
    let hop = hops(facts)
        .find(|hop| hop.ip.as_ref().is_some_and(is_public) && received::unnamed_client(hop.from))?;
    let ip = hop.ip.map_or_else(String::new, |ip| ip.to_string());
    Some(Finding::new(
        RDNS_NONE,
        format!("a relay's client {ip} had no reverse name"),
    ))
}

/// `name` as a bare IPv4 address outside private, loopback and link-local ranges.
fn public_ipv4(name: &str) -> Option<Ipv4Addr> {
    name.parse().ok().filter(is_public)
}

/// Whether `ip` is outside private, loopback and link-local ranges.
fn is_public(ip: &Ipv4Addr) -> bool {
    !(ip.is_private() || ip.is_loopback() || ip.is_link_local())
}

/// RCVD_DATE_REVERSED: a hop is dated more than [`REVERSED_TOLERANCE_MILLIS`] after the
/// hop that received the message from it, so one of the two was written by hand.
pub(crate) fn date_reversed(facts: &Facts) -> Option<Finding> {
    let mut later: Option<i64> = None;
    for &date in facts.received_dates() {
        if let Some(later) = later {
            let ahead = date.saturating_sub(later);
            if ahead > REVERSED_TOLERANCE_MILLIS {
                return Some(Finding::new(
                    RCVD_DATE_REVERSED,
                    format!(
                        "a Received field is {} h later than the one above it",
                        ahead / HOUR_MILLIS
                    ),
                ));
            }
        }
        later = Some(date);
    }
    None
}

/// FORGED_FREEMAIL_RCVD: `From` is a large free-mail provider's address, but no
/// `Received` field names that provider's relays, so the mail never went through them.
/// Mailing-list mail is not checked.
pub(crate) fn forged_freemail(facts: &Facts) -> Option<Finding> {
    // A mailing list resends a member's mail from its own relays.
    if LIST_FIELDS.iter().any(|name| facts.first(name).is_some()) {
        return None;
    }
    let from = addresses(facts.first("From")?).into_iter().next()?;
    let from_domain = domain(&from)?;
    let (_, relays) = FREEMAIL_RELAYS
        .iter()
        .find(|(freemail, _)| *freemail == from_domain)?;
    let relayed = facts.values("Received").any(|value| {
        relays.iter().any(|relay| {
            value
                .as_bytes()
                .windows(relay.len())
                .any(|window| window.eq_ignore_ascii_case(relay.as_bytes()))
        })
    });
    (!relayed).then(|| {
        Finding::new(
            FORGED_FREEMAIL_RCVD,
            format!(
                "From {from_domain}, but no Received field names {}",
                relays.join(" or ")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{clean, clean_with as with};

    const TOP: (&str, &str) = (
        "Received",
        "from relay.example.org (relay.example.org [192.0.2.2]) by mx.example.com \
         with ESMTP; Mon, 8 Jan 2024 12:00:00 +0000",
    );
    const BOTTOM: (&str, &str) = (
        "Received",
        "from pc (dsl.example.net [198.51.100.7]) by relay.example.org with SMTP; \
         Mon, 8 Jan 2024 11:59:00 +0000",
    );

    #[test]
    fn date_in_past_is_measured_from_the_first_relay() {
        let stale = with(&[("Date", "Wed, 3 Jan 2024 11:00:00 +0000"), TOP, BOTTOM]);
        let finding = date_in_past(&stale).unwrap();
        assert_eq!(finding.symbol, DATE_IN_PAST);
        assert_eq!(
            finding.detail,
            "Date is 120 h before the first relay received the message"
        );
        let recent = with(&[("Date", "Sun, 7 Jan 2024 12:00:00 +0000"), TOP, BOTTOM]);
        assert_eq!(date_in_past(&recent), None);
        // No relay recorded a time, or no date to compare.
        assert_eq!(
            date_in_past(&with(&[("Date", "Mon, 1 Jan 2001 00:00:00 +0000")])),
            None
        );
        assert_eq!(date_in_past(&with(&[("Date", "yesterday"), TOP])), None);
    }

    #[test]
    fn date_after_received_is_measured_from_the_last_relay() {
        let ahead = with(&[("Date", "Mon, 8 Jan 2024 19:30:00 +0000"), TOP, BOTTOM]);
        let finding = date_after_received(&ahead).unwrap();
        assert_eq!(finding.symbol, DATE_AFTER_RECEIVED);
        assert_eq!(
            finding.detail,
            "Date is 7 h after the last relay received the message"
        );
        // A sender's clock a few zones off.
        let skewed = with(&[("Date", "Mon, 8 Jan 2024 12:00:00 -0500"), TOP, BOTTOM]);
        assert_eq!(date_after_received(&skewed), None);
        let unparsable_relay = with(&[
            ("Date", "Mon, 8 Jan 2024 19:30:00 +0000"),
            ("Received", "from x by y; never"),
        ]);
        assert_eq!(date_after_received(&unparsable_relay), None);
    }

    #[test]
    fn clients_without_a_reverse_name() {
        for from in [
            "from bot ([198.51.100.7]) by mx.example.com",
            "from bot (unknown [198.51.100.7]) by mx.example.com",
        ] {
            let found = rdns_none(&with(&[("Received", from)])).unwrap();
            assert_eq!(
                found.detail,
                "a relay's client 198.51.100.7 had no reverse name"
            );
        }
        for from in [
            "from mail.example.org (mail.example.org [198.51.100.7]) by mx.example.com",
            "from inside (unknown [10.0.0.5]) by mx.example.com",
            "from unknown (HELO bot) (198.51.100.7) by mx.example.com",
        ] {
            assert_eq!(rdns_none(&with(&[("Received", from)])), None, "{from}");
        }
    }

    #[test]
    fn numeric_helo_of_public_clients_only() {
        let numeric = with(&[(
            "Received",
            "from 198.51.100.7 (dsl.example.net [198.51.100.7]) by mx.example.com; \
             Mon, 8 Jan 2024 12:00:00 +0000",
        )]);
        let finding = numeric_helo(&numeric).unwrap();
        assert_eq!(finding.symbol, RCVD_NUMERIC_HELO);
        assert_eq!(
            finding.detail,
            "a relay's client said HELO 198.51.100.7 from 198.51.100.7"
        );
        let mut direct = clean();
        direct.client_helo = Some("203.0.113.5".to_owned());
        assert_eq!(
            numeric_helo(&direct).unwrap().detail,
            "the client said HELO 203.0.113.5"
        );
        direct.client_helo = Some("[203.0.113.5]".to_owned());
        assert_eq!(numeric_helo(&direct), None);
        for fine in [
            "from [198.51.100.7] (dsl.example.net [198.51.100.7]) by mx.example.com",
            "from unknown (HELO 10.0.0.3) (198.51.100.7) by mx.example.com",
            "from 127.0.0.1 by localhost",
            "from 198.51.100.7 by webmail.example.com with HTTP; 8 Jan 2024",
            "from pc.example.net (helo=pc) by mx.example.com",
            "by mx.example.com with ESMTP",
        ] {
            assert_eq!(numeric_helo(&with(&[("Received", fine)])), None, "{fine}");
        }
    }

    #[test]
    fn received_dates_must_not_go_backwards() {
        let later_below = with(&[
            TOP,
            (
                "Received",
                "from pc by relay.example.org; Tue, 9 Jan 2024 06:00:00 +0000",
            ),
        ]);
        let finding = date_reversed(&later_below).unwrap();
        assert_eq!(finding.symbol, RCVD_DATE_REVERSED);
        assert_eq!(
            finding.detail,
            "a Received field is 18 h later than the one above it"
        );
        let wrong_zone = with(&[
            TOP,
            (
                "Received",
                "from pc by relay.example.org; Mon, 8 Jan 2024 23:00:00 +0000",
            ),
        ]);
        assert_eq!(date_reversed(&wrong_zone), None);
        assert_eq!(date_reversed(&with(&[TOP, BOTTOM])), None);
        assert_eq!(date_reversed(&clean()), None);
    }

    #[test]
    fn freemail_must_come_through_its_relays() {
        let from = ("From", "Someone <someone@Hotmail.com>");
        let forged = with(&[from, TOP, BOTTOM]);
        let finding = forged_freemail(&forged).unwrap();
        assert_eq!(finding.symbol, FORGED_FREEMAIL_RCVD);
        assert_eq!(
            finding.detail,
            "From hotmail.com, but no Received field names hotmail.com or msn.com or outlook.com"
        );
        let relayed = with(&[
            from,
            TOP,
            (
                "Received",
                "from EUR05-obe.outbound.protection.OUTLOOK.COM by relay.example.org",
            ),
        ]);
        assert_eq!(forged_freemail(&relayed), None);
        let listed = with(&[from, TOP, ("List-Id", "<talk.lists.example.org>")]);
        assert_eq!(forged_freemail(&listed), None);
        assert_eq!(forged_freemail(&with(&[TOP])), None, "not free mail");
        let mut no_from = clean();
        no_from.headers.retain(|header| header.name != "From");
        assert_eq!(forged_freemail(&no_from), None);
        let unparsable = with(&[("From", "hotmail.com")]);
        assert_eq!(forged_freemail(&unparsable), None);
    }
}
