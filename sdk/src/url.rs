//! Links in a normalised, parsed form: [`Url::parse`] turns a written `http(s)` URL into
//! its scheme, host, port, path and query, spelled one way (`HTTP://WWW.Example.com:80`
//! and `http://www.example.com/` are the same link), so plugins compare and count links
//! without each parsing URLs by hand. [`Message::links`](crate::Message::links) gives the
//! message's links in this form.
//!
//! It normalises what browsers treat as equal and stops there: no IDNA mapping of hosts,
//! no rewriting of percent-escapes in the path or query, no removal of `.` and `..` path
//! segments, no reading of `0300.0.2.1` or `3221225985` as the IPv4 address a browser
//! would make of it. The fragment (`#…`) is dropped: it never leaves the reader's browser.

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv6Addr;

/// An `http` or `https` link, normalised.
///
/// Built by [`Url::parse`]; [`Display`](fmt::Display) writes it back in its normalised
/// spelling: `scheme://[userinfo@]host[:port]path[?query]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    /// `"http"` or `"https"`, lower-case.
    pub scheme: String,
    /// The `user:password` before an `@` in the authority, as written; `None` if there is
    /// none or it is empty. In mail it is mostly a disguise
    /// (`http://www.bank.example@192.0.2.1/`): the host is what the link goes to.
    pub userinfo: Option<String>,
    /// The host: lower-cased, percent-escapes decoded, without a trailing dot. IPv6
    /// addresses are in brackets and in their canonical form (`[2001:db8::1]`). A name may
    /// be Unicode (`bücher.example`) or punycode (`xn--bcher-kva.example`), as written.
    pub host: String,
    /// The port, if one was written and it is not the scheme's default (80 for `http`,
    /// 443 for `https`).
    pub port: Option<u16>,
    /// The path, as written (escapes kept), with `\` read as `/` as browsers do; `"/"`
    /// when the URL has none.
    pub path: String,
    /// What follows the `?`, up to any `#`, as written; `None` without a `?`, `Some("")`
    /// for a bare `?`.
    pub query: Option<String>,
}

impl Url {
    /// Parses an absolute `http` or `https` URL (`scheme://host…`), as [`Message::urls`]
    /// returns them, into its normalised form.
    ///
    /// `None` for anything else: another scheme, no `//`, an empty host, a host with
    /// characters no host name has (spaces, quotes, `<`, …: a URL cut out of sloppy HTML),
    /// an invalid IPv6 literal, or a port that is not a number up to 65535.
    ///
    /// ```
    /// use moat_sdk::url::Url;
    ///
    /// let url = Url::parse("HTTPS://Shop.Example.ORG:443?id=7#top").unwrap();
    /// assert_eq!(url.scheme, "https");
    /// assert_eq!(url.host, "shop.example.org");
    /// assert_eq!(url.port, None);
    /// assert_eq!(url.path, "/");
    /// assert_eq!(url.query.as_deref(), Some("id=7"));
    /// assert_eq!(url.to_string(), "https://shop.example.org/?id=7");
    /// assert_eq!(Url::parse("mailto:bob@example.org"), None);
    /// ```
    ///
    /// [`Message::urls`]: crate::Message::urls
    #[must_use]
    pub fn parse(url: &str) -> Option<Url> {
        let (scheme, rest) = url.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority_end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo).filter(|u| !u.is_empty()), host_port),
            None => (None, authority),
        };
        let (host, port) = split_port(host_port)?;
        let tail = tail.split('#').next().unwrap_or_default();
        let (path, query) = match tail.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (tail, None),
        };
        Some(Url {
            scheme,
            userinfo: userinfo.map(str::to_owned),
            host: normalise_host(host)?,
            port: parse_port(port)?.filter(|port| *port != default_port),
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path.replace('\\', "/")
            },
            query,
        })
    }

    /// The registrable domain of the host ([`domain::registrable`]):
    /// `http://www.shop.example.co.uk/` → `example.co.uk`; `None` for an IP address.
    ///
    /// [`domain::registrable`]: crate::domain::registrable
    #[must_use]
    pub fn registrable_domain(&self) -> Option<String> {
        crate::domain::registrable(&self.host)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(userinfo) = &self.userinfo {
            write!(f, "{userinfo}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)?;
        if let Some(query) = &self.query {
            write!(f, "?{query}")?;
        }
        Ok(())
    }
}

/// The URLs of `urls` that parse, normalised, each once, in order of first appearance:
/// what [`Message::links`](crate::Message::links) returns.
pub(crate) fn distinct<'a>(urls: impl IntoIterator<Item = &'a str>) -> Vec<Url> {
    let mut seen = HashSet::new();
    urls.into_iter()
        .filter_map(Url::parse)
        .filter(|url| seen.insert(url.clone()))
        .collect()
}

/// `host[:port]` → (host, port as written); `None` when something other than a port
/// follows a bracketed IPv6 literal.
fn split_port(host_port: &str) -> Option<(&str, Option<&str>)> {
    if host_port.starts_with('[') {
        let end = host_port.find(']')? + 1;
        let (host, after) = host_port.split_at(end);
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    Some(match host_port.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (host_port, None),
    })
}

/// A written port: `Some(None)` when there is none (absent, or empty as in `host:/`, which
/// browsers read as no port), `Some(Some(n))` for a number up to 65535, and `None` for
/// anything else, which makes the whole URL invalid.
fn parse_port(port: Option<&str>) -> Option<Option<u16>> {
    match port {
        None | Some("") => Some(None),
        Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok().map(Some),
        Some(_) => None,
    }
}

