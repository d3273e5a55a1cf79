//! Checks on the message's links: hosts written as IP addresses. (URL shorteners, link
//! text naming another host than the link's target, and links to many sites were
//! measured and not kept; the README says why.)

use crate::rules::{Facts, Finding, excerpt};
use crate::symbols::URL_NUMERIC_IP;

/// The host of an absolute URL (`scheme://[user@]host[:port]/…`), without user info,
/// port or trailing dot, as written; `None` if there is none.
fn host(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host_port.starts_with('[') {
        host_port.split_inclusive(']').next().unwrap_or(host_port)
    } else {
        host_port.split(':').next().unwrap_or(host_port)
    };
    // A host ends where characters no host name has begin (a stray quote of sloppy HTML).
    let end = host
        .find(|ch: char| !(ch.is_alphanumeric() || matches!(ch, '.' | '-' | '_' | '[' | ']' | ':')))
        .unwrap_or(host.len());
    let host = host[..end].trim_end_matches('.');
    (!host.is_empty()).then_some(host)
}

/// Whether `host` is an IP address: dotted, a bare 32-bit number, hexadecimal, or an IPv6
/// literal in brackets.
fn is_numeric_host(host: &str) -> bool {
    if host.starts_with('[') {
        return true;
    }
    let hex = host.strip_prefix("0x").or_else(|| host.strip_prefix("0X"));
    if let Some(digits) = hex {
        return !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_hexdigit());
    }
    host.bytes().any(|byte| byte.is_ascii_digit())
        && host
            .bytes()
            .all(|byte| byte.is_ascii_digit() || byte == b'.')
}

/// URL_NUMERIC_IP: a link whose host is an IP address.
pub(crate) fn numeric_ip(facts: &Facts) -> Option<Finding> {
    let url = facts
        .urls
        .iter()
        .find(|url| host(url).is_some_and(is_numeric_host))?;
    Some(Finding::new(
        URL_NUMERIC_IP,
        format!("link to an IP address: {}", excerpt(url)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::clean;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host("http://www.example.org/a?b"), Some("www.example.org"));
        assert_eq!(
            host("https://user:pw@Example.ORG.:8080/"),
            Some("Example.ORG")
        );
        assert_eq!(
            host("http://www.bank.example@192.0.2.1/login"),
            Some("192.0.2.1")
        );
        assert_eq!(host("http://[2001:db8::1]:80/"), Some("[2001:db8::1]"));
        assert_eq!(
            host("http://www.example.com\"><b>"),
            Some("www.example.com")
        );
        assert_eq!(host("http://bücher.example/"), Some("bücher.example"));
        assert_eq!(host("www.example.org"), None);
        assert_eq!(host("http:///path"), None);
    }

    #[test]
    fn numeric_hosts() {
        for numeric in ["192.0.2.1", "3221225985", "0xC0000201", "[::1]", "1.2.3"] {
            assert!(is_numeric_host(numeric), "{numeric}");
        }
        for name in [
            "123.example.com",
            "example.org",
            "0x",
            "...",
            "b\u{fc}cher.example",
        ] {
            assert!(!is_numeric_host(name), "{name}");
        }
    }

    #[test]
    fn numeric_ip_links() {
        let mut facts = clean();
        facts.urls = vec![
            "http://www.example.org/".to_owned(),
            "http://192.0.2.1/offer".to_owned(),
        ];
        let finding = numeric_ip(&facts).unwrap();
        assert_eq!(finding.symbol, URL_NUMERIC_IP);
        assert_eq!(
            finding.detail,
            "link to an IP address: \"http://192.0.2.1/offer\""
        );
        facts.urls = vec!["http://192.example/".to_owned(), "not a url".to_owned()];
        assert_eq!(numeric_ip(&facts), None);
    }
}
