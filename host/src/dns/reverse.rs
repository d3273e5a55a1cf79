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
    use std::net::{Ipv4Addr, UdpSocket};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
    use hickory_resolver::proto::rr::rdata::{A, PTR};
    use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

    use super::{is_public, verified_name};
    use crate::dns::{Resolver, ResolverSettings};

    /// A tiny authoritative server on loopback: PTR 192.0.2.1 → mail.example.net (which
    /// resolves back to 192.0.2.1) and PTR 192.0.2.2 → forged.example.net (which does
    /// not); everything else NXDOMAIN. Stops when the flag is dropped to false.
    fn fake_server(running: Arc<AtomicBool>) -> std::net::SocketAddr {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while running.load(Ordering::Relaxed) {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(question) = query.queries.first().cloned() else {
                    continue;
                };
                let name = question.name().to_ascii().to_lowercase();
                let rdata = match (name.as_str(), question.query_type()) {
                    ("1.2.0.192.in-addr.arpa.", RecordType::PTR) => Some(RData::PTR(PTR(
                        Name::from_ascii("mail.example.net.").unwrap(),
                    ))),
                    ("2.2.0.192.in-addr.arpa.", RecordType::PTR) => Some(RData::PTR(PTR(
                        Name::from_ascii("forged.example.net.").unwrap(),
                    ))),
                    ("mail.example.net.", RecordType::A) => {
                        Some(RData::A(A(Ipv4Addr::new(192, 0, 2, 1))))
                    }
                    ("forged.example.net.", RecordType::A) => {
                        Some(RData::A(A(Ipv4Addr::new(192, 0, 2, 99))))
                    }
                    _ => None,
                };
                let mut reply = Message::response(query.metadata.id, OpCode::Query);
                reply.metadata.recursion_available = true;
                reply.add_query(question.clone());
                match rdata {
                    Some(rdata) => {
                        reply.add_answer(Record::from_rdata(question.name().clone(), 60, rdata));
                    }
                    None => reply.metadata.response_code = ResponseCode::NXDomain,
                }
                if let Ok(bytes) = reply.to_vec() {
                    let _ = socket.send_to(&bytes, from);
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn only_a_name_that_resolves_back_is_kept() {
        let running = Arc::new(AtomicBool::new(true));
        let server = fake_server(running.clone());
        let settings = ResolverSettings {
            nameservers: vec![server],
            timeout: Duration::from_secs(1),
            attempts: 1,
            ..ResolverSettings::default()
        };
        let resolver = Resolver::new(&settings).unwrap();
        let verified = verified_name(&resolver, "192.0.2.1".parse().unwrap()).await;
        let forged = verified_name(&resolver, "192.0.2.2".parse().unwrap()).await;
        let missing = verified_name(&resolver, "192.0.2.3".parse().unwrap()).await;
        running.store(false, Ordering::Relaxed);
        assert_eq!(verified.as_deref(), Some("mail.example.net"));
        assert_eq!(forged, None, "the PTR name does not resolve back");
        assert_eq!(missing, None, "no PTR record");
    }

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
