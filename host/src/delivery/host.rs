//! A next hop's hosts: [`Host`], a name with its addresses; the address lookup that finds
//! them (an IP address as written, else A then AAAA records); and [`RouteError`], why no
//! host could be found. Shared by `route` (a route's configured servers) and `mx` (a
//! domain's MX hosts), neither of which it knows.

use std::net::{IpAddr, SocketAddr};

use crate::dns::{LookupError, RecordKind, Resolver};

/// One host to try, with its addresses in the order to try them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its name (or address as text), for EHLO logs, SNI and error texts.
    pub name: String,
    /// Where to connect.
    pub addresses: Vec<SocketAddr>,
}

/// Why no host could be found for a destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// DNS failed or timed out: try again later.
    #[error("451 4.4.3 cannot find where to deliver for {destination}: {reason}")]
    Temporary {
        /// The destination.
        destination: String,
        /// What failed.
        reason: String,
    },
    /// The domain does not accept mail, or does not exist: bounce.
    #[error("{reply}")]
    Permanent {
        /// A reply in SMTP form (`556 5.1.10 …`, `550 5.1.2 …`), for the bounce.
        reply: String,
    },
}

impl RouteError {
    /// Whether the recipients fail for good.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent { .. })
    }
}

/// The addresses of `host` (an IP address, or a name with A then AAAA records) at `port`.
pub(super) async fn addresses(
    resolver: Option<&Resolver>,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, LookupError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let Some(resolver) = resolver else {
        return Err(LookupError::ServerFailure);
    };
    let (v4, v6) = tokio::join!(
        resolver.lookup(host, RecordKind::A),
        resolver.lookup(host, RecordKind::Aaaa)
    );
    let mut found = Vec::new();
    for answers in [&v4, &v6].into_iter().flatten() {
        found.extend(
            answers
                .iter()
                .filter_map(|a| a.parse::<IpAddr>().ok())
                .map(|ip| SocketAddr::new(ip, port)),
        );
    }
    if !found.is_empty() {
        return Ok(found);
    }
    // Both failed or were empty: a temporary failure of either outweighs "not found".
    match (v4, v6) {
        (Err(error), _) | (_, Err(error)) if error != LookupError::NotFound => Err(error),
        _ => Err(LookupError::NotFound),
    }
}
