//! Text helpers for the parsed message: header values as text, URL extraction.

use mail_parser::{Address, Header, HeaderValue};

/// At most this many URLs are collected from one message.
const MAX_URLS: usize = 1000;

/// A header's value as one line of decoded text.
pub(super) fn header_value(header: &Header<'_>, raw: &[u8]) -> String {
    match &header.value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(", "),
        HeaderValue::Address(address) => format_address(address),
        _ => {
            let start = header.offset_start as usize;
            let end = (header.offset_end as usize).min(raw.len());
            let value = raw.get(start..end).unwrap_or_default();
            unfold(&String::from_utf8_lossy(value))
        }
    }
}

fn format_address(address: &Address<'_>) -> String {
    let one = |a: &mail_parser::Addr<'_>| match (&a.name, &a.address) {
        (Some(name), Some(addr)) => format!("{name} <{addr}>"),
        (None, Some(addr)) => addr.to_string(),
        (Some(name), None) => name.to_string(),
        (None, None) => String::new(),
    };
    match address {
        Address::List(list) => list.iter().map(one).collect::<Vec<_>>().join(", "),
        Address::Group(groups) => groups
            .iter()
            .map(|g| {
                let members = g.addresses.iter().map(one).collect::<Vec<_>>().join(", ");
                format!("{}: {members};", g.name.as_deref().unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The distinct http(s) URLs in `texts`, in order of first appearance, as written. A link
/// written without a scheme (`www.example.com/offer`) is taken as `http://` + the link.
pub(super) fn find_urls<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut found = Found::default();
    for text in texts {
        if !add_urls_in(text, &mut found) {
            break;
        }
    }
    found.urls
}

/// The URLs found so far, in order, and the same as a set: a message repeating links
/// costs a hash lookup per link, not a walk through every URL found before it.
#[derive(Default)]
struct Found {
    urls: Vec<String>,
    seen: std::collections::HashSet<String>,
}

/// Adds the URLs of one text not yet `found`, in order; `false` once there are
/// [`MAX_URLS`].
fn add_urls_in(text: &str, found: &mut Found) -> bool {
    let lower = text.to_ascii_lowercase();
    let mut next_http = find_from(&lower, "http", 0);
    let mut next_www = find_from(&lower, "www.", 0);
    let mut from = 0;
    loop {
        // A marker's next occurrence is searched again only once the scan has passed it,
        // so a text full of near-misses costs one pass per marker, not one per miss.
        if next_http.is_some_and(|p| p < from) {
            next_http = find_from(&lower, "http", from);
        }
        if next_www.is_some_and(|p| p < from) {
            next_www = find_from(&lower, "www.", from);
        }
        let (pos, url) = match (next_http, next_www) {
            (None, None) => return true,
            (Some(http), Some(www)) if www < http => (www, www_url(text, www)),
            (Some(http), _) => (http, http_url(text, http)),
            (None, Some(www)) => (www, www_url(text, www)),
        };
        match url {
            Some((url, end)) => {
                from = end;
                if found.seen.insert(url.clone()) {
                    found.urls.push(url);
                    if found.urls.len() == MAX_URLS {
                        return false;
                    }
                }
            }
            None => from = pos + 4,
        }
    }
}

/// The first occurrence of `marker` in `lower` at or after `from`.
fn find_from(lower: &str, marker: &str, from: usize) -> Option<usize> {
    lower.get(from..)?.find(marker).map(|p| p + from)
}

/// The `http://` or `https://` URL starting at `pos`, and where its text ends; `None` if
/// there is none there.
fn http_url(text: &str, pos: usize) -> Option<(String, usize)> {
    let rest = &text.as_bytes()[pos..];
    let starts = |scheme: &[u8]| {
        rest.get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
    };
    if !(starts(b"http://") || starts(b"https://")) {
        return None;
    }
    let (url, end) = link_text(text, pos);
    (url.len() > "https://".len()).then_some((url, end))
}

/// The scheme-less link starting with `www.` at `pos`, as `http://` + the link, and where
/// its text ends. `None` unless `www.` starts a word (not `wwwhat`, `joe@www.…`,
/// `mail.www.…` or the `//www.` of a URL) and is followed by a host name with a dot
/// (`www.example.com`, not `www.example`) that is not the domain of an e-mail address
/// (`www.example.com@example.org`).
fn www_url(text: &str, pos: usize) -> Option<(String, usize)> {
    let before = text[..pos].chars().next_back();
    if before.is_some_and(|c| c.is_alphanumeric() || "._-@/\\%".contains(c)) {
        return None;
    }
    let (link, end) = link_text(text, pos);
    let authority = link.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.split(':').next().unwrap_or_default();
    let name = host.get("www.".len()..).unwrap_or_default();
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    });
    (labels_ok && name.contains('.') && !authority.contains('@'))
        .then(|| (format!("http://{link}"), end))
}

/// The link text starting at `pos`: up to white space or a character that delimits links
/// in text and markup, read as a browser reads HTML source ([`without_entities`]), without
/// trailing punctuation (`see https://example.org.`); and the end of the text it came from.
fn link_text(text: &str, pos: usize) -> (String, usize) {
    let len = text[pos..]
        .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
        .unwrap_or(text.len() - pos);
    let url = without_entities(&text[pos..pos + len]);
    let url = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
    (url.to_owned(), pos + len)
}

/// `url` as a browser reads it from HTML source: an entity for a space (`&nbsp;`,
/// `&#160;`, `&#32;`) ends it, and `&amp;` is `&`.
fn without_entities(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let end = ["&nbsp;", "&#160;", "&#xa0;", "&#32;", "&#x20;"]
        .iter()
        .filter_map(|entity| lower.find(entity))
        .min()
        .unwrap_or(url.len());
    url[..end].replace("&amp;", "&").replace("&AMP;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_in_html_hrefs_are_read_as_a_browser_reads_them() {
        let urls = find_urls(
            ["<a href=\"http://host.example/?a=1&amp;b=2\">x</a> http://host.example&nbsp;Search http://c.example/p&#160;q"]
                .into_iter(),
        );
        assert_eq!(
            urls,
            vec![
                "http://host.example/?a=1&b=2",
                "http://host.example",
                "http://c.example/p"
            ]
        );
    }

    #[test]
    fn urls_stop_at_delimiters_and_trailing_punctuation() {
        let urls = find_urls(
            ["Go to https://a.example/x?y=1. Or <http://b.example/>, \"HTTPS://C.example\" and http:// alone"].into_iter(),
        );
        assert_eq!(
            urls,
            vec![
                "https://a.example/x?y=1",
                "http://b.example/",
                "HTTPS://C.example"
            ]
        );
    }

    #[test]
    fn links_without_a_scheme_are_found_as_http() {
        let urls = find_urls(
            ["visit www.Example.com/x. Or <a href=\"WWW.shop.example.co.uk?a=1&amp;b\">www.b.example</a>; (www.c.example:8080)"]
                .into_iter(),
        );
        assert_eq!(
            urls,
            vec![
                "http://www.Example.com/x",
                "http://WWW.shop.example.co.uk?a=1&b",
                "http://www.b.example",
                "http://www.c.example:8080"
            ]
        );
    }

    #[test]
    fn links_keep_their_order_of_appearance_across_kinds() {
        let urls =
            find_urls(["www.a.example then https://b.example then www.c.example/"].into_iter());
        assert_eq!(
            urls,
            vec![
                "http://www.a.example",
                "https://b.example",
                "http://www.c.example/"
            ]
        );
    }

    #[test]
    fn www_that_is_not_a_link_is_skipped() {
        let urls = find_urls(
            ["wwwhat www. www.example www..example.com wwww.example.com \
                 joe@www.example.com www.example.com@example.org mail.www.example.com \
                 x-www.example.com www.exa|mple.com http://www.example.org/ \
                 //www.example.net/ www.example.com."]
            .into_iter(),
        );
        assert_eq!(
            urls,
            vec!["http://www.example.org/", "http://www.example.com"]
        );
    }

    #[test]
    fn at_most_max_urls_distinct_links_are_kept_in_order() {
        let distinct: Vec<String> = (0..MAX_URLS + 500)
            .map(|i| format!("www.site{i}.example"))
            .collect();
        let repeated = format!("{} ", distinct[..10].join(" ")).repeat(100);
        let text = format!("{repeated} {}", distinct.join(" "));
        let urls = find_urls([text.as_str()].into_iter());
        assert_eq!(urls.len(), MAX_URLS);
        assert_eq!(urls[0], "http://www.site0.example");
        assert_eq!(
            urls[MAX_URLS - 1],
            format!("http://www.site{}.example", MAX_URLS - 1)
        );
    }

    #[test]
    fn unfolding_joins_continuation_lines() {
        assert_eq!(unfold(" a\r\n\tb\r\n"), "a b");
    }
}
