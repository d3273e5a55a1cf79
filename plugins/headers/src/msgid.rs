//! Checks that the `Message-ID` has the shape the claimed mail program gives it:
//! Outlook's IDs carry a timestamp, and an `X-Mailer` claiming Outlook with an ID that
//! Outlook never writes was pasted on by spamware.

use crate::raw::raw_value;
use crate::rules::excerpt;
use crate::rules::{Facts, Finding};
use crate::symbols::{FORGED_OUTLOOK_MSGID, INVALID_MSGID, MSGID_OUTLOOK_INVALID};

/// The `<…>` inside of a `Message-ID` value.
fn message_id(facts: &Facts) -> Option<&str> {
    let value = facts.first("Message-ID")?.trim();
    let inner = value.strip_prefix('<').unwrap_or(value);
    Some(inner.split('>').next().unwrap_or(inner))
}

/// INVALID_MSGID: the `Message-ID` is not one `<left@right>` without blanks inside, the
/// shape RFC 5322 gives it and every mail program writes. (A missing or empty one is
/// `MISSING_MESSAGE_ID`.)
pub(crate) fn invalid(facts: &Facts) -> Option<Finding> {
    let raw = raw_value(facts.raw.as_deref()?, "Message-ID")?;
    let value = String::from_utf8_lossy(raw);
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    let inner = value
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'));
    let valid = inner.is_some_and(|inner| {
        let mut halves = inner.split('@');
        let (left, right) = (halves.next(), halves.next());
        halves.next().is_none()
            && [left, right].into_iter().all(|half| {
                half.is_some_and(|half| {
                    !half.is_empty()
                        && !half
                            .chars()
                            .any(|ch| ch.is_whitespace() || ch == '<' || ch == '>')
                })
            })
    });
    (!valid).then(|| {
        Finding::new(
            INVALID_MSGID,
            format!("Message-ID is not <left@right>: {}", excerpt(value)),
        )
    })
}

/// Whether `id` has the Outlook and Outlook Express shape `XXXXTTTTTTTT$XXXXXXXX$XXXXXXXX@…`
/// (hex digits; Outlook 2010 and later add a `$` before the `@`), and if so the
/// `TTTTTTTT`: the high 32 bits of the Windows FILETIME of its creation.
fn outlook_stamp(id: &str) -> Option<u32> {
    let bytes = id.as_bytes();
    let shaped = bytes.len() > 32
        && bytes[12] == b'$'
        && bytes[21] == b'$'
        && (bytes[30] == b'@' || (bytes[30] == b'$' && bytes[31] == b'@'))
        && [0..12, 13..21, 22..30]
            .into_iter()
            .all(|range| bytes[range].iter().all(u8::is_ascii_hexdigit));
    shaped.then(|| u32::from_str_radix(&id[4..12], 16).ok())?
}

/// Whether a FILETIME's high 32 bits lie between 1987 and 2060, where a real mail
/// program's clock is.
fn plausible_filetime_high(high: u32) -> bool {
    (0x01b0_0000..=0x01ff_ffff).contains(&high)
}

/// MSGID_OUTLOOK_INVALID: an Outlook-shaped `Message-ID` whose timestamp no clock would
/// give: spamware imitating Outlook with random hex.
pub(crate) fn outlook_invalid(facts: &Facts) -> Option<Finding> {
    let id = message_id(facts)?;
    let stamp = outlook_stamp(id)?;
    (!plausible_filetime_high(stamp)).then(|| {
        Finding::new(
            MSGID_OUTLOOK_INVALID,
            format!("Outlook-shaped Message-ID with an impossible timestamp: <{id}>"),
        )
    })
}

/// Whether `id` is what Outlook 98/2000 (`Outlook IMO`) writes: 28 letters `A`–`P`, a dot.
fn outlook_imo_shaped(id: &str) -> bool {
    let bytes = id.as_bytes();
    bytes.len() > 29
        && bytes[28] == b'.'
        && bytes[..28].iter().all(|byte| (b'A'..=b'P').contains(byte))
}

/// Whether `text` ends with `suffix`, ASCII case-insensitive.
fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// FORGED_OUTLOOK_MSGID: `X-Mailer` claims Outlook (for Windows) but the `Message-ID` is
/// none Outlook writes: the mailer line was pasted on, and a relay added the ID. Hotmail's
/// web relay writes its own IDs for Outlook Express, and Exchange Online (`….outlook.com`)
/// its own for Outlook, so those pass.
pub(crate) fn forged_outlook(facts: &Facts) -> Option<Finding> {
    let mailer = facts.first("X-Mailer")?;
    let claims_outlook = mailer.contains("Microsoft Outlook") && !mailer.contains("Macintosh");
    if !claims_outlook {
        return None;
    }
    let id = message_id(facts).unwrap_or_default();
    let id_domain = id.rsplit_once('@').map_or("", |(_, domain)| domain);
    let genuine = outlook_stamp(id).is_some()
        || outlook_imo_shaped(id)
        || id_domain.eq_ignore_ascii_case("hotmail.com")
        || ends_with_ignore_case(id_domain, ".outlook.com");
    (!genuine).then(|| {
        Finding::new(
            FORGED_OUTLOOK_MSGID,
            format!("X-Mailer {mailer:?} with Message-ID <{id}>"),
        )
    })
}

