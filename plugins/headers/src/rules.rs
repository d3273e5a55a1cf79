//! The header and content checks: pure functions over [`Facts`], so they run natively in
//! unit tests. Each check returns the findings it makes; scores are applied elsewhere.

use moat_sdk::Header;

use crate::address::{addresses, domain, related_domains};
use crate::date::parse_date_millis;
use crate::mime::TransferScan;
use crate::symbols::{
    DATE_IN_FUTURE, EMPTY_SUBJECT, FROM_REPLYTO_DIFFERENT_DOMAIN, GTUBE, HTML_ONLY, INVALID_DATE,
    MANY_RECIPIENTS_IN_TO, MISSING_DATE, MISSING_FROM, MISSING_MESSAGE_ID, MISSING_SUBJECT,
    MISSING_TO, MULTIPLE_FROM, SUBJECT_ALL_CAPS, TO_UNDISCLOSED,
};
use crate::{body, bulk, encoding, forgery, html, mailer, mime, msgid, origin, received, urls};

/// The GTUBE test string: a message containing it must be treated as spam.
pub(crate) const GTUBE_STRING: &str =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
/// A subject needs at least this many cased letters to count as written in capitals.
pub(crate) const ALL_CAPS_MIN_LETTERS: usize = 10;
/// How far ahead of the gateway's clock a `Date` may be before it is suspicious
/// (sender clock skew and queueing stay well below this).
pub(crate) const FUTURE_DATE_TOLERANCE_MILLIS: i64 = 2 * 60 * 60 * 1000;
/// From this many addresses in `To` on, the message looks like a mass mailing.
pub(crate) const MANY_RECIPIENTS: usize = 25;

/// What the checks look at, gathered from the message once.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Every header field, in order.
    pub(crate) headers: Vec<Header>,
    /// The `text/plain` parts.
    pub(crate) text_parts: Vec<String>,
    /// The `text/html` parts, as text.
    pub(crate) html_parts: Vec<String>,
    /// The `text/html` parts as HTML source, for their links and images.
    pub(crate) html_sources: Vec<String>,
    /// The distinct `http(s)` URLs of the text and HTML parts.
    pub(crate) urls: Vec<String>,
    /// The name the connected client gave in HELO/EHLO: the hop to the gateway, which
    /// has no `Received` field the plugins see.
    pub(crate) client_helo: Option<String>,
    /// The connected client's address.
    pub(crate) client_ip: Option<std::net::IpAddr>,
    /// The connected client's verified reverse DNS name, if it has one.
    pub(crate) client_reverse_dns: Option<String>,
    /// The envelope sender (MAIL FROM), `Some("")` for the null sender.
    pub(crate) mail_from: Option<String>,
    /// What the scan of the raw MIME structure found, if the message was scanned.
    pub(crate) transfer: Option<TransferScan>,
    /// The raw message, if it is small enough to be scanned.
    pub(crate) raw: Option<Vec<u8>>,
    /// The locales whose charsets are expected here (config `ok_locales`).
    pub(crate) ok_locales: Vec<String>,
    /// The gateway's clock, in milliseconds since the Unix epoch.
    pub(crate) now_millis: u64,
    /// [`Facts::body_words`], made on first use.
    pub(crate) body_words: std::cell::OnceCell<String>,
    /// [`Facts::date_millis`], parsed on first use.
    pub(crate) date_millis: std::cell::OnceCell<Option<i64>>,
    /// [`Facts::received_dates`], parsed on first use.
    pub(crate) received_dates: std::cell::OnceCell<Vec<i64>>,
}

impl Facts {
    /// The words of the text parts and the HTML parts as text, ASCII lower-cased,
    /// hyphens read as blanks, one space between: made once for every check on words.
    pub(crate) fn body_words(&self) -> &str {
        self.body_words
            .get_or_init(|| body::words(self.text_parts.iter().chain(&self.html_parts)))
    }

    /// The instant the first `Date` field names, if it is a date: parsed once for the
    /// several checks on it.
    pub(crate) fn date_millis(&self) -> Option<i64> {
        *self
            .date_millis
            .get_or_init(|| parse_date_millis(self.first("Date")?))
    }

    /// The dates of the `Received` fields that have one, newest (topmost) first: parsed
    /// once for the checks that compare them.
    pub(crate) fn received_dates(&self) -> &[i64] {
        self.received_dates.get_or_init(|| {
            self.values("Received")
                .filter_map(|value| received::parse(value).date_millis())
                .collect()
        })
    }

    /// The values of every header named `name` (case-insensitive), in order.
    pub(crate) fn values(&self, name: &'static str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_str())
    }

    /// The value of the first header named `name`.
    pub(crate) fn first(&self, name: &'static str) -> Option<&str> {
        self.values(name).next()
    }
}

