//! The registrable-domain rule, in one file both sides compile: the gateway's `domain`
//! import (`host/src/filter/capabilities/domain.rs` includes it) and the SDK, whose native
//! build answers `moat_sdk::domain::registrable` as the gateway does for a plugin's unit
//! tests (built for WebAssembly it asks the gateway instead) and which gives plugins
//! [`looks_like_ip`] on every target.

/// The registrable domain of `host` (the public suffix and one label more), lower-cased
/// and without a trailing dot; `None` for an empty name or label, a public suffix itself
/// and IP addresses (see `wit/domain.wit`).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn registrable(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_lowercase();
    if host.is_empty() || host.split('.').any(str::is_empty) || looks_like_ip(&host) {
        return None;
    }
    psl::domain_str(&host).map(str::to_owned)
}

/// Whether `name` is an IP address or address literal rather than a domain name: it
/// parses as an IP (with or without brackets, a trailing dot ignored), or its last label
/// is a number, decimal or `0x` hex, which browsers read as IPv4 (the WHATWG URL
/// standard's "ends in a number"). No top-level domain is numeric.
pub(crate) fn looks_like_ip(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    if name.starts_with('[') || name.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    let last = name.rsplit('.').next().unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.chars().all(|c| c.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(host: &str) -> Option<String> {
        registrable(host)
    }

    #[test]
    fn one_label_above_the_public_suffix() {
        assert_eq!(reg("www.example.com").as_deref(), Some("example.com"));
        assert_eq!(reg("example.com").as_deref(), Some("example.com"));
        assert_eq!(reg("a.b.c.example.org").as_deref(), Some("example.org"));
    }

    #[test]
    fn multi_label_suffixes() {
        assert_eq!(reg("mail.example.co.uk").as_deref(), Some("example.co.uk"));
        assert_eq!(reg("x.example.com.au").as_deref(), Some("example.com.au"));
        assert_eq!(
            reg("www.city.kawasaki.jp").as_deref(),
            Some("city.kawasaki.jp")
        );
        assert_eq!(
            reg("mail.hospital.nhs.uk").as_deref(),
            Some("hospital.nhs.uk")
        );
        // A rule of the list's private section: each user's site is its own domain.
        assert_eq!(reg("alice.github.io").as_deref(), Some("alice.github.io"));
        assert_eq!(
            reg("www.alice.github.io").as_deref(),
            Some("alice.github.io")
        );
    }

    #[test]
    fn names_the_list_does_not_know_stand_under_their_tld() {
        assert_eq!(
            reg("mail.spammer.example").as_deref(),
            Some("spammer.example")
        );
        assert_eq!(reg("a.co.example").as_deref(), Some("co.example"));
        assert_eq!(reg("example"), None);
    }

    #[test]
    fn bare_suffixes_have_none() {
        for suffix in [
            "co.uk",
            "com",
            "uk",
            "com.au",
            "github.io",
            "anything.kawasaki.jp",
        ] {
            assert_eq!(reg(suffix), None, "{suffix}");
        }
    }

    #[test]
    fn case_and_trailing_dot_are_ignored() {
        assert_eq!(reg("WWW.Example.CO.UK.").as_deref(), Some("example.co.uk"));
        assert_eq!(reg("Mail.BÜCHER.DE").as_deref(), Some("bücher.de"));
    }

    #[test]
    fn idn_hosts_pass_through_in_either_spelling() {
        assert_eq!(
            reg("www.xn--bcher-kva.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        // .рф, in Unicode and as punycode (xn--p1ai).
        assert_eq!(reg("почта.пример.рф").as_deref(), Some("пример.рф"));
        assert_eq!(
            reg("www.xn--e1afmkfd.xn--p1ai").as_deref(),
            Some("xn--e1afmkfd.xn--p1ai")
        );
    }

    #[test]
    fn ip_addresses_have_none() {
        for ip in [
            "192.0.2.1",
            "192.0.2.1.",
            "[192.0.2.1]",
            "[2001:db8::1]",
            "[IPv6:2001:db8::1]",
            "3221225985",
            "0xc0.0x00.0x02.0x01",
            "0XC0000201",
        ] {
            assert_eq!(reg(ip), None, "{ip}");
        }
        assert_eq!(reg("1.example.org").as_deref(), Some("example.org"));
        assert_eq!(reg("host.0xfeed.com").as_deref(), Some("0xfeed.com"));
    }

    #[test]
    fn ip_literals_are_not_names() {
        for ip in [
            "192.0.2.1",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "2001:db8::1",
            "3221225985",
            "0xc0.0x00.0x02.0x01",
            "0XC0000201",
            "192.0.2.1.",
        ] {
            assert!(looks_like_ip(ip), "{ip}");
        }
        assert!(!looks_like_ip("example.org"));
        assert!(!looks_like_ip("1.example.org"));
        assert!(!looks_like_ip("test"));
    }

    #[test]
    fn empty_and_broken_names_have_none() {
        for name in ["", ".", "..", "..com", ".example.com", "a..example.com"] {
            assert_eq!(reg(name), None, "{name:?}");
        }
    }
}
