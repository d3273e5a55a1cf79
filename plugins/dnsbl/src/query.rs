//! The names a block list is asked about (RFC 5782): reversed client IPs for IP lists,
//! domain names for RHSBL and URIBL lists, and the names to ask about for a host (its
//! registrable domain, from the SDK's Public Suffix List, and itself). Pure string work,
//! no host calls.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use moat_sdk::domain::{looks_like_ip, registrable};

/// The longest domain name DNS can carry, in text form without the trailing dot.
pub(crate) const MAX_NAME_LEN: usize = 253;
/// The longest label DNS can carry.
const MAX_LABEL_LEN: usize = 63;

/// The reversed form of `ip` a block list is asked about, without the zone: reversed
/// octets for IPv4 (RFC 5782 §2.1), reversed nibbles for IPv6 (§2.4). An IPv4-mapped IPv6
/// address (`::ffff:192.0.2.1`, as a dual-stack socket reports an IPv4 client) is looked
/// up as the IPv4 address it is. `None` for the unspecified address, which only stands in
/// for an unknown client.
pub(crate) fn reverse_ip(ip: IpAddr) -> Option<String> {
    if ip.is_unspecified() {
        return None;
    }
    Some(match ip {
        IpAddr::V4(v4) => reverse_ipv4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => reverse_ipv4(v4),
            None => reverse_ipv6(v6),
        },
    })
}

/// Whether `domain` is under a TLD reserved for testing and documentation (RFC 2606:
/// `test`, `example`, `invalid`, `localhost`; RFC 6762: `local`) or is one of the
/// `example.com`, `example.net` and `example.org` domains: no block list lists such a
/// name, and asking would only leak it.
pub(crate) fn is_reserved_name(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if matches!(tld, "test" | "example" | "invalid" | "localhost" | "local") {
        return true;
    }
    ["example.com", "example.net", "example.org"]
        .iter()
        .any(|reserved| domain == *reserved || domain.ends_with(&format!(".{reserved}")))
}

/// Whether `ip` is a loopback, private (RFC 1918, IPv6 unique local), link-local, CGNAT
/// (100.64.0.0/10), unspecified or broadcast address: one that no public block list
/// lists, and that should not be sent to one. IPv4-mapped IPv6 addresses are judged as
/// IPv4. Documentation ranges (192.0.2.0/24, 2001:db8::/32, …) are not private.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || (a == 100 && (b & 0xc0) == 64)
}

/// `192.0.2.99` → `99.2.0.192`.
pub(crate) fn reverse_ipv4(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("{d}.{c}.{b}.{a}")
}

/// The 32 nibbles of `ip`, least significant first, as lower-case hex separated by dots:
/// `2001:db8::1` → `1.0.0.0.….8.b.d.0.1.0.0.2`.
pub(crate) fn reverse_ipv6(ip: Ipv6Addr) -> String {
    let mut name = String::with_capacity(63);
    for byte in ip.octets().iter().rev() {
        if !name.is_empty() {
            name.push('.');
        }
        // Writing to a String cannot fail.
        let _ = write!(name, "{:x}.{:x}", byte & 0x0f, byte >> 4);
    }
    name
}

/// `prefix.zone`, or `None` if the result is too long to be asked.
pub(crate) fn query_name(prefix: &str, zone: &str) -> Option<String> {
    let name = format!("{prefix}.{zone}");
    (name.len() <= MAX_NAME_LEN).then_some(name)
}

/// A domain name as a block list is asked about it: lower-cased, without trailing dots,
/// every label 1 to 63 characters of letters, digits, `-` and `_`. Non-ASCII letters are
/// kept (the host's resolver IDNA-encodes them); `xn--` labels stay as they are. `None`
/// for anything that is not such a name: empty, IP addresses and address literals
/// (`[192.0.2.1]`, `192.0.2.1`, `3221225985`), or names with other characters.
pub(crate) fn normalize_domain(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.').to_lowercase();
    if name.is_empty() || name.len() > MAX_NAME_LEN || looks_like_ip(&name) {
        return None;
    }
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    });
    labels_ok.then_some(name)
}

