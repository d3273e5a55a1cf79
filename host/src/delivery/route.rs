//! Where a recipient's mail goes: the configured route of its domain (the protected
//! server), or else the domain's MX hosts (`mx`). A [`Destination`] is what connections
//! are shared and limited by. The table in force is a [`LiveRoutes`], which a reload
//! replaces; a destination carries its route, so work already handed out finishes on it.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use super::client::VerifiedTls;
use super::host::{Host, RouteError, addresses};
use super::mx;
use crate::config::{AuthConfig, DeliveryConfig, TlsPolicy, split_host_port};
use crate::dns::Resolver;
use crate::domain::{Domain, split_address};

/// What connections are grouped by: one configured route, or the MX hosts of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A `[[delivery.route]]` of the table in force when it was chosen.
    Route(RouteRef),
    /// The MX hosts of this domain, in its one spelling (`crate::domain`: a lowercase
    /// A-label name, which the MX and address lookups ask for).
    Domain(String),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Route(route) => write!(f, "route[{}]", route.0.index),
            Self::Domain(domain) => write!(f, "mx:{domain}"),
        }
    }
}

/// One route of one table. Two are equal only when they are the same route of the same
/// table: after a reload, connections and queues of the old route are not reused for the
/// new one, even at the same position.
#[derive(Debug, Clone)]
pub struct RouteRef(Arc<Route>);

impl RouteRef {
    /// The route's position in `[[delivery.route]]`.
    pub fn index(&self) -> usize {
        self.0.index
    }
}

impl PartialEq for RouteRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RouteRef {}

impl Hash for RouteRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

/// How to reach a destination now: hosts in the order to try, and the TLS policy.
#[derive(Debug, Clone)]
pub struct Hops {
    /// Hosts in order (route order, or MX preference).
    pub hosts: Vec<Host>,
    /// STARTTLS policy.
    pub tls: TlsPolicy,
    /// The certificate checks of a `verify` route.
    pub verified: Option<VerifiedTls>,
    /// Credentials, for a route that has them.
    pub auth: Option<AuthConfig>,
}

/// A `verify` route whose trusted certificates cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delivery.route[{index}].tls_ca_file: {reason}")]
pub struct RouteTableError {
    /// The route's number.
    pub index: usize,
    /// What is wrong with the file.
    pub reason: String,
}

/// A configured route. Equal routes (same position, servers, TLS and credentials) are
/// the same destination across a reload.
#[derive(Debug, PartialEq, Eq)]
struct Route {
    /// Its position in `[[delivery.route]]`.
    index: usize,
    servers: Vec<(String, u16)>,
    tls: TlsPolicy,
    verified: Option<VerifiedTls>,
    auth: Option<AuthConfig>,
}

/// The routes of `[delivery]`, by domain.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Arc<Route>>,
    by_domain: HashMap<Domain, usize>,
    mx_port: u16,
}

impl RouteTable {
    /// The table of `config` (validated: every server is host:port). Fails when a
    /// `verify` route's certificates cannot be read (changed since the config was checked).
    pub fn from_config(config: &DeliveryConfig) -> Result<Self, RouteTableError> {
        let mut by_domain = HashMap::new();
        let mut routes = Vec::with_capacity(config.route.len());
        for (index, route) in config.route.iter().enumerate() {
            // Validated at load: a domain that does not normalize is a configuration
            // problem, and could match no recipient anyway.
            for domain in route
                .domains
                .iter()
                .filter_map(|d| Domain::parse_name(d).ok())
            {
                by_domain.insert(domain, index);
            }
            let verified = match (&route.tls, &route.tls_ca_file) {
                (TlsPolicy::Verify, Some(file)) => Some(
                    VerifiedTls::new(file, route.tls_server_name.clone())
                        .map_err(|reason| RouteTableError { index, reason })?,
                ),
                _ => None,
            };
            routes.push(Arc::new(Route {
                index,
                servers: route
                    .servers
                    .iter()
                    .filter_map(|s| split_host_port(s))
                    .collect(),
                tls: route.tls,
                verified,
                auth: route.auth.clone(),
            }));
        }
        Ok(Self {
            routes,
            by_domain,
            mx_port: config.mx_port,
        })
    }

