//! The host part of the URLs in a message, and the domains a URI block list is asked
//! about. Pure string work, no host calls.

use moat_sdk::domain::looks_like_ip;
use moat_sdk::url::percent_decode;

use crate::query::{domain_candidates, normalize_domain};

/// At most this many domain names are looked up per URI list and message.
pub(crate) const MAX_URI_DOMAINS: usize = 20;

/// The host of `url`, lower-cased and without a trailing dot, as written: the part after
/// `scheme://` (or `//`) and any `user:password@`, before the port, path, query or
/// fragment. Percent-escapes in the host are decoded (`ex%61mple.org`). IPv6 literals are
/// returned with their brackets. `None` when there is no host.
pub(crate) fn url_host(url: &str) -> Option<String> {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(pos)
            if url[..pos]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            &url[pos + 3..]
        }
        _ => url.strip_prefix("//").unwrap_or(url),
    };
    // Browsers treat `\` like `/` in http(s) URLs.
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = if host_port.starts_with('[') {
        let end = host_port.find(']')?;
        &host_port[..=end]
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = percent_decode(host)?;
    let host = host.trim_end_matches('.').to_lowercase();
    (!host.is_empty()).then_some(host)
}

/// The domain names to ask URI lists about for these URLs, in order of first appearance:
/// for each host, its registrable domain and then the host itself (see
/// [`domain_candidates`]); duplicates removed; at most `cap` names. Hosts that are IP
/// addresses are skipped: URI domain lists do not list addresses, and the client IP is
/// what IP lists are for.
pub(crate) fn uri_domains(urls: &[String], cap: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for url in urls {
        let Some(host) = url_host(url) else {
            continue;
        };
        if looks_like_ip(&host) {
            continue;
        }
        let Some(host) = normalize_domain(&host) else {
            continue;
        };
        for name in domain_candidates(&host) {
            if names.len() == cap {
                return names;
            }
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(url: &str) -> Option<String> {
        url_host(url)
    }

    #[test]
    fn extracts_hosts() {
        assert_eq!(
            host("https://Example.ORG/path").as_deref(),
            Some("example.org")
        );
        assert_eq!(host("http://example.org").as_deref(), Some("example.org"));
        assert_eq!(
            host("http://example.org.:8080/x").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            host("http://user:pw@www.spammer.example/?q=a@b").as_deref(),
            Some("www.spammer.example")
        );
        assert_eq!(
            host("http://example.org?x=1").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            host("http://example.org#top").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            host("http://example.org\\evil").as_deref(),
            Some("example.org")
        );
        assert_eq!(host("HTTPS://a.b.example").as_deref(), Some("a.b.example"));
        assert_eq!(host("//cdn.example/x.js").as_deref(), Some("cdn.example"));
        assert_eq!(
            host("www.example.org/x").as_deref(),
            Some("www.example.org")
        );
    }

    #[test]
    fn extracts_ip_hosts_and_decodes_escapes() {
        assert_eq!(host("http://192.0.2.1:80/").as_deref(), Some("192.0.2.1"));
        assert_eq!(
            host("http://[2001:db8::1]:8080/").as_deref(),
            Some("[2001:db8::1]")
        );
        assert_eq!(
            host("http://ex%61mple%2Eorg/").as_deref(),
            Some("example.org")
        );
        assert_eq!(host("http://100%/").as_deref(), Some("100%"));
    }

    #[test]
    fn no_host_is_none() {
        assert_eq!(host("http://"), None);
        assert_eq!(host("http:///path"), None);
        assert_eq!(host("http://[2001:db8::1/"), None);
        assert_eq!(host("http://%ff%fe/"), None);
        assert_eq!(host(""), None);
    }

    #[test]
    fn uri_domains_dedupe_skip_ips_and_cap() {
        let urls: Vec<String> = [
            "https://www.spammer.example/a",
            "https://spammer.example/b",
            "http://192.0.2.1/x",
            "http://[2001:db8::1]/",
            "http://x.bad-urls.example/",
            "http://bad name.example/",
            "https://WWW.Spammer.Example/c",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            uri_domains(&urls, MAX_URI_DOMAINS),
            [
                "spammer.example",
                "www.spammer.example",
                "bad-urls.example",
                "x.bad-urls.example"
            ]
        );
        assert_eq!(
            uri_domains(&urls, 3),
            ["spammer.example", "www.spammer.example", "bad-urls.example"]
        );
    }

    #[test]
    fn uri_domains_cap_many_hosts() {
        let urls: Vec<String> = (0..100)
            .map(|i| format!("https://site{i}.example/"))
            .collect();
        let names = uri_domains(&urls, MAX_URI_DOMAINS);
        assert_eq!(names.len(), MAX_URI_DOMAINS);
        assert_eq!(names[0], "site0.example");
    }
}
