//! The symbols this plugin emits, their default scores, and the operator's overrides from
//! the config table `scores`.

/// The body contains the GTUBE anti-spam test string.
pub(crate) const GTUBE: &str = "GTUBE";
/// No `From` header.
pub(crate) const MISSING_FROM: &str = "MISSING_FROM";
/// More than one `From` header.
pub(crate) const MULTIPLE_FROM: &str = "MULTIPLE_FROM";
/// No `Date` header.
pub(crate) const MISSING_DATE: &str = "MISSING_DATE";
/// A `Date` header that is not an RFC 5322 date.
pub(crate) const INVALID_DATE: &str = "INVALID_DATE";
/// A `Date` header well ahead of the gateway's clock.
pub(crate) const DATE_IN_FUTURE: &str = "DATE_IN_FUTURE";
/// No (or an empty) `Message-ID` header.
pub(crate) const MISSING_MESSAGE_ID: &str = "MISSING_MESSAGE_ID";
/// No `Subject` header.
pub(crate) const MISSING_SUBJECT: &str = "MISSING_SUBJECT";
/// A `Subject` header with nothing but blanks.
pub(crate) const EMPTY_SUBJECT: &str = "EMPTY_SUBJECT";
/// A subject written in capitals only.
pub(crate) const SUBJECT_ALL_CAPS: &str = "SUBJECT_ALL_CAPS";
/// `Reply-To` points to another domain than `From`.
pub(crate) const FROM_REPLYTO_DIFFERENT_DOMAIN: &str = "FROM_REPLYTO_DIFFERENT_DOMAIN";
/// An HTML part and no plain-text part.
pub(crate) const HTML_ONLY: &str = "HTML_ONLY";
/// No `To` header.
pub(crate) const MISSING_TO: &str = "MISSING_TO";
/// A `To` header without any address (e.g. `undisclosed-recipients:;`).
pub(crate) const TO_UNDISCLOSED: &str = "TO_UNDISCLOSED";
/// Very many addresses in `To`.
pub(crate) const MANY_RECIPIENTS_IN_TO: &str = "MANY_RECIPIENTS_IN_TO";

/// ASCII text sent in base64.
pub(crate) const MIME_BASE64_TEXT: &str = "MIME_BASE64_TEXT";
/// HTML with images and little text.
pub(crate) const HTML_IMAGES_LITTLE_TEXT: &str = "HTML_IMAGES_LITTLE_TEXT";
/// A link to an IP address.
pub(crate) const URL_NUMERIC_IP: &str = "URL_NUMERIC_IP";
/// A `Date` well before the message was received.
pub(crate) const DATE_IN_PAST: &str = "DATE_IN_PAST";
/// A `Date` well after the message was received.
pub(crate) const DATE_AFTER_RECEIVED: &str = "DATE_AFTER_RECEIVED";
/// An Outlook-shaped `Message-ID` with an impossible timestamp.
pub(crate) const MSGID_OUTLOOK_INVALID: &str = "MSGID_OUTLOOK_INVALID";
/// `X-Mailer` claims Outlook, the `Message-ID` is not Outlook's.
pub(crate) const FORGED_OUTLOOK_MSGID: &str = "FORGED_OUTLOOK_MSGID";
/// A client greeted with a bare IP address.
pub(crate) const RCVD_NUMERIC_HELO: &str = "RCVD_NUMERIC_HELO";
/// The `Received` dates go backwards.
pub(crate) const RCVD_DATE_REVERSED: &str = "RCVD_DATE_REVERSED";
/// A free-mail `From` that never went through the provider's relays.
pub(crate) const FORGED_FREEMAIL_RCVD: &str = "FORGED_FREEMAIL_RCVD";

/// Text in a charset of a locale the site does not expect (`ok_locales`).
pub(crate) const CHARSET_FARAWAY: &str = "CHARSET_FARAWAY";
/// A header field with raw bytes that are not UTF-8.
pub(crate) const HEADER_8BIT_NOT_UTF8: &str = "HEADER_8BIT_NOT_UTF8";
/// An urgent `X-Priority`.
pub(crate) const X_PRIORITY_HIGH: &str = "X_PRIORITY_HIGH";
/// A `Subject` labelled `ADV:`.
pub(crate) const SUBJECT_ADV: &str = "SUBJECT_ADV";

/// A `Message-ID` that is not `<left@right>`.
pub(crate) const INVALID_MSGID: &str = "INVALID_MSGID";
/// A quoted-printable line longer than MIME allows.
pub(crate) const MIME_QP_LONG_LINE: &str = "MIME_QP_LONG_LINE";