    /// The destination of `recipient`: by its domain (after the last `@`) in its one
    /// spelling (`crate::domain`), the spelling relay control accepted it by, so a
    /// protected domain takes its route however the client wrote it. A domain that does
    /// not normalize (only a recipient queued before recipients were normalized at RCPT
    /// can have one) goes to MX as written, lower-cased, where it finds no host.
    pub fn destination(&self, recipient: &str) -> Destination {
        let written = split_address(recipient).map_or(recipient, |(_, domain)| domain);
        let Ok(domain) = Domain::parse(written) else {
            return Destination::Domain(written.trim_end_matches('.').to_ascii_lowercase());
        };
        match self
            .by_domain
            .get(&domain)
            .and_then(|&i| self.routes.get(i))
        {
            Some(route) => Destination::Route(RouteRef(Arc::clone(route))),
            None => Destination::Domain(domain.to_string()),
        }
    }

    /// The hosts to try for `destination` now.
    pub async fn hops(
        &self,
        destination: &Destination,
        resolver: Option<&Resolver>,
    ) -> Result<Hops, RouteError> {
        match destination {
            Destination::Route(RouteRef(route)) => {
                let mut hosts = Vec::new();
                let mut failures = Vec::new();
                for (host, port) in &route.servers {
                    match addresses(resolver, host, *port).await {
                        Ok(addresses) => hosts.push(Host {
                            name: host.clone(),
                            addresses,
                        }),
                        Err(error) => failures.push(format!("{host}: {error}")),
                    }
                }
                if hosts.is_empty() {
                    // A protected server that cannot be found is a local problem: retry.
                    return Err(RouteError::Temporary {
                        destination: destination.to_string(),
                        reason: failures.join("; "),
                    });
                }
                Ok(Hops {
                    hosts,
                    tls: route.tls,
                    verified: route.verified.clone(),
                    auth: route.auth.clone(),
                })
            }
            Destination::Domain(domain) => Ok(Hops {
                hosts: mx::hosts(resolver, domain, self.mx_port).await?,
                tls: TlsPolicy::Opportunistic,
                verified: None,
                auth: None,
            }),
        }
    }
}

/// The route table in force. A reload replaces it whole; destinations chosen before keep
/// their route, so queued jobs finish on the servers they were sent to.
#[derive(Debug)]
pub struct LiveRoutes {
    table: RwLock<Arc<RouteTable>>,
}

impl LiveRoutes {
    /// `table` in force.
    pub fn new(table: RouteTable) -> Self {
        Self {
            table: RwLock::new(Arc::new(table)),
        }
    }