/// One thing found about the message: mostly wrong with it, sometimes (a negative
/// score) for it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Finding {
    /// The symbol to report.
    pub(crate) symbol: &'static str,
    /// Why, for the report.
    pub(crate) detail: String,
}

impl Finding {
    /// A finding of `symbol`, explained by `detail`.
    pub(crate) fn new(symbol: &'static str, detail: impl Into<String>) -> Self {
        Self {
            symbol,
            detail: detail.into(),
        }
    }
}

/// Runs every check.
pub(crate) fn check_all(facts: &Facts) -> Vec<Finding> {
    let checks: [fn(&Facts) -> Option<Finding>; 31] = [
        gtube,
        from_count,
        date,
        message_id,
        subject,
        reply_to_domain,
        html_only,
        to_recipients,
        mime::base64_text,
        mime::images_little_text,
        urls::numeric_ip,
        forgery::date_in_past,
        forgery::date_after_received,
        msgid::outlook_invalid,
        msgid::forged_outlook,
        forgery::numeric_helo,
        forgery::date_reversed,
        forgery::forged_freemail,
        bulk::priority_high,
        bulk::subject_adv,
        msgid::invalid,
        mime::qp_long_line,
        body::money_millions,
        body::advance_fee,
        body::dear_something,
        html::font_red,
        bulk::subject_sales_pitch,
        mailer::missing_mimeole,
        mailer::date_no_zone,
        forgery::rdns_none,
        origin::client_in_sender_domain,
    ];
    let mut findings: Vec<Finding> = checks.iter().filter_map(|check| check(facts)).collect();
    if let Some(raw) = &facts.raw {
        findings.extend(encoding::charset_faraway(raw, &facts.ok_locales));
        findings.extend(encoding::header_8bit_not_utf8(raw));
    }
    findings
}

/// GTUBE: the body contains the GTUBE test string.
pub(crate) fn gtube(facts: &Facts) -> Option<Finding> {
    let found = facts
        .text_parts
        .iter()
        .chain(&facts.html_parts)
        .any(|part| part.contains(GTUBE_STRING));
    found.then(|| Finding::new(GTUBE, "body contains the GTUBE test string"))
}

/// MISSING_FROM or MULTIPLE_FROM: there must be exactly one `From` field.
pub(crate) fn from_count(facts: &Facts) -> Option<Finding> {
    match facts.values("From").count() {
        0 => Some(Finding::new(MISSING_FROM, "no From header")),
        1 => None,
        count => Some(Finding::new(MULTIPLE_FROM, format!("{count} From headers"))),
    }
}

/// MISSING_DATE, INVALID_DATE or DATE_IN_FUTURE.
pub(crate) fn date(facts: &Facts) -> Option<Finding> {
    let Some(value) = facts.first("Date") else {
        return Some(Finding::new(MISSING_DATE, "no Date header"));
    };
    let Some(date_millis) = facts.date_millis() else {
        return Some(Finding::new(
            INVALID_DATE,
            format!("Date is not an RFC 5322 date: {}", excerpt(value)),
        ));
    };
    let now_millis = i64::try_from(facts.now_millis).unwrap_or(i64::MAX);
    let ahead_millis = date_millis.saturating_sub(now_millis);
    (ahead_millis > FUTURE_DATE_TOLERANCE_MILLIS).then(|| {
        let ahead_minutes = ahead_millis / 60_000;
        Finding::new(
            DATE_IN_FUTURE,
            format!(
                "Date is {} h {} min ahead of the gateway's clock: {}",
                ahead_minutes / 60,
                ahead_minutes % 60,
                excerpt(value)
            ),
        )
    })
}

/// MISSING_MESSAGE_ID: no `Message-ID`, or an empty one.
pub(crate) fn message_id(facts: &Facts) -> Option<Finding> {
    match facts.first("Message-ID") {
        None => Some(Finding::new(MISSING_MESSAGE_ID, "no Message-ID header")),
        Some(value) if value.trim().is_empty() => {
            Some(Finding::new(MISSING_MESSAGE_ID, "empty Message-ID header"))
        }
        Some(_) => None,
    }
}

/// MISSING_SUBJECT, EMPTY_SUBJECT or SUBJECT_ALL_CAPS.
pub(crate) fn subject(facts: &Facts) -> Option<Finding> {
    let Some(subject) = facts.first("Subject") else {
        return Some(Finding::new(MISSING_SUBJECT, "no Subject header"));
    };
    if subject.trim().is_empty() {
        return Some(Finding::new(EMPTY_SUBJECT, "the Subject is empty"));
    }
    is_all_caps(subject).then(|| {
        Finding::new(
            SUBJECT_ALL_CAPS,
            format!("Subject in capitals: {}", excerpt(subject)),
        )
    })
}

