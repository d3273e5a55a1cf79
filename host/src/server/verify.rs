//! Recipient verification wired up: the SMTP side's [`Prober`] answered by delivery's
//! recipient probes (`smtp` and `delivery` do not import each other; the server knows
//! both), and the verifier a server starts with.

use std::sync::Arc;

use anyhow::Context as _;

use crate::config::{Config, VerifyRecipients};
use crate::delivery::client::ClientParams;
use crate::delivery::probe::{ProbeOutcome, RecipientProbe};
use crate::delivery::route::LiveRoutes;
use crate::dns::Resolver;
use crate::metrics::Registry;
use crate::smtp::verify::{ProbeAnswer, ProbeFuture, Prober, RecipientVerifier};
use crate::time::Clock;

/// Delivery's probes, as the SMTP side asks for them.
struct DownstreamProber(RecipientProbe);

impl Prober for DownstreamProber {
    fn covers(&self, address: &str) -> bool {
        self.0.has_route(address)
    }

    fn probe<'a>(&'a self, address: &'a str) -> ProbeFuture<'a> {
        Box::pin(async move {
            match self.0.probe(address).await {
                ProbeOutcome::Accepted => ProbeAnswer::Known,
                ProbeOutcome::Refused { reply } => ProbeAnswer::Unknown { reply },
                ProbeOutcome::Unanswered { reason } => ProbeAnswer::Failed { reason },
            }
        })
    }
}

/// The recipient verifier of `config` (`None` when `[relay] verify_recipients = "off"`),
/// probing over `routes` (delivery's, so a reload changes both) and counting in
/// `registry`. Its client gives up on a step after `verify_timeout` at most.
pub(super) fn recipient_verifier(
    config: &Config,
    routes: &Arc<LiveRoutes>,
    resolver: Option<Resolver>,
    clock: Clock,
    registry: &Registry,
) -> anyhow::Result<Option<RecipientVerifier>> {
    let relay = &config.relay;
    if relay.verify_recipients == VerifyRecipients::Off {
        return Ok(None);
    }
    let limit = relay.verify_timeout.0;
    let client = ClientParams::new(
        config.server.hostname.clone(),
        config.delivery.connect_timeout.0.min(limit),
        config.delivery.command_timeout.0.min(limit),
        limit,
    )
    .context("cannot set up the TLS client of recipient verification")?;
    let probe = RecipientProbe::new(Arc::clone(routes), client, resolver);
    let unasked: Vec<&str> = relay
        .domains
        .iter()
        .map(String::as_str)
        .filter(|domain| !probe.has_route(domain))
        .collect();
    if !unasked.is_empty() {
        tracing::warn!(
            domains = ?unasked,
            "relay.verify_recipients: these protected domains have no [[delivery.route]]; their recipients are not verified"
        );
    }
    let prober: Arc<dyn Prober> = Arc::new(DownstreamProber(probe));
    Ok(Some(RecipientVerifier::new(relay, prober, clock, registry)))
}
