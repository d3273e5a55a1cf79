//! What the raw bytes say: text in a charset of a script the site does not expect to
//! receive (SpamAssassin's `CHARSET_FARAWAY` and `ok_locales`), and header fields with raw
//! bytes that are not UTF-8 (SpamAssassin's `HEAD_ILLEGAL_CHARS`): RFC 5322 headers are
//! ASCII, RFC 6532 allows UTF-8, and anything else was written by software that ignores
//! both, mostly bulk mailers.

use crate::raw::raw_fields;
use crate::rules::{Finding, excerpt};
use crate::symbols::{CHARSET_FARAWAY, HEADER_8BIT_NOT_UTF8};

/// Each locale `ok_locales` can name, with the charsets that carry its script.
pub(crate) const LOCALE_CHARSETS: &[(&str, &[&str])] = &[
    (
        "zh",
        &[
            "big5",
            "big5-hkscs",
            "gb2312",
            "gbk",
            "gb18030",
            "hz-gb-2312",
            "x-euc-tw",
            "cp936",
            "cp950",
        ],
    ),
    (
        "ja",
        &[
            "iso-2022-jp",
            "shift_jis",
            "shift-jis",
            "sjis",
            "euc-jp",
            "cp932",
            "windows-31j",
        ],
    ),
    (
        "ko",
        &["euc-kr", "ks_c_5601-1987", "iso-2022-kr", "cp949", "uhc"],
    ),
    (
        "ru",
        &[
            "koi8-r",
            "koi8-u",
            "windows-1251",
            "cp1251",
            "iso-8859-5",
            "x-mac-cyrillic",
        ],
    ),
    ("th", &["tis-620", "windows-874", "iso-8859-11"]),
];

/// A header field needs at least this many bytes that are not UTF-8 to count: one stray
/// Latin-1 `£` in a news headline is a slip, not a bulk mailer.
pub(crate) const MIN_NON_UTF8_BYTES: usize = 3;

/// CHARSET_FARAWAY: a MIME part, an encoded header word or an HTML `meta` declares a
/// charset of a locale not in `ok_locales`. Returns the charset's name.
pub(crate) fn charset_faraway(raw: &[u8], ok_locales: &[String]) -> Option<Finding> {
    let far: Vec<&str> = LOCALE_CHARSETS
        .iter()
        .filter(|(locale, _)| !ok_locales.iter().any(|ok| ok.eq_ignore_ascii_case(locale)))
        .flat_map(|(_, charsets)| charsets.iter().copied())
        .collect();
    if far.is_empty() {
        return None;
    }
    declared_charsets(raw)
        .into_iter()
        .find(|declared| {
            far.iter()
                .any(|charset| declared.eq_ignore_ascii_case(charset.as_bytes()))
        })
        .map(|charset| {
            Finding::new(
                CHARSET_FARAWAY,
                format!(
                    "text in charset {}, of a locale not in ok_locales",
                    excerpt(&String::from_utf8_lossy(charset))
                ),
            )
        })
}