    /// The table in force now.
    pub fn current(&self) -> Arc<RouteTable> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `table` in force for the destinations chosen from now on, and says how many
    /// routes changed. A route equal to the one in force at its position stays that
    /// destination, with its open connections and what is known of its reachability.
    pub fn replace(&self, mut table: RouteTable) -> usize {
        let mut current = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let mut changed = current.routes.len().saturating_sub(table.routes.len());
        for (index, route) in table.routes.iter_mut().enumerate() {
            match current.routes.get(index) {
                Some(old) if old == route => *route = Arc::clone(old),
                _ => changed += 1,
            }
        }
        *current = Arc::new(table);
        changed
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::config::RouteConfig;

    fn table() -> RouteTable {
        RouteTable::from_config(&DeliveryConfig {
            route: vec![RouteConfig {
                domains: vec!["Example.TEST".into(), "localhost".into()],
                servers: vec!["127.0.0.1:2526".into(), "[::1]:2527".into()],
                tls: TlsPolicy::Required,
                tls_ca_file: None,
                tls_server_name: None,
                auth: None,
            }],
            ..DeliveryConfig::default()
        })
        .expect("no certificates to read")
    }

    #[test]
    fn protected_domains_take_their_route_and_others_go_by_mx() {
        let table = table();
        let route = table.destination("bob@example.test");
        assert!(matches!(&route, Destination::Route(r) if r.index() == 0));
        assert_eq!(table.destination("Bob@EXAMPLE.test."), route);
        assert_eq!(table.destination("root@localhost"), route);
        assert_eq!(
            table.destination("alice@Example.ORG"),
            Destination::Domain("example.org".into())
        );
    }

    #[test]
    fn every_spelling_of_a_routed_domain_takes_its_route_and_mx_gets_a_labels() {
        let table = RouteTable::from_config(&DeliveryConfig {
            route: vec![RouteConfig {
                domains: vec!["bank.test".into(), "B\u{DC}CHER.test.".into()],
                servers: vec!["127.0.0.1:2526".into()],
                tls: TlsPolicy::None,
                tls_ca_file: None,
                tls_server_name: None,
                auth: None,
            }],
            ..DeliveryConfig::default()
        })
        .unwrap();
        let route = table.destination("info@bank.test");
        assert!(matches!(&route, Destination::Route(_)));
        for recipient in [
            "info@ban\u{212A}.test",
            "info@\u{FF42}\u{FF41}\u{FF4E}\u{FF4B}\u{FF0E}test",
            "info@bank\u{3002}test",
            "\"a@b\"@BANK.test",
            "info@b\u{FC}cher.test",
            "info@bu\u{308}cher.test",
            "info@XN--BCHER-KVA.test",
        ] {
            assert_eq!(table.destination(recipient), route, "{recipient}");
        }
        assert_eq!(
            table.destination("info@B\u{DC}cher.example"),
            Destination::Domain("xn--bcher-kva.example".into())
        );
        assert_eq!(
            table.destination("info@stra\u{DF}e.test"),
            Destination::Domain("xn--strae-oqa.test".into())
        );
    }

    #[tokio::test]
    async fn a_replaced_table_gives_new_destinations_and_old_ones_keep_their_servers() {
        let live = LiveRoutes::new(table());
        let before = live.current().destination("bob@example.test");
        let mut config = DeliveryConfig::default();
        config.route.push(RouteConfig {
            domains: vec!["example.test".into()],
            servers: vec!["127.0.0.1:2600".into()],
            tls: TlsPolicy::None,
            tls_ca_file: None,
            tls_server_name: None,
            auth: None,
        });
        assert_eq!(live.replace(RouteTable::from_config(&config).unwrap()), 1);
        let after = live.current().destination("bob@example.test");
        assert_ne!(before, after, "same position, another route");
        let servers = |hops: Hops| -> Vec<String> {
            hops.hosts
                .iter()
                .flat_map(|h| h.addresses.iter().map(ToString::to_string))
                .collect()
        };
        let old = live.current().hops(&before, None).await.unwrap();
        assert_eq!(servers(old), ["127.0.0.1:2526", "[::1]:2527"]);
        let new = live.current().hops(&after, None).await.unwrap();
        assert_eq!(servers(new), ["127.0.0.1:2600"]);
    }

    #[test]
    fn an_unchanged_route_stays_the_same_destination_across_a_replace() {
        let live = LiveRoutes::new(table());
        let before = live.current().destination("bob@example.test");
        assert_eq!(live.replace(table()), 0);
        assert_eq!(live.current().destination("bob@example.test"), before);

        let mut config = DeliveryConfig::default();
        config.route.push(RouteConfig {
            domains: vec!["example.test".into()],
            servers: vec!["127.0.0.1:2526".into(), "[::1]:2527".into()],
            tls: TlsPolicy::Opportunistic,
            tls_ca_file: None,
            tls_server_name: None,
            auth: None,
        });
        assert_eq!(live.replace(RouteTable::from_config(&config).unwrap()), 1);
        assert_ne!(
            live.current().destination("bob@example.test"),
            before,
            "another TLS policy is another route"
        );
        assert_eq!(live.replace(RouteTable::from_config(&config).unwrap()), 0);
        assert_eq!(
            live.replace(RouteTable::from_config(&DeliveryConfig::default()).unwrap()),
            1
        );
    }

    #[tokio::test]
    async fn route_servers_given_as_addresses_need_no_lookup() {
        // Nothing listens on port 9: a lookup would fail, so none may be made.
        let resolver = Resolver::new(&crate::dns::ResolverSettings {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 9))],
            ..crate::dns::ResolverSettings::default()
        })
        .unwrap();
        let table = table();
        let hops = table
            .hops(&table.destination("bob@example.test"), Some(&resolver))
            .await
            .unwrap();
        assert_eq!(hops.tls, TlsPolicy::Required);
        let addresses: Vec<String> = hops
            .hosts
            .iter()
            .flat_map(|h| h.addresses.iter().map(ToString::to_string))
            .collect();
        assert_eq!(addresses, ["127.0.0.1:2526", "[::1]:2527"]);
    }
}
