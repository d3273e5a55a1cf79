//! Sender authentication in the conversation: SPF when MAIL FROM arrives, DKIM, ARC and
//! DMARC when the message is in (results for the plugins and `Authentication-Results`),
//! and DKIM signatures on what an authenticated user sends.

use std::sync::Arc;

use super::Session;
use crate::message::ParsedMessage;
use crate::sender_auth::{Envelope, SenderAuthResults};

/// The SPF checks one session may cause (each up to 10 DNS-querying mechanisms for the
/// MAIL FROM and as many for the HELO name).
pub(super) const MAX_SPF_CHECKS: u32 = 10;

impl Session {
    /// SPF of the sender just given in MAIL FROM; `None` when nothing is checked (an
    /// authenticated user's mail, checks off) or the client is a trusted relay (SPF is
    /// then checked at DATA, for the first untrusted hop).
    /// Past [`MAX_SPF_CHECKS`] in one session, SPF is a `temperror` without a lookup:
    /// a client cycling MAIL FROM / RSET cannot aim unbounded DNS work at third parties.
    pub(super) async fn check_envelope_sender(&mut self) -> Option<Arc<SenderAuthResults>> {
        let verifier = self.sender_verifier()?;
        self.spf_checks += 1;
        if self.spf_checks > MAX_SPF_CHECKS {
            tracing::info!("SPF not checked: the session used its allowance of checks");
            return Some(Arc::new(verifier.spf_not_checked(self.envelope())));
        }
        let results = verifier.check_envelope(self.envelope()).await?;
        Some(Arc::new(results))
    }

    /// Completes the results once the message is in; `raw` is the message as the client
    /// sent it (signatures cover what the sender wrote, stripped fields included).
    pub(super) async fn check_message_sender(&mut self, raw: &[u8], message: &ParsedMessage) {
        let Some(verifier) = self.sender_verifier() else {
            return;
        };
        // The path is read only when a trusted relay handed the message in (SPF was then
        // left for now).
        let hops = match self.ctx.sender_auth {
            Some(_) => Vec::new(),
            None => message.received_hops(),
        };
        let results = verifier
            .check_message(raw, self.envelope(), &hops, self.ctx.sender_auth.as_deref())
            .await;
        self.ctx.sender_auth = results.map(Arc::new);
    }

    /// The `DKIM-Signature` fields for a message an authenticated user sends: the
    /// message is `fields` (those Moat adds) followed by `message`, signed by the keys of
    /// its From domain; empty when that domain has none.
    pub(super) fn dkim_signatures(&self, message: &ParsedMessage, fields: &[u8]) -> String {
        let signing = &self.params.sender_auth.signing;
        if signing.is_empty() {
            return String::new();
        }
        let Some(from) = message.from_addresses().into_iter().next() else {
            return String::new();
        };
        let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
        signing.sign(domain, &[fields, message.raw()])
    }

    /// The verifier, when this session's mail is checked: not for authenticated users,
    /// nor (by default) from local addresses.
    fn sender_verifier(&self) -> Option<Arc<crate::sender_auth::SenderVerifier>> {
        if self.ctx.client.authenticated_user.is_some() {
            return None;
        }
        let verifier = self.params.sender_auth.verifier.as_ref()?;
        verifier
            .checks(self.ctx.client.ip)
            .then(|| Arc::clone(verifier))
    }

    fn envelope(&self) -> Envelope<'_> {
        Envelope {
            client: self.ctx.client.ip,
            helo: self.ctx.client.helo.as_deref(),
            mail_from: self.ctx.mail_from.as_deref().unwrap_or_default(),
        }
    }
}