#[cfg(test)]
mod tests {
    use moat_sdk::Header;

    use super::*;
    use crate::rules::tests::{clean, clean_with as with};

    #[test]
    fn a_message_id_must_be_one_left_at_right() {
        let with_id = |id: &str| Facts {
            raw: Some(format!("From: a@b\r\nMessage-ID:{id}\r\n\r\nbody").into_bytes()),
            ..clean()
        };
        for good in [
            "<1@example.org>",
            " <a.b$c@[192.0.2.1]> ",
            "<x@localhost>",
            "",
        ] {
            assert_eq!(invalid(&with_id(good)), None, "{good}");
        }
        for bad in [
            "1@example.org",
            "<no-at-sign>",
            "<a@b@c>",
            "<a b@c>",
            "<@c>",
            "<a@>",
        ] {
            assert!(invalid(&with_id(bad)).is_some(), "{bad}");
        }
        assert_eq!(invalid(&clean()), None, "not scanned");
    }

    #[test]
    fn outlook_message_id_timestamps() {
        let genuine = with(&[("Message-ID", "<001001c249e6$863c4e00$13cca341@example.com>")]);
        assert_eq!(outlook_invalid(&genuine), None);
        // Outlook 2010 and later: a `$` before the `@`.
        let modern = with(&[
            (
                "Message-ID",
                "<003301d5a0e8$3f6b7a60$be426f20$@example.com>",
            ),
            ("X-Mailer", "Microsoft Outlook 16.0"),
        ]);
        assert_eq!(outlook_invalid(&modern), None);
        assert_eq!(forged_outlook(&modern), None);
        let random = with(&[("Message-ID", " <000c84d37aae$7338a0a4$3ab55ec5@bjjwxv> ")]);
        let finding = outlook_invalid(&random).unwrap();
        assert_eq!(finding.symbol, MSGID_OUTLOOK_INVALID);
        assert!(
            finding
                .detail
                .ends_with("<000c84d37aae$7338a0a4$3ab55ec5@bjjwxv>")
        );
        for other in [
            "<1@example.org>",
            "<0010é1c249e6$863c4e00$13cca341@x>",
            "",
            "<",
        ] {
            assert_eq!(
                outlook_invalid(&with(&[("Message-ID", other)])),
                None,
                "{other}"
            );
        }
        assert_eq!(outlook_invalid(&without_message_id()), None);
    }

    fn without_message_id() -> Facts {
        let mut facts = clean();
        facts
            .headers
            .retain(|header| !header.name.eq_ignore_ascii_case("Message-ID"));
        facts
    }

    #[test]
    fn outlook_mailer_needs_an_outlook_message_id() {
        let express = ("X-Mailer", "Microsoft Outlook Express 6.00.2600.0000");
        let forged = with(&[
            express,
            ("Message-ID", "<200208221955.UAA06531@relay.example>"),
        ]);
        let finding = forged_outlook(&forged).unwrap();
        assert_eq!(finding.symbol, FORGED_OUTLOOK_MSGID);
        let mut missing = without_message_id();
        missing.headers.push(Header::new(express.0, express.1));
        assert!(forged_outlook(&missing).is_some());

        for genuine in [
            "<005801c24a00$1e226060$73c04144@leslie>",
            "<OFEGLPGPCHPACFLJPAILKEICECAA.someone@example.ie>",
            "<OE17BcN7DaJHFzrK0pW0001e900@Hotmail.com>",
            "<AM0PR01MB1234ABCD@AM0PR01MB1234.eurprd01.prod.outlook.com>",
        ] {
            let facts = with(&[express, ("Message-ID", genuine)]);
            assert_eq!(forged_outlook(&facts), None, "{genuine}");
        }
        let mac = with(&[
            (
                "X-Mailer",
                "Microsoft Outlook Express Macintosh Edition - 4.5",
            ),
            ("Message-ID", "<E17hrT0-0004gj-00@relay.example>"),
        ]);
        assert_eq!(forged_outlook(&mac), None);
        let other = with(&[("X-Mailer", "Mutt/1.4"), ("Message-ID", "<x@y>")]);
        assert_eq!(forged_outlook(&other), None);
        assert_eq!(forged_outlook(&clean()), None, "no X-Mailer");
    }
}
