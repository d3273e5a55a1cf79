//! What a real mail program always writes, missing from a message that claims to come
//! from one: Outlook Express's `X-MimeOLE` line, a zone in the `Date`.

use crate::date::lacks_zone;
use crate::rules::{Facts, Finding, excerpt};
use crate::symbols::{DATE_NO_ZONE, MISSING_MIMEOLE};

/// MISSING_MIMEOLE: `X-Mailer` names Outlook Express 4, 5 or 6, which always add an
/// `X-MimeOLE` field, and there is none.
pub(crate) fn missing_mimeole(facts: &Facts) -> Option<Finding> {
    let mailer = facts.first("X-Mailer")?;
    let (_, version) = mailer.split_once("Outlook Express ")?;
    let claimed = version.starts_with(['4', '5', '6']) && version[1..].starts_with('.');
    (claimed && facts.first("X-MimeOLE").is_none()).then(|| {
        Finding::new(
            MISSING_MIMEOLE,
            format!("X-Mailer {} without X-MimeOLE", excerpt(mailer.trim())),
        )
    })
}

/// DATE_NO_ZONE: the `Date` is a date but names no zone, which RFC 5322 requires and
/// every mail program writes.
pub(crate) fn date_no_zone(facts: &Facts) -> Option<Finding> {
    let value = facts.first("Date")?;
    (facts.date_millis().is_some() && lacks_zone(value)).then(|| {
        Finding::new(
            DATE_NO_ZONE,
            format!("Date without a zone: {}", excerpt(value.trim())),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean_with;

    const OE: &str = "Microsoft Outlook Express 6.00.2600.0000";

    #[test]
    fn outlook_express_writes_x_mimeole() {
        let found = missing_mimeole(&clean_with(&[("X-Mailer", OE)])).unwrap();
        assert_eq!(found.symbol, MISSING_MIMEOLE);
        let genuine = clean_with(&[
            ("X-Mailer", OE),
            ("X-MimeOLE", "Produced By Microsoft MimeOLE V6.00.2600.0000"),
        ]);
        assert_eq!(missing_mimeole(&genuine), None);
        let other = clean_with(&[("X-Mailer", "Microsoft Outlook 16.0")]);
        assert_eq!(missing_mimeole(&other), None);
        let macintosh = clean_with(&[("X-Mailer", "Outlook Express Macintosh Edition")]);
        assert_eq!(missing_mimeole(&macintosh), None);
    }

    #[test]
    fn a_date_needs_a_zone() {
        let bare = clean_with(&[("Date", "Mon, 1 Jan 2024 12:30:00")]);
        assert_eq!(date_no_zone(&bare).map(|f| f.symbol), Some(DATE_NO_ZONE));
        let named = clean_with(&[("Date", "Mon, 1 Jan 2024 12:30 EST (comment)")]);
        assert_eq!(date_no_zone(&named), None);
        assert_eq!(date_no_zone(&clean_with(&[])), None);
        assert_eq!(date_no_zone(&clean_with(&[("Date", "soon")])), None);
    }
}
