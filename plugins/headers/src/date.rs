//! Parsing the RFC 5322 `Date` header (including the obsolete forms still seen in the
//! wild: two-digit years, zone names, missing seconds).

/// The instant a `Date` header value names, in milliseconds since the Unix epoch, or
/// `None` if it is not a date. A missing or unknown zone counts as UTC, as RFC 5322 asks
/// for the obsolete military zones.
pub(crate) fn parse_date_millis(value: &str) -> Option<i64> {
    let value = strip_comments(value).replace(',', " ");
    let mut tokens = value.split_whitespace().peekable();

    if tokens.peek().is_some_and(|token| weekday(token)) {
        tokens.next();
    }
    let day: u32 = tokens.next()?.parse().ok()?;
    let month = month(tokens.next()?)?;
    let year = year(tokens.next()?)?;
    let (hour, minute, second) = time(tokens.next()?)?;
    let offset_minutes = match tokens.next() {
        Some(zone) => zone_offset_minutes(zone)?,
        None => 0,
    };
    if tokens.next().is_some() || day == 0 || day > days_in_month(year, month) {
        return None;
    }

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second)
        - i64::from(offset_minutes) * 60;
    Some(seconds * 1000)
}

/// Whether a `Date` value ends at its time of day, with no zone after it (comments
/// aside).
pub(crate) fn lacks_zone(value: &str) -> bool {
    strip_comments(value)
        .split_whitespace()
        .next_back()
        .is_some_and(|last| time(last).is_some())
}

fn strip_comments(value: &str) -> String {
    let mut depth = 0_u32;
    value
        .chars()
        .filter(|&ch| match ch {
            '(' => {
                depth += 1;
                false
            }
            ')' if depth > 0 => {
                depth -= 1;
                false
            }
            _ => depth == 0,
        })
        .collect()
}

fn weekday(token: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    DAYS.iter().any(|day| token.eq_ignore_ascii_case(day))
}

fn month(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let index = MONTHS
        .iter()
        .position(|month| token.eq_ignore_ascii_case(month))?;
    u32::try_from(index + 1).ok()
}

fn year(token: &str) -> Option<i64> {
    if !token.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let year: i64 = token.parse().ok()?;
    Some(match token.len() {
        2 if year < 50 => 2000 + year,
        2 | 3 => 1900 + year,
        4 => year,
        _ => return None,
    })
}

fn time(token: &str) -> Option<(u32, u32, u32)> {
    let mut parts = token.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.parse().ok()?;
    let second: u32 = match parts.next() {
        Some(second) => second.parse().ok()?,
        None => 0,
    };
    let valid = parts.next().is_none() && hour < 24 && minute < 60 && second <= 60;
    valid.then_some((hour, minute, second))
}

fn zone_offset_minutes(zone: &str) -> Option<i32> {
    let sign = match zone.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return named_zone_offset_minutes(zone),
    };
    let digits = &zone[1..];
    if digits.len() != 4 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    (minutes < 60).then_some(sign * (hours * 60 + minutes))
}

/// The offset of an obsolete zone name; unknown names (military zones) count as UTC.
fn named_zone_offset_minutes(zone: &str) -> Option<i32> {
    if zone.is_empty() || !zone.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return None;
    }
    let hours = match zone.to_ascii_uppercase().as_str() {
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        _ => 0,
    };
    Some(hours * 60)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1000;

    #[test]
    fn a_zone_after_the_time() {
        assert!(lacks_zone("Mon, 1 Jan 2024 12:30:00"));
        assert!(lacks_zone("1 Jan 2024 12:30 (no zone)"));
        assert!(!lacks_zone("Mon, 1 Jan 2024 12:30:00 +0100"));
        assert!(!lacks_zone("Mon, 1 Jan 2024 12:30:00 GMT"));
        assert!(!lacks_zone(""));
    }

    #[test]
    fn parses_the_common_form() {
        // 2003-07-01T08:52:37Z
        assert_eq!(
            parse_date_millis("Tue, 1 Jul 2003 10:52:37 +0200"),
            Some(1_057_049_557 * SECOND)
        );
        assert_eq!(
            parse_date_millis("Thu, 01 Jan 1970 00:00:00 +0000"),
            Some(0)
        );
    }

    #[test]
    fn parses_obsolete_forms() {
        assert_eq!(parse_date_millis("1 Jan 70 00:00 GMT"), Some(0));
        assert_eq!(parse_date_millis("1 Jan 1970 00:00:00 (UTC)"), Some(0));
        assert_eq!(parse_date_millis("Wed, 31 Dec 1969 19:00:00 EST"), Some(0));
        assert_eq!(
            parse_date_millis("1 jan 2000 00:00:00 -0130"),
            Some(946_690_200 * SECOND)
        );
        assert_eq!(
            parse_date_millis("29 Feb 2024 12:00:00 Z"),
            Some(1_709_208_000 * SECOND)
        );
    }

    #[test]
    fn rejects_garbage() {
        for value in [
            "",
            "yesterday",
            "32 Jan 2024 00:00:00 +0000",
            "29 Feb 2023 00:00:00 +0000",
            "1 Foo 2024 00:00:00 +0000",
            "1 Jan 2024 24:00:00 +0000",
            "1 Jan 2024 00:00:00 +02",
            "1 Jan 2024 00:00:00 +0000 extra",
            "2024-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_date_millis(value), None, "{value}");
        }
    }
}
