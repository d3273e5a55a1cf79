//! Recipient verification (`[relay] verify_recipients = "downstream"`): before RCPT at a
//! protected domain is answered, the protected server is asked whether the address
//! exists, so mail for unknown users is refused at once (550 5.1.1) instead of accepted
//! and bounced later to a sender who is usually forged (backscatter).
//!
//! ```text
//! RCPT ─▶ RecipientVerifier::verify ─▶ cache (known 7d / unknown 3h, bounded per kind)
//!                                        │ miss or expired
//!                                        ▼
//!                      SharedProbes: one probe per address at a time
//!                                        │ a slot of verify_max_probes, verify_timeout in all
//!                                        ▼
//!                      Prober (EHLO, MAIL FROM:<>, RCPT TO, QUIT; never DATA)
//! ```
//!
//! The SMTP side does not know how the server is reached: a [`Prober`] does (the server
//! implements it with delivery's route table and SMTP client), so `smtp` and `delivery`
//! stay independent.
//!
//! * `cache`: the answers, with their TTLs and bounds; `in_flight`: the probes under way,
//!   shared by the RCPTs waiting for them; `metrics`: what is counted.

mod cache;
mod in_flight;
mod metrics;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tracing::Instrument as _;

use self::cache::{AnswerCache, Cached};
use self::in_flight::SharedProbes;
use self::metrics::{ProbeResult, VerifyMetrics};
use crate::config::{RelayConfig, UnverifiedRecipientAction};
use crate::metrics::Registry;
use crate::time::Clock;

/// What the protected server said to one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// RCPT was taken (2xx).
    Known,
    /// RCPT was refused for good (5xx).
    Unknown {
        /// The server's reply, for the log (never shown to the client).
        reply: String,
    },
    /// No answer for now: no connection, a 4xx, a refused `MAIL FROM:<>`, a timeout.
    Failed {
        /// Why, for the log.
        reason: String,
    },
}

/// A probe under way.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = ProbeAnswer> + Send + 'a>>;

/// Asks the protected server about an address. Implemented where the servers and an SMTP
/// client are known (`server/verify.rs`, over delivery's routes and client).
pub trait Prober: Send + Sync {
    /// Whether there is a server to ask about `address` (its domain has a route).
    fn covers(&self, address: &str) -> bool;
    /// Asks the server whether it takes mail for `address` (already lower case).
    fn probe<'a>(&'a self, address: &'a str) -> ProbeFuture<'a>;
}

/// What a RCPT gets from verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The server takes mail for the address (now, or when last asked).
    Known,
    /// The server refused the address: refuse it (550 5.1.1).
    Unknown,
    /// The server could not be asked: [`RecipientVerifier::accepts_unverified`] decides.
    Unverified,
    /// There is no server to ask (the domain has no route): accepted as without
    /// verification.
    Unasked,
}

/// The verifier of a running server: cache, shared probes, probe slots and the prober.
/// Cheap to clone.
#[derive(Clone)]
pub struct RecipientVerifier(Arc<Inner>);

struct Inner {
    prober: Arc<dyn Prober>,
    cache: Arc<AnswerCache>,
    probes: SharedProbes<Verdict>,
    /// `verify_max_probes` slots: the load a flood of new addresses puts on the server.
    slots: Semaphore,
    /// The longest a probe takes, waiting for its slot included.
    timeout: Duration,
    accept_unverified: bool,
    metrics: VerifyMetrics,
}

impl std::fmt::Debug for RecipientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientVerifier")
            .field("timeout", &self.0.timeout)
            .field("cached", &self.0.cache.len())
            .field("probing", &self.0.probes.len())
            .finish_non_exhaustive()
    }
}

