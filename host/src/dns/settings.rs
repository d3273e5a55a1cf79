//! What the operator configures about the resolver (`[dns]` in the config file).

use std::net::SocketAddr;
use std::time::Duration;

/// How the shared resolver asks and caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// The recursive resolvers to ask, over UDP with TCP for truncated answers; any port.
    /// Empty: the system's configuration (`/etc/resolv.conf`, and the hosts file). With
    /// explicit nameservers the hosts file is not consulted, so the answers are exactly
    /// those servers'.
    pub nameservers: Vec<SocketAddr>,
    /// How long one try of one query may take.
    pub timeout: Duration,
    /// Tries per query (at least 1) before giving up; a lookup that gets no answer fails
    /// with a timeout after about `timeout × attempts`.
    pub attempts: usize,
    /// Answers kept in the shared cache (one entry per name and record kind).
    pub cache_size: usize,
    /// The longest a negative answer (NXDOMAIN, NODATA) is cached, whatever the zone's
    /// SOA says: a DNS block list that lists an address should be heard soon.
    pub negative_ttl_max: Duration,
}

impl Default for ResolverSettings {
    /// The system's nameservers, 2 s per try, 2 tries, 65,536 cached answers, negative
    /// answers cached for at most 5 minutes.
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(2),
            attempts: 2,
            cache_size: 65_536,
            negative_ttl_max: Duration::from_secs(300),
        }
    }
}