/// The names to ask a domain list about for one normalized host: its registrable domain
/// by the Public Suffix List ([`registrable`]), then the host itself if it differs. Domain
/// lists such as Spamhaus DBL list registrable domains and do not wildcard, so the shorter
/// name is the one that usually hits. A host with no registrable domain (a public suffix
/// such as `co.uk`) is asked about as it is.
pub(crate) fn domain_candidates(name: &str) -> Vec<String> {
    let mut names = Vec::with_capacity(2);
    if let Some(registrable) = registrable(name).filter(|registrable| registrable != name) {
        names.push(registrable);
    }
    names.push(name.to_owned());
    names
}

/// The domain of an envelope sender (`user@Example.ORG` → `example.org`); `None` for the
/// null sender, an address without a domain, or an address literal (`user@[192.0.2.1]`).
pub(crate) fn sender_domain(mail_from: &str) -> Option<String> {
    let mail_from = mail_from
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (_, domain) = mail_from.rsplit_once('@')?;
    normalize_domain(domain)
}

/// The HELO/EHLO name as a domain name; `None` for address literals, bare IPs and
/// anything else that is not a domain name.
pub(crate) fn helo_domain(helo: &str) -> Option<String> {
    normalize_domain(helo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().expect("valid IPv6 address")
    }

    #[test]
    fn ipv4_is_reversed_by_octet() {
        // RFC 5782 §2.1 style: 192.0.2.99 is asked as 99.2.0.192.<zone>.
        assert_eq!(reverse_ipv4(Ipv4Addr::new(192, 0, 2, 99)), "99.2.0.192");
        // RFC 5782 §5 test entries: 127.0.0.2 listed, 127.0.0.1 not.
        assert_eq!(reverse_ipv4(Ipv4Addr::new(127, 0, 0, 2)), "2.0.0.127");
        assert_eq!(reverse_ipv4(Ipv4Addr::new(127, 0, 0, 1)), "1.0.0.127");
    }

    #[test]
    fn ipv6_is_reversed_by_nibble() {
        // RFC 5782 §2.4: 2001:db8:1:2:3:4:567:89ab.
        assert_eq!(
            reverse_ipv6(v6("2001:db8:1:2:3:4:567:89ab")),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
        // RFC 5782 §5 IPv6 test entry ::FFFF:7F00:2 (upper case in, lower case out).
        assert_eq!(
            reverse_ipv6(v6("::FFFF:7F00:2")),
            "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
        );
        let name = reverse_ipv6(v6("2001:db8:bad::1"));
        assert_eq!(name.len(), 63);
        assert!(name.ends_with(".d.a.b.0.8.b.d.0.1.0.0.2"));
    }

    #[test]
    fn reverse_ip_maps_v4_mapped_and_skips_unspecified() {
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().expect("valid");
        assert_eq!(reverse_ip(mapped).as_deref(), Some("7.100.51.198"));
        let plain: IpAddr = "2001:db8::1".parse().expect("valid");
        assert!(reverse_ip(plain).expect("v6").starts_with("1.0.0.0."));
        assert_eq!(reverse_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), None);
        assert_eq!(reverse_ip(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), None);
    }

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private(ip.parse().expect("valid")), "{ip}");
        }
        for ip in [
            "192.0.2.33",
            "198.51.100.7",
            "203.0.113.254",
            "100.128.0.1",
            "8.8.8.8",
            "2001:db8:bad::1",
            "::ffff:192.0.2.1",
        ] {
            assert!(!is_private(ip.parse().expect("valid")), "{ip}");
        }
    }

    #[test]
    fn query_names_respect_the_length_limit() {
        assert_eq!(
            query_name("2.0.0.127", "bl.moat.test").as_deref(),
            Some("2.0.0.127.bl.moat.test")
        );
        let long = "a".repeat(250);
        assert_eq!(query_name(&long, "bl.moat.test"), None);
    }

    #[test]
    fn domains_are_normalized() {
        assert_eq!(
            normalize_domain("Mail.Example.ORG.").as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(normalize_domain("TEST").as_deref(), Some("test"));
        assert_eq!(
            normalize_domain("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_domain("BÜCHER.example").as_deref(),
            Some("bücher.example")
        );
        assert_eq!(
            normalize_domain("_dmarc.example").as_deref(),
            Some("_dmarc.example")
        );
        for bad in [
            "",
            ".",
            "a..b",
            ".example",
            "exa mple.org",
            "ex/ample.org",
            "user@example.org",
            &format!("{}.org", "a".repeat(64)),
        ] {
            assert_eq!(normalize_domain(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ip_literals_are_not_domains() {
        for ip in [
            "192.0.2.1",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
            "2001:db8::1",
            "3221225985",
            "0xc0.0x00.0x02.0x01",
            "192.0.2.1.",
        ] {
            assert_eq!(normalize_domain(ip), None, "{ip}");
        }
        assert_eq!(
            normalize_domain("1.example.org").as_deref(),
            Some("1.example.org")
        );
    }

    #[test]
    fn candidates_put_the_registrable_domain_first() {
        assert_eq!(
            domain_candidates("www.spammer.example"),
            ["spammer.example", "www.spammer.example"]
        );
        assert_eq!(domain_candidates("spammer.example"), ["spammer.example"]);
        assert_eq!(
            domain_candidates("a.b.c.example.org"),
            ["example.org", "a.b.c.example.org"]
        );
        // Suffixes of more than one label, from the Public Suffix List.
        assert_eq!(
            domain_candidates("www.shop.co.uk"),
            ["shop.co.uk", "www.shop.co.uk"]
        );
        assert_eq!(
            domain_candidates("x.example.com.au"),
            ["example.com.au", "x.example.com.au"]
        );
        assert_eq!(
            domain_candidates("mail.example.gov.br"),
            ["example.gov.br", "mail.example.gov.br"]
        );
        // Three labels under a TLD, but `co.example` is not a suffix there.
        assert_eq!(
            domain_candidates("a.co.example"),
            ["co.example", "a.co.example"]
        );
    }

    #[test]
    fn names_without_a_registrable_domain_are_asked_as_they_are() {
        assert_eq!(domain_candidates("co.uk"), ["co.uk"]);
        assert_eq!(domain_candidates("test"), ["test"]);
    }

    #[test]
    fn sender_domains() {
        assert_eq!(
            sender_domain("user@Example.ORG").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            sender_domain("<\"odd@local\"@spammer.example>").as_deref(),
            Some("spammer.example")
        );
        assert_eq!(sender_domain(""), None);
        assert_eq!(sender_domain("postmaster"), None);
        assert_eq!(sender_domain("user@[192.0.2.1]"), None);
        assert_eq!(sender_domain("user@"), None);
    }

    #[test]
    fn helo_names() {
        assert_eq!(
            helo_domain("mx.Example.org").as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(helo_domain("[192.0.2.1]"), None);
        assert_eq!(helo_domain("192.0.2.1"), None);
        assert_eq!(helo_domain(""), None);
    }

    #[test]
    fn reserved_names_are_recognised() {
        for name in [
            "spammer.example",
            "bl.moat.test",
            "x.invalid",
            "localhost",
            "printer.local",
            "example.org",
            "mail.example.com.",
        ] {
            assert!(is_reserved_name(name), "{name}");
        }
        for name in ["example.de", "myexample.org", "spamhaus.org", "test.com"] {
            assert!(!is_reserved_name(name), "{name}");
        }
    }
}
