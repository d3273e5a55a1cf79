//! The subjects whose history is kept — client IP, its network, envelope sender domain,
//! HELO name — and their kv keys.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use moat_sdk::Session;

/// The longest subject value kept (a DNS name has at most 253 characters); longer HELO
/// names or domains are junk and not worth a key.
pub(crate) const MAX_VALUE_LEN: usize = 255;

/// What kind of subject a history belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The client's IP address.
    Ip,
    /// The client's network: /24 for IPv4, /64 for IPv6.
    Net,
    /// The domain of the envelope sender.
    SenderDomain,
    /// The name the client gave in EHLO/HELO.
    Helo,
}

impl Kind {
    /// The kv key prefix, before the `:`.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Self::Ip => "ip",
            Self::Net => "net",
            Self::SenderDomain => "dom",
            Self::Helo => "helo",
        }
    }

    /// The symbol reporting this kind of subject's reputation.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Ip => "REPUTATION_IP",
            Self::Net => "REPUTATION_NET",
            Self::SenderDomain => "REPUTATION_SENDER_DOMAIN",
            Self::Helo => "REPUTATION_HELO",
        }
    }
}

/// One subject: a kind and its normalised value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subject {
    /// What it is.
    pub(crate) kind: Kind,
    /// The normalised value, e.g. `192.0.2.0/24` or `example.org`.
    pub(crate) value: String,
}

impl Subject {
    /// The kv key of its history, e.g. `net:192.0.2.0/24`.
    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.kind.prefix(), self.value)
    }
}

/// The address as tracked: IPv4-mapped IPv6 addresses count as their IPv4 address; the
/// unspecified address (which only a host bug would send) is not tracked.
pub(crate) fn canonical_ip(ip: IpAddr) -> Option<IpAddr> {
    let ip = ip.to_canonical();
    (!ip.is_unspecified()).then_some(ip)
}

/// The client IP as a subject.
pub(crate) fn ip(ip: IpAddr) -> Option<Subject> {
    Some(Subject {
        kind: Kind::Ip,
        value: canonical_ip(ip)?.to_string(),
    })
}

/// The client's network as a subject: `a.b.c.0/24` or the `/64` prefix of an IPv6 address.
pub(crate) fn net(ip: IpAddr) -> Option<Subject> {
    let value = match canonical_ip(ip)? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{}/24", Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1_u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    };
    Some(Subject {
        kind: Kind::Net,
        value,
    })
}

/// A host or domain name as kept: trimmed, lower case, without a trailing dot; `None` when
/// empty, too long, or holding blanks or control characters.
fn name(raw: &str) -> Option<String> {
    let name = raw.trim().trim_end_matches('.').to_lowercase();
    let plausible = !name.is_empty()
        && name.len() <= MAX_VALUE_LEN
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then_some(name)
}

/// The envelope sender's domain as a subject; `None` for the null sender (`<>`) and for
/// a reverse path without a domain.
pub(crate) fn sender_domain(mail_from: &str) -> Option<Subject> {
    let (_, domain) = mail_from.trim().rsplit_once('@')?;
    Some(Subject {
        kind: Kind::SenderDomain,
        value: name(domain)?,
    })
}

/// The HELO name as a subject.
pub(crate) fn helo(helo: &str) -> Option<Subject> {
    Some(Subject {
        kind: Kind::Helo,
        value: name(helo)?,
    })
}