/// Whether `text` has at least [`ALL_CAPS_MIN_LETTERS`] cased letters, all upper case.
fn is_all_caps(text: &str) -> bool {
    let mut upper = 0;
    for ch in text.chars() {
        if ch.is_lowercase() {
            return false;
        }
        if ch.is_uppercase() {
            upper += 1;
        }
    }
    upper >= ALL_CAPS_MIN_LETTERS
}

/// FROM_REPLYTO_DIFFERENT_DOMAIN: replies go to another domain than the sender's (a
/// subdomain of it counts as the same).
pub(crate) fn reply_to_domain(facts: &Facts) -> Option<Finding> {
    let from = first_address_domain(facts.first("From")?)?;
    let reply_to = first_address_domain(facts.first("Reply-To")?)?;
    (!related_domains(&from, &reply_to)).then(|| {
        Finding::new(
            FROM_REPLYTO_DIFFERENT_DOMAIN,
            format!("From domain {from}, Reply-To domain {reply_to}"),
        )
    })
}

/// The domain of the first address in an address-list header value.
pub(crate) fn first_address_domain(value: &str) -> Option<String> {
    addresses(value).first().and_then(|address| domain(address))
}

/// HTML_ONLY: an HTML part and no plain-text alternative.
pub(crate) fn html_only(facts: &Facts) -> Option<Finding> {
    (facts.text_parts.is_empty() && !facts.html_parts.is_empty())
        .then(|| Finding::new(HTML_ONLY, "HTML part without a text/plain part"))
}

/// MISSING_TO, TO_UNDISCLOSED or MANY_RECIPIENTS_IN_TO, from the `To` fields.
pub(crate) fn to_recipients(facts: &Facts) -> Option<Finding> {
    let mut values = facts.values("To").peekable();
    if values.peek().is_none() {
        return Some(Finding::new(MISSING_TO, "no To header"));
    }
    let count: usize = values.map(|value| addresses(value).len()).sum();
    match count {
        0 => Some(Finding::new(TO_UNDISCLOSED, "To names no address")),
        count if count >= MANY_RECIPIENTS => Some(Finding::new(
            MANY_RECIPIENTS_IN_TO,
            format!("{count} addresses in To"),
        )),
        _ => None,
    }
}