impl RecipientVerifier {
    /// A verifier with `relay`'s TTLs, bounds and timeout, asking `prober`, on `clock`;
    /// its metrics are registered in `registry`.
    pub fn new(
        relay: &RelayConfig,
        prober: Arc<dyn Prober>,
        clock: Clock,
        registry: &Registry,
    ) -> Self {
        let cache = Arc::new(AnswerCache::new(
            clock,
            relay.verify_positive_ttl.0,
            relay.verify_negative_ttl.0,
            relay.verify_cache_size,
        ));
        let metrics = VerifyMetrics::register(registry, &cache);
        Self(Arc::new(Inner {
            prober,
            cache,
            probes: SharedProbes::default(),
            slots: Semaphore::new(relay.verify_max_probes.max(1)),
            timeout: relay.verify_timeout.0,
            accept_unverified: relay.unverified_recipient_action
                == UnverifiedRecipientAction::Accept,
            metrics,
        }))
    }

    /// Whether an [`Verdict::Unverified`] recipient is accepted
    /// (`unverified_recipient_action = "accept"`) rather than told to try later.
    pub fn accepts_unverified(&self) -> bool {
        self.0.accept_unverified
    }

    /// What the protected server says about `address`: from the cache, from the probe
    /// for it under way, or from a new probe. Takes at most `verify_timeout`.
    pub async fn verify(&self, address: &str) -> Verdict {
        let key = cache::key(address);
        if !self.0.prober.covers(&key) {
            return Verdict::Unasked;
        }
        if let Some(verdict) = self.0.cached(&key) {
            return verdict;
        }
        let (probing, finishing) = (Arc::clone(&self.0), Arc::clone(&self.0));
        let (probe_key, finish_key) = (key.clone(), key.clone());
        let probe = move || {
            async move { probing.probe(&probe_key).await }.instrument(tracing::Span::current())
        };
        let finish = move |answer| finishing.finish(&finish_key, answer);
        self.0
            .probes
            .answer(&key, || self.0.cached(&key), probe, finish)
            .await
            .unwrap_or(Verdict::Unverified)
    }
}

impl Inner {
    /// The cached verdict on `key`, counted as a hit, if it has one that has not expired.
    fn cached(&self, key: &str) -> Option<Verdict> {
        let known = match self.cache.lookup(key) {
            Cached::Known => true,
            Cached::Unknown => false,
            Cached::Stale | Cached::Miss => return None,
        };
        self.metrics.hit(known);
        Some(if known {
            Verdict::Known
        } else {
            Verdict::Unknown
        })
    }

    /// One probe for `key`, in a slot, within the timeout.
    async fn probe(&self, key: &str) -> ProbeAnswer {
        let attempt = async {
            let Ok(_slot) = self.slots.acquire().await else {
                return ProbeAnswer::Failed {
                    reason: "the verifier is closed".into(),
                };
            };
            self.prober.probe(key).await
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or_else(|_| ProbeAnswer::Failed {
                reason: format!(
                    "no answer within verify_timeout ({} ms)",
                    self.timeout.as_millis()
                ),
            })
    }

    /// Counts and records the probe's `answer` about `key`, and what it means.
    fn finish(&self, key: &str, answer: ProbeAnswer) -> Verdict {
        match answer {
            ProbeAnswer::Known => {
                self.metrics.probe(ProbeResult::Known);
                self.cache.record(key, true);
                tracing::debug!(rcpt = %key, "recipient verified");
                Verdict::Known
            }
            ProbeAnswer::Unknown { reply } => {
                self.metrics.probe(ProbeResult::Unknown);
                self.cache.record(key, false);
                tracing::info!(rcpt = %key, %reply, "recipient unknown to the protected server");
                Verdict::Unknown
            }
            ProbeAnswer::Failed { reason } => {
                self.metrics.probe(ProbeResult::Failed);
                let known_before = self.cache.lookup(key) == Cached::Stale;
                tracing::info!(rcpt = %key, %reason, known_before, "recipient not verified");
                if known_before {
                    Verdict::Known
                } else {
                    Verdict::Unverified
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