/// The host in its one spelling, or `None` if it is not a host: an IPv6 literal in its
/// canonical form; a name or IPv4 address percent-decoded, lower-cased, without a
/// trailing dot, and made only of letters, digits, `-`, `_` and `.`.
fn normalise_host(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[') {
        let ip: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        return Some(format!("[{ip}]"));
    }
    let host = percent_decode(host)?;
    let host = host.strip_suffix('.').unwrap_or(&host).to_lowercase();
    let valid = host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (valid && !host.is_empty() && host != ".").then_some(host)
}

/// Decodes `%XX` escapes, as browsers do in a host; `None` if the result is not UTF-8. A
/// `%` not followed by two hex digits stays as it is (in a host it then fails
/// [`Url::parse`]'s character check).
#[must_use]
pub fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Url {
        Url::parse(url).unwrap_or_else(|| panic!("{url} should parse"))
    }

    #[test]
    fn scheme_and_host_are_lower_cased_and_the_path_is_kept() {
        let url = parse("HTTP://WWW.Example.COM/Offer/Now.HTML?ID=A&b=C");
        assert_eq!(url.scheme, "http");
        assert_eq!(url.host, "www.example.com");
        assert_eq!(url.port, None);
        assert_eq!(url.path, "/Offer/Now.HTML");
        assert_eq!(url.query.as_deref(), Some("ID=A&b=C"));
        assert_eq!(url.userinfo, None);
        assert_eq!(
            url.to_string(),
            "http://www.example.com/Offer/Now.HTML?ID=A&b=C"
        );
    }

    #[test]
    fn default_ports_go_and_others_stay() {
        assert_eq!(parse("http://example.org:80/").port, None);
        assert_eq!(parse("https://example.org:443/").port, None);
        assert_eq!(parse("http://example.org:443/").port, Some(443));
        assert_eq!(parse("https://example.org:80/").port, Some(80));
        assert_eq!(parse("http://example.org:8080").port, Some(8080));
        assert_eq!(parse("http://example.org:0080/").port, None);
        assert_eq!(parse("http://example.org:/").port, None);
        assert_eq!(
            parse("https://example.org:8443/x").to_string(),
            "https://example.org:8443/x"
        );
    }

    #[test]
    fn the_same_link_written_differently_is_equal() {
        let spellings = [
            "https://www.example.com",
            "HTTPS://WWW.EXAMPLE.COM/",
            "https://www.example.com.:443/#section",
            "https://www.ex%61mple.com",
        ];
        for spelling in spellings {
            assert_eq!(
                parse(spelling).to_string(),
                "https://www.example.com/",
                "{spelling}"
            );
        }
    }

    #[test]
    fn empty_path_is_a_slash_and_the_fragment_goes() {
        let url = parse("http://example.org?q#frag");
        assert_eq!(url.path, "/");
        assert_eq!(url.query.as_deref(), Some("q"));
        let url = parse("http://example.org/a#b?c");
        assert_eq!(url.path, "/a");
        assert_eq!(url.query, None);
        assert_eq!(parse("http://example.org/?").query.as_deref(), Some(""));
        assert_eq!(parse("http://example.org\\evil\\x").path, "/evil/x");
    }

    #[test]
    fn userinfo_is_kept_apart_from_the_host() {
        let url = parse("http://www.bank.example@192.0.2.1/login");
        assert_eq!(url.userinfo.as_deref(), Some("www.bank.example"));
        assert_eq!(url.host, "192.0.2.1");
        assert_eq!(url.to_string(), "http://www.bank.example@192.0.2.1/login");
        assert_eq!(
            parse("http://user:pw@Example.ORG:8080/?q=a@b").host,
            "example.org"
        );
        assert_eq!(parse("http://@example.org/").userinfo, None);
    }

    #[test]
    fn ip_hosts() {
        let url = parse("http://[2001:DB8:0::1]:8080/x");
        assert_eq!(url.host, "[2001:db8::1]");
        assert_eq!(url.port, Some(8080));
        assert_eq!(parse("https://[::1]").host, "[::1]");
        assert_eq!(parse("http://192.0.2.1:80/").host, "192.0.2.1");
        assert_eq!(url.registrable_domain(), None);
    }

    #[test]
    fn unicode_and_punycode_hosts_are_kept_as_written() {
        assert_eq!(parse("http://BÜCHER.example/").host, "bücher.example");
        assert_eq!(
            parse("http://xn--bcher-kva.example/").host,
            "xn--bcher-kva.example"
        );
    }

    #[test]
    fn registrable_domain_of_the_host() {
        let url = parse("https://www.shop.example.co.uk/");
        assert_eq!(url.registrable_domain().as_deref(), Some("example.co.uk"));
    }

    #[test]
    fn what_is_not_an_http_link_is_none() {
        for bad in [
            "",
            "www.example.com/offer",
            "//cdn.example/x.js",
            "ftp://example.org/",
            "mailto:bob@example.org",
            "javascript://example.org/%0aalert(1)",
            "http://",
            "http:///path",
            "http://./",
            "http://www.example.com\"><b>",
            "http://exa mple.org/",
            "http://example.org:http/",
            "http://example.org:+80/",
            "http://example.org:65536/",
            "http://[2001:db8::1/",
            "http://[2001:db8::1]x/",
            "http://[not-ip]/",
            "http://%ff%fe/",
            "http://100%/",
        ] {
            assert_eq!(Url::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn distinct_keeps_first_appearances_of_parsed_links() {
        let links = distinct([
            "http://b.example/x",
            "not a url",
            "HTTP://B.EXAMPLE:80/x",
            "https://a.example",
            "http://b.example/x#again",
            "https://a.example/",
        ]);
        let links: Vec<String> = links.iter().map(Url::to_string).collect();
        assert_eq!(links, ["http://b.example/x", "https://a.example/"]);
    }
}