/// `value` shortened for a report line: at most 80 characters.
pub(crate) fn excerpt(value: &str) -> String {
    const MAX_CHARS: usize = 80;
    match value.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 2024-01-01T12:00:00Z
    pub(crate) const NOW_MILLIS: u64 = 1_704_110_400_000;

    /// A well-formed message: no check finds anything.
    pub(crate) fn clean() -> Facts {
        Facts {
            headers: vec![
                Header::new("From", "Alice <alice@example.org>"),
                Header::new("To", "Bob <bob@example.com>"),
                Header::new("Subject", "Lunch on Friday?"),
                Header::new("Date", "Mon, 1 Jan 2024 12:30:00 +0100"),
                Header::new("Message-ID", "<1@example.org>"),
            ],
            text_parts: vec!["Shall we?".to_owned()],
            now_millis: NOW_MILLIS,
            ..Facts::default()
        }
    }

    /// `clean()` with these fields replacing its own (a name given twice, such as
    /// `Received`, gives two fields).
    pub(crate) fn clean_with(fields: &[(&str, &str)]) -> Facts {
        let mut facts = clean();
        facts.headers.retain(|header| {
            !fields
                .iter()
                .any(|(name, _)| header.name.eq_ignore_ascii_case(name))
        });
        facts.headers.extend(
            fields
                .iter()
                .map(|(name, value)| Header::new(*name, *value)),
        );
        facts
    }

    fn with_header(mut facts: Facts, name: &str, value: &str) -> Facts {
        facts.headers.push(Header::new(name, value));
        facts
    }

    fn without_header(mut facts: Facts, name: &str) -> Facts {
        facts
            .headers
            .retain(|header| !header.name.eq_ignore_ascii_case(name));
        facts
    }

    fn replaced(facts: Facts, name: &str, value: &str) -> Facts {
        with_header(without_header(facts, name), name, value)
    }

    fn symbols(facts: &Facts) -> Vec<&'static str> {
        check_all(facts).into_iter().map(|f| f.symbol).collect()
    }

    #[test]
    fn clean_message_has_no_findings() {
        assert_eq!(check_all(&clean()), Vec::new());
    }

    #[test]
    fn gtube_in_text_or_html() {
        let mut facts = clean();
        facts.text_parts = vec![format!("test\n{GTUBE_STRING}\n")];
        assert_eq!(symbols(&facts), [GTUBE]);
        let mut facts = clean();
        facts.html_parts = vec![GTUBE_STRING.to_owned()];
        assert!(gtube(&facts).is_some());
    }

    #[test]
    fn from_must_appear_once() {
        assert_eq!(symbols(&without_header(clean(), "From")), [MISSING_FROM]);
        let twice = with_header(clean(), "from", "mallory@example.net");
        let finding = from_count(&twice).unwrap();
        assert_eq!(finding.symbol, MULTIPLE_FROM);
        assert_eq!(finding.detail, "2 From headers");
    }

    #[test]
    fn date_checks() {
        assert_eq!(symbols(&without_header(clean(), "Date")), [MISSING_DATE]);
        assert_eq!(
            symbols(&replaced(clean(), "Date", "last Tuesday")),
            [INVALID_DATE]
        );
        // Three hours ahead.
        let ahead = replaced(clean(), "Date", "Mon, 1 Jan 2024 15:00:00 +0000");
        let finding = date(&ahead).unwrap();
        assert_eq!(finding.symbol, DATE_IN_FUTURE);
        assert!(
            finding.detail.starts_with("Date is 3 h 0 min ahead"),
            "{}",
            finding.detail
        );
        // One hour ahead is clock skew, and old dates are fine.
        let skewed = replaced(clean(), "Date", "Mon, 1 Jan 2024 13:00:00 +0000");
        assert_eq!(date(&skewed), None);
        let old = replaced(clean(), "Date", "Sat, 1 Jan 2000 00:00:00 +0000");
        assert_eq!(date(&old), None);
    }

    #[test]
    fn message_id_must_be_present_and_non_empty() {
        assert_eq!(
            symbols(&without_header(clean(), "Message-ID")),
            [MISSING_MESSAGE_ID]
        );
        let empty = replaced(clean(), "Message-Id", "  ");
        assert_eq!(
            message_id(&empty).unwrap().detail,
            "empty Message-ID header"
        );
    }

    #[test]
    fn subject_checks() {
        assert_eq!(
            symbols(&without_header(clean(), "Subject")),
            [MISSING_SUBJECT]
        );
        assert_eq!(symbols(&replaced(clean(), "Subject", " ")), [EMPTY_SUBJECT]);
        assert_eq!(
            symbols(&replaced(clean(), "Subject", "CHEAP MONEY FOR YOU!")),
            [SUBJECT_ALL_CAPS]
        );
        assert!(symbols(&replaced(clean(), "Subject", "RE: FYI")).is_empty());
        assert_eq!(
            symbols(&replaced(clean(), "Subject", "ÜBERWEISUNG SOFORT")),
            [SUBJECT_ALL_CAPS]
        );
        assert!(symbols(&replaced(clean(), "Subject", "Hello WORLD, MY FRIEND")).is_empty());
    }

    #[test]
    fn reply_to_domain_checks() {
        let same = with_header(clean(), "Reply-To", "list@lists.example.org");
        assert_eq!(reply_to_domain(&same), None);
        let other = with_header(clean(), "Reply-To", "\"Alice\" <alice@example.net>");
        let finding = reply_to_domain(&other).unwrap();
        assert_eq!(finding.symbol, FROM_REPLYTO_DIFFERENT_DOMAIN);
        assert_eq!(
            finding.detail,
            "From domain example.org, Reply-To domain example.net"
        );
        let unparsable = with_header(clean(), "Reply-To", "nobody");
        assert_eq!(reply_to_domain(&unparsable), None);
    }

    #[test]
    fn html_only_needs_no_text_part() {
        let mut facts = clean();
        facts.html_parts = vec!["hi".to_owned()];
        assert_eq!(html_only(&facts), None);
        facts.text_parts.clear();
        assert_eq!(symbols(&facts), [HTML_ONLY]);
    }

    #[test]
    fn to_checks() {
        assert_eq!(symbols(&without_header(clean(), "To")), [MISSING_TO]);
        assert_eq!(
            symbols(&replaced(clean(), "To", "undisclosed-recipients:;")),
            [TO_UNDISCLOSED]
        );
        let many: Vec<String> = (0..MANY_RECIPIENTS)
            .map(|i| format!("u{i}@example.com"))
            .collect();
        let finding = to_recipients(&replaced(clean(), "To", &many.join(", "))).unwrap();
        assert_eq!(finding.symbol, MANY_RECIPIENTS_IN_TO);
        assert_eq!(finding.detail, format!("{MANY_RECIPIENTS} addresses in To"));
        let fewer = many[1..].join(", ");
        assert_eq!(to_recipients(&replaced(clean(), "To", &fewer)), None);
    }

    #[test]
    fn excerpts_are_short() {
        assert_eq!(excerpt("short"), "\"short\"");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 80 + 3);
    }
}
