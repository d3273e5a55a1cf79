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

/// The distinct http(s) URLs in `texts`, in order of first appearance.
pub(super) fn find_urls<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    for text in texts {
        let lower = text.to_ascii_lowercase();
        let mut from = 0;
        while let Some(pos) = lower[from..].find("http").map(|p| p + from) {
            from = pos + 4;
            let rest = &lower[pos..];
            if !(rest.starts_with("http://") || rest.starts_with("https://")) {
                continue;
            }
            let len = text[pos..]
                .find(|c: char| c.is_whitespace() || "\"'<>()[]{}`".contains(c))
                .unwrap_or(text.len() - pos);
            let url = without_entities(&text[pos..pos + len]);
            let url = url.trim_end_matches(['.', ',', ';', ':', '!', '?']);
            from = pos + len;
            if url.len() > "https://".len() && !urls.iter().any(|u| u == url) {
                urls.push(url.to_owned());
                if urls.len() == MAX_URLS {
                    return urls;
                }
            }
        }
    }
    urls
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
    fn unfolding_joins_continuation_lines() {
        assert_eq!(unfold(" a\r\n\tb\r\n"), "a b");
    }
}