/// The body names sums in millions of dollars (pounds, euros).
pub(crate) const MONEY_MILLIONS: &str = "MONEY_MILLIONS";
/// The body tells the advance-fee fraud story.
pub(crate) const ADVANCE_FEE: &str = "ADVANCE_FEE";
/// The body greets a stranger (`Dear Friend`).
pub(crate) const DEAR_SOMETHING: &str = "DEAR_SOMETHING";
/// Red lettering in HTML.
pub(crate) const HTML_FONT_RED: &str = "HTML_FONT_RED";
/// A dollar amount, `!!` or `FREE` in the `Subject`.
pub(crate) const SUBJECT_SALES_PITCH: &str = "SUBJECT_SALES_PITCH";
/// Outlook Express claimed, its `X-MimeOLE` field missing.
pub(crate) const MISSING_MIMEOLE: &str = "MISSING_MIMEOLE";
/// A relay's client had no reverse name.
pub(crate) const RDNS_NONE: &str = "RDNS_NONE";
/// A `Date` without a zone.
pub(crate) const DATE_NO_ZONE: &str = "DATE_NO_ZONE";
/// The client's reverse name is in the sender's domain (evidence for the message).
pub(crate) const CLIENT_IN_SENDER_DOMAIN: &str = "CLIENT_IN_SENDER_DOMAIN";

/// Every symbol with its default score (positive: spammy, negative: hammy).
pub(crate) const DEFAULT_SCORES: &[(&str, f64)] = &[
    (GTUBE, 100.0),
    (MISSING_FROM, 2.0),
    (MULTIPLE_FROM, 8.0),
    (MISSING_DATE, 1.0),
    (INVALID_DATE, 1.5),
    (DATE_IN_FUTURE, 4.0),
    (MISSING_MESSAGE_ID, 2.5),
    (MISSING_SUBJECT, 2.0),
    (EMPTY_SUBJECT, 1.0),
    (SUBJECT_ALL_CAPS, 3.0),
    (FROM_REPLYTO_DIFFERENT_DOMAIN, 1.0),
    (HTML_ONLY, 0.5),
    (MISSING_TO, 2.0),
    (TO_UNDISCLOSED, 2.0),
    (MANY_RECIPIENTS_IN_TO, 1.5),
    (MIME_BASE64_TEXT, 1.5),
    (HTML_IMAGES_LITTLE_TEXT, 1.5),
    (URL_NUMERIC_IP, 2.0),
    (DATE_IN_PAST, 2.0),
    (DATE_AFTER_RECEIVED, 2.5),
    (MSGID_OUTLOOK_INVALID, 3.0),
    (FORGED_OUTLOOK_MSGID, 2.5),
    (RCVD_NUMERIC_HELO, 1.5),
    (RCVD_DATE_REVERSED, 1.5),
    (FORGED_FREEMAIL_RCVD, 2.0),
    (CHARSET_FARAWAY, 1.5),
    (HEADER_8BIT_NOT_UTF8, 1.5),
    (X_PRIORITY_HIGH, 2.0),
    (SUBJECT_ADV, 2.0),
    (INVALID_MSGID, 2.0),
    (MIME_QP_LONG_LINE, 1.0),
    (MONEY_MILLIONS, 1.0),
    (ADVANCE_FEE, 2.0),
    (DEAR_SOMETHING, 2.0),
    (HTML_FONT_RED, 1.5),
    (SUBJECT_SALES_PITCH, 1.5),
    (MISSING_MIMEOLE, 2.5),
    (DATE_NO_ZONE, 1.5),
    (RDNS_NONE, 1.0),
    (CLIENT_IN_SENDER_DOMAIN, -0.5),
];

/// The symbols whose finding also demands that the message be rejected (honoured only
/// where the operator set `allow_hard_action = true`).
pub(crate) const REJECTING: &[&str] = &[GTUBE];

pub(crate) use moat_sdk::scores::Scores;

/// This plugin's scores with the operator's overrides from the config table `scores`.
pub(crate) fn configured_scores() -> Scores {
    Scores::configured(DEFAULT_SCORES)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use moat_sdk::Symbol;

    use super::*;

    #[test]
    fn every_symbol_name_is_valid_and_listed_once() {
        for (index, (name, score)) in DEFAULT_SCORES.iter().enumerate() {
            assert!(Symbol::is_valid_name(name), "{name}");
            assert!(score.is_finite(), "{name}");
            assert!(
                DEFAULT_SCORES[index + 1..]
                    .iter()
                    .all(|(other, _)| other != name),
                "{name} listed twice"
            );
        }
    }

    #[test]
    fn overrides_replace_defaults() {
        let scores = Scores::with_overrides(
            DEFAULT_SCORES,
            BTreeMap::from([
                (MISSING_DATE.to_owned(), 0.0),
                ("NO_SUCH_SYMBOL".to_owned(), 5.0),
            ]),
        );
        assert_eq!(scores.score(MISSING_DATE), 0.0);
        assert_eq!(scores.score(GTUBE), 100.0);
        assert_eq!(scores.unknown_symbols(), ["NO_SUCH_SYMBOL"]);
    }
}