/// Every charset name declared in `raw`: `charset=NAME` (MIME parameters and HTML
/// `meta`, quoted or not) and `=?NAME?` (RFC 2047 encoded words), in order. Both forms
/// hold a `=`, so one pass visits only the `=` signs: a search per pattern was a sixth of
/// the plugin's time, a look at every byte a sixth again.
fn declared_charsets(raw: &[u8]) -> Vec<&[u8]> {
    const PARAMETER: &[u8] = b"charset";
    let mut names = Vec::new();
    for at in memchr::memchr_iter(b'=', raw) {
        let after = &raw[at + 1..];
        if let Some(word) = after.strip_prefix(b"?") {
            let name = token(word);
            if word.get(name.len()) == Some(&b'?') && !name.is_empty() {
                names.push(name);
            }
        } else if at >= PARAMETER.len()
            && raw[at - PARAMETER.len()..at].eq_ignore_ascii_case(PARAMETER)
        {
            let name = token(after.strip_prefix(b"\"").unwrap_or(after));
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// The charset name at the start of `bytes`.
fn token(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&byte| !(byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte)))
        .unwrap_or(bytes.len());
    &bytes[..end.min(40)]
}

/// HEADER_8BIT_NOT_UTF8: a field of the message's header section holds at least
/// [`MIN_NON_UTF8_BYTES`] bytes that are not UTF-8.
pub(crate) fn header_8bit_not_utf8(raw: &[u8]) -> Option<Finding> {
    raw_fields(raw).into_iter().find_map(|field| {
        let bad = non_utf8_bytes(field);
        (bad >= MIN_NON_UTF8_BYTES).then(|| {
            let name_end = field.iter().position(|&b| b == b':').unwrap_or(0);
            Finding::new(
                HEADER_8BIT_NOT_UTF8,
                format!(
                    "{bad} raw bytes that are not UTF-8 in {}",
                    excerpt(&String::from_utf8_lossy(&field[..name_end]))
                ),
            )
        })
    })
}

/// How many bytes of `bytes` are not part of a valid UTF-8 sequence.
fn non_utf8_bytes(mut bytes: &[u8]) -> usize {
    let mut bad = 0;
    loop {
        match std::str::from_utf8(bytes) {
            Ok(_) => return bad,
            Err(error) => {
                let skip = error
                    .error_len()
                    .unwrap_or(bytes.len() - error.valid_up_to());
                bad += skip;
                bytes = &bytes[error.valid_up_to() + skip..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faraway(raw: &str, ok: &[&str]) -> Option<String> {
        let ok: Vec<String> = ok.iter().map(|s| (*s).to_owned()).collect();
        charset_faraway(raw.as_bytes(), &ok).map(|finding| finding.detail)
    }

    #[test]
    fn a_faraway_charset_is_found_in_parameters_meta_and_encoded_words() {
        let part = "Content-Type: text/plain; charset=\"Big5\"\n\nhello";
        assert!(faraway(part, &[]).unwrap().contains("Big5"));
        let meta = "<meta http-equiv=Content-Type content=\"text/html; charset=gb2312\">";
        assert!(faraway(meta, &[]).unwrap().contains("gb2312"));
        let word = "Subject: =?ks_c_5601-1987?B?x9GxuQ==?=\n\nhi";
        assert!(faraway(word, &[]).unwrap().contains("ks_c_5601-1987"));
    }

    #[test]
    fn declared_charsets_stop_cleanly_at_the_end_of_the_message() {
        // What a stranger can end a message with: each pattern cut short.
        for raw in [
            "=",
            "=?",
            "=?big5",
            "c",
            "ch",
            "charset",
            "charset=",
            "charset=\"",
        ] {
            assert!(declared_charsets(raw.as_bytes()).is_empty(), "{raw:?}");
        }
        assert_eq!(
            declared_charsets(b"=?=?big5?x CHARSET=\"koi8-r"),
            [&b"big5"[..], &b"koi8-r"[..]]
        );
    }

    #[test]
    fn ok_locales_and_latin_charsets_do_not_count() {
        let part = "Content-Type: text/plain; charset=iso-2022-jp\n\nhello";
        assert_eq!(faraway(part, &["ja"]), None);
        assert_eq!(faraway(part, &["JA", "zh"]), None);
        assert!(faraway(part, &["zh"]).is_some());
        let latin = "Subject: =?iso-8859-1?Q?caf=E9?=\nContent-Type: text/plain; charset=utf-8";
        assert_eq!(faraway(latin, &[]), None);
        assert_eq!(faraway("charset=", &[]), None);
        assert_eq!(faraway("=?big5 and no question mark", &[]), None);
    }

    #[test]
    fn header_bytes_that_are_not_utf8_count_from_three() {
        let big5 = b"Subject: \xa7\xa7\xb5\xbd\xb1\xbc\nFrom: a@b\n\nbody \xff\xff\xff";
        let found = header_8bit_not_utf8(big5).unwrap();
        assert!(found.detail.starts_with("6 raw bytes"), "{}", found.detail);
        assert!(found.detail.contains("Subject"));
        let pound = b"Subject: Houses rise \xa31,100 a week\n\nbody";
        assert_eq!(header_8bit_not_utf8(pound), None);
        let utf8 = "Subject: Grüße aus Köln, ça va, 東京\n\nbody";
        assert_eq!(header_8bit_not_utf8(utf8.as_bytes()), None);
        let body_only = b"Subject: hi\r\n\r\n\xa7\xef\xb5\xbd";
        assert_eq!(header_8bit_not_utf8(body_only), None);
    }

    #[test]
    fn folded_fields_count_as_one() {
        let folded = b"Subject: \xa7\xef\n \xb5\xbd\nTo: x\n\n";
        let found = header_8bit_not_utf8(folded).unwrap();
        assert!(found.detail.starts_with("4 raw bytes"), "{}", found.detail);
    }
}
