//! [`Resolver`]: the process's one caching, time-bounded DNS resolver.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::MessageAuthenticator;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use super::cache::{AnswerCache, negative_lifetime};
use super::error::{DnsSetupError, LookupError, classify, negative_ttl};
use super::kind::RecordKind;
use super::name::query_name;
use super::settings::ResolverSettings;

/// Added to `timeout × attempts` for the guard around a whole lookup, so that hickory's
/// own timeout normally answers first and the guard only catches what it misses.
const GUARD_MARGIN: Duration = Duration::from_millis(250);

/// The most questions of one [`Resolver::lookup_all`] in flight at once: enough to ask a
/// dozen block lists in parallel, few enough that one plugin's batch cannot flood the
/// nameservers or exhaust a connection's in-flight limit.
const MAX_CONCURRENT_QUESTIONS: usize = 32;

/// The gateway's shared DNS resolver: caching (TTL honoured, negative answers too) and
/// bounded in time. Clones are cheap and share one cache and one set of connections.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: TokioResolver,
    /// Sender authentication's checks, on `resolver`.
    authenticator: MessageAuthenticator,
    /// The bound on one whole lookup: `timeout × attempts + GUARD_MARGIN`.
    guard: Duration,
    /// Formatted answers by name and kind, in front of hickory's cache.
    cache: AnswerCache,
    /// The longest a negative answer is kept.
    negative_ttl_max: Duration,
}

impl Resolver {
    /// Builds the resolver from `settings`: the nameservers given (any port, UDP with TCP
    /// for truncated answers), or the system's configuration when there are none.
    ///
    /// Needs no runtime to build; lookups must run inside a Tokio runtime.
    pub fn new(settings: &ResolverSettings) -> Result<Self, DnsSetupError> {
        if settings.timeout.is_zero() {
            return Err(DnsSetupError::ZeroTimeout {
                timeout: settings.timeout,
            });
        }
        if settings.attempts == 0 {
            return Err(DnsSetupError::ZeroAttempts {
                attempts: settings.attempts,
            });
        }

        let (config, mut options) = if settings.nameservers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|source| DnsSetupError::SystemConfig { source })?
        } else {
            let servers = settings
                .nameservers
                .iter()
                .copied()
                .map(name_server)
                .collect();
            let mut options = ResolverOpts::default();
            options.use_hosts_file = ResolveHosts::Never;
            (ResolverConfig::from_name_servers(servers), options)
        };
        apply(settings, &mut options);
        // One hickory resolver (one cache, one set of connections) for our lookups and
        // for sender authentication's: mail-auth builds it, and we share its handle.
        let authenticator = MessageAuthenticator::new(config, options)
            .map_err(|source| DnsSetupError::Build { source })?
            .with_max_negative_ttl(settings.negative_ttl_max);
        let resolver = authenticator.resolver().clone();

        let guard = settings
            .timeout
            .saturating_mul(u32::try_from(settings.attempts).unwrap_or(u32::MAX))
            .saturating_add(GUARD_MARGIN);
        debug!(
            nameservers = ?settings.nameservers,
            timeout = ?settings.timeout,
            attempts = settings.attempts,
            cache_size = settings.cache_size,
            "dns resolver ready"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                resolver,
                authenticator,
                guard,
                cache: AnswerCache::new(settings.cache_size),
                negative_ttl_max: settings.negative_ttl_max,
            }),
        })
    }

    /// SPF, DKIM, DMARC and ARC checks (mail-auth) on this resolver's connections and
    /// cache.
    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.inner.authenticator
    }

    /// Lookups answered from the answer cache, and not.
    pub fn cache_counts(&self) -> (u64, u64) {
        self.inner.cache.counts()
    }

    /// Registers the answer cache's hits and misses in `registry`, read at each scrape.
    pub fn register_metrics(&self, registry: &crate::metrics::Registry) {
        let resolver = self.clone();
        registry.collect(move |out| {
            let name = "moat_dns_cache_lookups_total";
            let (hits, misses) = resolver.cache_counts();
            out.family(
                name,
                "counter",
                "DNS lookups by whether the answer cache had them.",
            );
            out.sample(name, &[("result", "hit")], hits);
            out.sample(name, &[("result", "miss")], misses);
        });
    }

    /// Looks up one question. `name` is a domain name (a trailing dot is optional; it is
    /// always taken as fully qualified) or, for [`RecordKind::Ptr`], an IP address. The
    /// answers are formatted as [`RecordKind`] describes; an answer with no record of the
    /// kind asked is [`LookupError::NotFound`].
    pub async fn lookup(&self, name: &str, kind: RecordKind) -> Result<Vec<String>, LookupError> {
        let key = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(cached) = self.inner.cache.get(&key, kind, Instant::now()) {
            return cached;
        }
        let query = query_name(name, kind)?;
        let asked = self.inner.resolver.lookup(query, kind.record_type());
        let answer = tokio::time::timeout(self.inner.guard, asked).await;
        let now = Instant::now();
        match answer {
            Err(_elapsed) => {
                debug!(name, %kind, guard = ?self.inner.guard, "dns lookup cut off by the guard");
                Err(LookupError::Timeout)
            }
            Ok(Err(error)) => {
                let outcome = classify(&error);
                debug!(name, %kind, %error, ?outcome, "dns lookup failed");
                let lifetime = negative_lifetime(negative_ttl(&error), self.inner.negative_ttl_max);
                if let Some(lifetime) = lifetime.filter(|_| outcome == LookupError::NotFound) {
                    self.inner
                        .cache
                        .put(&key, kind, Err(outcome), now + lifetime, now);
                }
                Err(outcome)
            }
            Ok(Ok(lookup)) => {
                let answers = kind.format_answers(lookup.answers());
                let answer = if answers.is_empty() {
                    Err(LookupError::NotFound)
                } else {
                    Ok(answers)
                };
                self.inner
                    .cache
                    .put(&key, kind, answer.clone(), lookup.valid_until(), now);
                answer
            }
        }
    }

    /// Looks up many questions concurrently (at most 32 in flight); the results are in the
    /// order of the questions. Use it to query several block lists in parallel.
    pub async fn lookup_all(
        &self,
        questions: &[(String, RecordKind)],
    ) -> Vec<Result<Vec<String>, LookupError>> {
        let mut results = vec![Err(LookupError::ServerFailure); questions.len()];
        let now = Instant::now();
        let mut misses = Vec::new();
        for (index, (name, kind)) in questions.iter().enumerate() {
            let key = name.trim_end_matches('.').to_ascii_lowercase();
            match self.inner.cache.get(&key, *kind, now) {
                Some(cached) => results[index] = cached,
                None => misses.push(index),
            }
        }
        if misses.is_empty() {
            // All cached: no task to spawn.
            return results;
        }
        let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_QUESTIONS));
        let mut tasks = JoinSet::new();
        for index in misses {
            let (name, kind) = &questions[index];
            let resolver = self.clone();
            let permits = Arc::clone(&permits);
            let (name, kind) = (name.clone(), *kind);
            tasks.spawn(async move {
                // The semaphore is never closed, so acquiring only waits.
                let _permit = permits.acquire_owned().await;
                (index, resolver.lookup(&name, kind).await)
            });
        }

        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => {
                    if let Some(slot) = results.get_mut(index) {
                        *slot = result;
                    }
                }
                // A lookup task that panicked leaves its slot a server failure.
                Err(error) => warn!(%error, "dns lookup task failed"),
            }
        }
        results
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("guard", &self.inner.guard)
            .finish_non_exhaustive()
    }
}