/// Every subject the session knows of, in the order ip, net, sender domain, HELO.
pub(crate) fn of_session(session: &Session) -> Vec<Subject> {
    [
        ip(session.client.ip),
        net(session.client.ip),
        session
            .envelope
            .mail_from
            .as_deref()
            .and_then(sender_domain),
        session.client.helo.as_deref().and_then(helo),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use moat_sdk::{ClientInfo, Envelope};

    use super::*;

    fn addr(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_keys() {
        assert_eq!(ip(addr("192.0.2.1")).unwrap().key(), "ip:192.0.2.1");
        assert_eq!(net(addr("192.0.2.1")).unwrap().key(), "net:192.0.2.0/24");
        assert_eq!(net(addr("192.0.2.255")).unwrap().key(), "net:192.0.2.0/24");
        assert_eq!(net(addr("10.1.200.7")).unwrap().value, "10.1.200.0/24");
    }

    #[test]
    fn ipv6_keys() {
        let client = addr("2001:DB8:1:2:3:4:5:6");
        assert_eq!(ip(client).unwrap().key(), "ip:2001:db8:1:2:3:4:5:6");
        assert_eq!(net(client).unwrap().key(), "net:2001:db8:1:2::/64");
        assert_eq!(net(addr("2001:db8::1")).unwrap().value, "2001:db8::/64");
        assert_eq!(
            net(addr("2001:db8:0:0:ffff::1")).unwrap().value,
            "2001:db8::/64"
        );
    }

    #[test]
    fn ipv4_mapped_counts_as_ipv4() {
        let mapped = addr("::ffff:192.0.2.9");
        assert_eq!(ip(mapped).unwrap().value, "192.0.2.9");
        assert_eq!(net(mapped).unwrap().value, "192.0.2.0/24");
    }

    #[test]
    fn unspecified_is_not_tracked() {
        assert_eq!(ip(addr("0.0.0.0")), None);
        assert_eq!(net(addr("::")), None);
    }

    #[test]
    fn sender_domains() {
        let key = |from: &str| sender_domain(from).map(|s| s.key());
        assert_eq!(key("alice@Example.ORG"), Some("dom:example.org".to_owned()));
        assert_eq!(
            key("bounce@example.org."),
            Some("dom:example.org".to_owned())
        );
        assert_eq!(
            key("\"odd@local\"@mail.example.net"),
            Some("dom:mail.example.net".to_owned())
        );
        assert_eq!(key(""), None, "the null sender is skipped");
        assert_eq!(key("postmaster"), None);
        assert_eq!(key("alice@"), None);
        assert_eq!(key("alice@exa mple.org"), None);
        assert_eq!(key(&format!("a@{}", "x".repeat(300))), None);
    }

    #[test]
    fn helo_names() {
        assert_eq!(
            helo("MX.Example.org.").unwrap().key(),
            "helo:mx.example.org"
        );
        assert_eq!(helo("[192.0.2.1]").unwrap().value, "[192.0.2.1]");
        assert_eq!(helo(""), None);
        assert_eq!(helo("  "), None);
        assert_eq!(helo("a\u{0}b"), None);
    }

    #[test]
    fn session_subjects() {
        let mut session = Session {
            client: ClientInfo {
                ip: addr("192.0.2.1"),
                ..ClientInfo::default()
            },
            ..Session::default()
        };
        let keys = |session: &Session| -> Vec<String> {
            of_session(session).iter().map(Subject::key).collect()
        };
        assert_eq!(keys(&session), ["ip:192.0.2.1", "net:192.0.2.0/24"]);

        session.client.helo = Some("mx.example.org".to_owned());
        session.envelope = Envelope {
            mail_from: Some(String::new()),
            rcpt_to: vec![],
        };
        assert_eq!(
            keys(&session),
            ["ip:192.0.2.1", "net:192.0.2.0/24", "helo:mx.example.org"]
        );

        session.envelope.mail_from = Some("a@example.org".to_owned());
        assert_eq!(
            keys(&session),
            [
                "ip:192.0.2.1",
                "net:192.0.2.0/24",
                "dom:example.org",
                "helo:mx.example.org"
            ]
        );
    }

    #[test]
    fn symbol_names_are_valid() {
        for kind in [Kind::Ip, Kind::Net, Kind::SenderDomain, Kind::Helo] {
            assert!(moat_sdk::Symbol::is_valid_name(kind.symbol()));
        }
    }
}
