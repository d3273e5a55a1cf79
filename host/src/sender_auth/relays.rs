//! `[relay] trusted_relays`: the networks whose `Received` fields are believed, as
//! SpamAssassin's `trusted_networks`. Mail that reaches Moat through one of them (a relay
//! in front of it, a backup MX that forwards) is judged by the first hop outside them, so
//! SPF sees the host that really handed the message in.

use std::net::IpAddr;

use crate::message::ReceivedHop;

/// One network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

/// Why a `trusted_relays` entry is not a network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is not an address or a network such as 192.0.2.0/24 or 2001:db8::/32")]
pub struct NetworkError {
    /// The entry as written.
    pub entry: String,
}

impl Network {
    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a single address.
    pub fn parse(entry: &str) -> Result<Self, NetworkError> {
        let error = || NetworkError {
            entry: entry.to_owned(),
        };
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let address: IpAddr = address.trim().parse().map_err(|_| error())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(error)?,
            None => max,
        };
        Ok(Self { address, prefix })
    }

    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 @ IpAddr::V4(_) => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_matches(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_matches(net: &[u8], ip: &[u8], prefix: u8) -> bool {
    let whole = usize::from(prefix / 8);
    let rest = prefix % 8;
    if net[..whole] != ip[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        net[whole] & mask == ip[whole] & mask
    }
}

/// The trusted relays, and the search for the first hop outside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedRelays {
    networks: Vec<Network>,
}

/// The host sender authentication judges: its address and greeting name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Its address.
    pub ip: IpAddr,
    /// The name it greeted with, if known.
    pub helo: Option<String>,
    /// Its reverse name, as the hop that received from it recorded it.
    pub reverse_dns: Option<String>,
}

impl TrustedRelays {
    /// The relays of `entries`, each an address or a network.
    pub fn parse(entries: &[String]) -> Result<Self, NetworkError> {
        let networks = entries
            .iter()
            .map(|e| Network::parse(e))
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    /// Whether `ip` is a trusted relay.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(ip))
    }

    /// Where a message a trusted relay handed in came from, reading its `Received`
    /// fields from the newest (the one that relay added) down. A field without a `from`
    /// clause (qmail's `invoked by uid 82`) records a step inside a relay, not a hop, and
    /// is passed over, as SpamAssassin does; any other field without an address leaves
    /// the origin unknown, so a client cannot hide the relay's record of it behind a
    /// greeting the parser cannot read.
    pub fn path(&self, hops: &[ReceivedHop]) -> Path {
        for hop in hops {
            let Some(ip) = hop.ip else {
                if hop.local_step {
                    continue;
                }
                return Path::Unreadable;
            };
            if !self.trusts(ip) {
                return Path::From(Origin {
                    ip,
                    helo: hop.helo.clone(),
                    reverse_dns: hop.reverse_dns.clone(),
                });
            }
        }
        if hops.is_empty() {
            Path::Unreadable
        } else {
            Path::Inside
        }
    }
}

/// Where a message handed in by a trusted relay came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// The first host outside the trusted relays.
    From(Origin),
    /// Every hop is a trusted relay: the message began inside.
    Inside,
    /// A `Received` field along the way names no sending address (or there is none), so
    /// the origin is unknown.
    Unreadable,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relays(entries: &[&str]) -> TrustedRelays {
        TrustedRelays::parse(&entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>()).unwrap()
    }

    fn hop(ip: &str, helo: &str) -> ReceivedHop {
        ReceivedHop {
            ip: Some(ip.parse().unwrap()),
            helo: Some(helo.to_owned()),
            ..ReceivedHop::default()
        }
    }

    #[test]
    fn networks_match_by_prefix() {
        let r = relays(&["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "172.16.0.0/12"]);
        assert!(r.trusts("10.200.1.1".parse().unwrap()));
        assert!(r.trusts("192.0.2.7".parse().unwrap()));
        assert!(!r.trusts("192.0.2.8".parse().unwrap()));
        assert!(r.trusts("2001:db8:1::5".parse().unwrap()));
        assert!(r.trusts("172.31.255.255".parse().unwrap()));
        assert!(!r.trusts("172.32.0.0".parse().unwrap()));
        assert!(r.trusts("::ffff:10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in ["10.0.0.0/33", "example.org", "10.0.0.0/x", "::/129"] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_first_hop_outside_the_relays_is_the_origin() {
        let r = relays(&["10.0.0.0/8"]);
        let hops = [
            hop("10.0.0.2", "inner.relay"),
            hop("198.51.100.9", "mail.sender.example"),
            hop("203.0.113.1", "earlier.example"),
        ];
        assert_eq!(
            r.path(&hops),
            Path::From(Origin {
                ip: "198.51.100.9".parse().unwrap(),
                helo: Some("mail.sender.example".into()),
                reverse_dns: None,
            })
        );
    }

    #[test]
    fn an_all_trusted_path_began_inside_and_a_field_without_an_address_is_unreadable() {
        let r = relays(&["10.0.0.0/8"]);
        assert_eq!(r.path(&[hop("10.0.0.2", "a")]), Path::Inside);
        let named_without_address = ReceivedHop {
            helo: Some("mail.sender.example".into()),
            ..ReceivedHop::default()
        };
        assert_eq!(
            r.path(&[named_without_address, hop("198.51.100.9", "x")]),
            Path::Unreadable
        );
        assert_eq!(r.path(&[]), Path::Unreadable);
    }

    #[test]
    fn a_local_step_is_passed_over_and_an_unread_hop_is_not() {
        // qmail's `(qmail 15060 invoked by uid 82)`: a hand-off inside the relay.
        let r = relays(&["10.0.0.0/8"]);
        let local = ReceivedHop {
            local_step: true,
            ..ReceivedHop::default()
        };
        let origin = r.path(&[
            hop("10.0.0.2", "inner.relay"),
            local,
            hop("198.51.100.9", "mail.sender.example"),
        ]);
        assert!(
            matches!(&origin, Path::From(o) if o.ip.to_string() == "198.51.100.9"),
            "{origin:?}"
        );
        // A `from` field the parser could not read (a client greeting with `;`) hides
        // what the relay recorded: the forged field below it must not become the origin.
        let unread = r.path(&[
            hop("10.0.0.2", "inner.relay"),
            ReceivedHop::default(),
            hop("64.4.250.1", "mail.paypal.example"),
        ]);
        assert_eq!(unread, Path::Unreadable);
    }
}