/// One configured nameserver: UDP and TCP on its own port, its NXDOMAIN trusted.
fn name_server(addr: SocketAddr) -> NameServerConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = addr.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = addr.port();
    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
}

/// Our settings over hickory's options (those from resolv.conf included).
fn apply(settings: &ResolverSettings, options: &mut ResolverOpts) {
    options.timeout = settings.timeout;
    // hickory counts retries after the first try; we count tries.
    options.attempts = settings.attempts.saturating_sub(1);
    options.cache_size = u64::try_from(settings.cache_size).unwrap_or(u64::MAX);
    options.negative_max_ttl = Some(settings.negative_ttl_max);
    options.recursion_desired = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_is_a_cheap_shareable_handle() {
        fn shareable<T: Clone + Send + Sync + 'static>() {}
        shareable::<Resolver>();
    }

    #[test]
    fn settings_reach_hickorys_options() {
        let settings = ResolverSettings {
            nameservers: vec![],
            timeout: Duration::from_millis(1500),
            attempts: 3,
            cache_size: 100,
            negative_ttl_max: Duration::from_secs(60),
        };
        let mut options = ResolverOpts::default();
        options.recursion_desired = false;
        apply(&settings, &mut options);
        assert_eq!(options.timeout, Duration::from_millis(1500));
        assert_eq!(options.attempts, 2);
        assert_eq!(options.cache_size, 100);
        assert_eq!(options.negative_max_ttl, Some(Duration::from_secs(60)));
        assert!(options.recursion_desired);
    }

    #[test]
    fn a_nameserver_keeps_its_port_on_udp_and_tcp() {
        let server = name_server(SocketAddr::from(([127, 0, 0, 1], 5353)));
        assert_eq!(server.ip, std::net::IpAddr::from([127, 0, 0, 1]));
        let ports: Vec<u16> = server.connections.iter().map(|c| c.port).collect();
        assert_eq!(ports, [5353, 5353]);
    }

    #[test]
    fn zero_timeout_or_attempts_is_refused() {
        let zero_timeout = ResolverSettings {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            timeout: Duration::ZERO,
            ..ResolverSettings::default()
        };
        assert!(matches!(
            Resolver::new(&zero_timeout),
            Err(DnsSetupError::ZeroTimeout { .. })
        ));
        let zero_attempts = ResolverSettings {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            attempts: 0,
            ..ResolverSettings::default()
        };
        assert!(matches!(
            Resolver::new(&zero_attempts),
            Err(DnsSetupError::ZeroAttempts { attempts: 0 })
        ));
    }

    #[test]
    fn the_guard_is_timeout_times_attempts_plus_a_margin() {
        let settings = ResolverSettings {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            timeout: Duration::from_secs(2),
            attempts: 3,
            ..ResolverSettings::default()
        };
        let resolver = Resolver::new(&settings).expect("resolver builds");
        assert_eq!(resolver.inner.guard, Duration::from_secs(6) + GUARD_MARGIN);
    }

    #[tokio::test]
    async fn invalid_names_fail_before_any_query() {
        // Port 9 (discard) on loopback: nothing is asked, so nothing needs to answer.
        let settings = ResolverSettings {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 9))],
            ..ResolverSettings::default()
        };
        let resolver = Resolver::new(&settings).expect("resolver builds");
        assert_eq!(
            resolver.lookup("not-an-ip", RecordKind::Ptr).await,
            Err(LookupError::InvalidName)
        );
        assert_eq!(
            resolver.lookup("", RecordKind::A).await,
            Err(LookupError::InvalidName)
        );
    }
}
