//! Mail that would loop back to this very gateway: a route (or an MX record) naming one of
//! Moat's own listeners, or a next hop greeting with Moat's own name, would have Moat
//! deliver to itself, again and again. Such a delivery is deferred with "mail for … loops
//! back to myself", as Postfix does, and the operator fixes the route or the DNS.

use std::net::{IpAddr, SocketAddr, UdpSocket};

/// What gives this gateway away as a next hop: the addresses it listens on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Myself {
    listeners: Vec<SocketAddr>,
}

impl Myself {
    /// The gateway listening on `listeners` (as bound: a port-0 listener's real port).
    pub fn listening_on(listeners: Vec<SocketAddr>) -> Self {
        Self { listeners }
    }

    /// Whether connecting to `target` reaches one of our listeners: the same address and
    /// port, or the port of a listener on every address (`0.0.0.0`, `::`) at an address of
    /// this host.
    pub fn is_listening_on(&self, target: SocketAddr) -> bool {
        self.listeners.iter().any(|listener| {
            listener.port() == target.port()
                && (listener.ip() == target.ip()
                    || (listener.ip().is_unspecified() && is_local(target.ip())))
        })
    }
}

/// Whether `ip` is an address of this host: it can be bound to.
fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || UdpSocket::bind((ip, 0)).is_ok()
}

/// Whether a server's greeting or EHLO line (`text`, after the code) starts with our own
/// name `hostname`: the next hop is this gateway, or one configured with its name.
pub(super) fn names_me(text: &str, hostname: &str) -> bool {
    text.split_whitespace().next().is_some_and(|name| {
        name.trim_end_matches('.')
            .eq_ignore_ascii_case(hostname.trim_end_matches('.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_listeners_are_recognised_wherever_they_listen() {
        let myself = Myself::listening_on(vec![
            "127.0.0.1:2525".parse().unwrap(),
            "0.0.0.0:25".parse().unwrap(),
        ]);
        assert!(myself.is_listening_on("127.0.0.1:2525".parse().unwrap()));
        assert!(!myself.is_listening_on("127.0.0.1:2526".parse().unwrap()));
        assert!(
            myself.is_listening_on("127.0.0.2:25".parse().unwrap()),
            "all of 127/8 is ours"
        );
        assert!(
            !myself.is_listening_on("192.0.2.1:25".parse().unwrap()),
            "TEST-NET is not here"
        );
        assert!(!Myself::default().is_listening_on("127.0.0.1:25".parse().unwrap()));
    }

    #[test]
    fn a_greeting_with_our_name_is_us() {
        assert!(names_me("MX.Example.test ESMTP Moat", "mx.example.test"));
        assert!(names_me("mx.example.test. ready", "mx.example.test"));
        assert!(!names_me("mx2.example.test ESMTP", "mx.example.test"));
        assert!(!names_me("", "mx.example.test"));
    }
}
