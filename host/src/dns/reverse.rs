//! Forward-confirmed reverse DNS: the client's PTR name, kept only when that name resolves
//! back to the client's address (as Postfix's `reverse_client_name` checks do), so a
//! filter never trusts a name the client's network owner merely claims.

use std::net::IpAddr;

use super::kind::RecordKind;
use super::resolver::Resolver;

/// PTR names tried at most, when a client has several.
const MAX_NAMES: usize = 3;

/// The client's verified reverse name (without the trailing dot), or `None`.
pub async fn verified_name(resolver: &Resolver, ip: IpAddr) -> Option<String> {
    let names = resolver
        .lookup(&ip.to_string(), RecordKind::Ptr)
        .await
        .ok()?;
    let kind = if ip.is_ipv4() {
        RecordKind::A
    } else {
        RecordKind::Aaaa
    };
    for name in names.into_iter().take(MAX_NAMES) {
        let Ok(addresses) = resolver.lookup(&name, kind).await else {
            continue;
        };
        if addresses
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|a| a == ip))
        {
            return Some(name.trim_end_matches('.').to_owned());
        }
    }
    None
}

/// Whether `ip` is a public address worth a reverse lookup: not loopback, private,
/// link-local, shared (CGNAT) or unspecified, whose PTR records no public DNS holds.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let shared = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || shared)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            let unique_local = (first & 0xfe00) == 0xfc00;
            let link_local = (first & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_public_addresses_are_looked_up() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.5",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.2.1", "8.8.8.8", "2001:db8::1", "::ffff:8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }
}
