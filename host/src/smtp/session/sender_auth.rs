//! Sender authentication in the conversation: SPF when MAIL FROM arrives, DKIM, ARC and
//! DMARC when the message is in (results for the plugins and `Authentication-Results`),
//! and DKIM signatures on what an authenticated user sends.

use std::sync::Arc;

use super::Session;
use crate::filter::sender_context::{
    authenticate_envelope, authenticate_message, envelope, verifier_for,
};
use crate::message::ParsedMessage;

/// The SPF checks one session may cause (each up to 10 DNS-querying mechanisms for the
/// MAIL FROM and as many for the HELO name).
pub(super) const MAX_SPF_CHECKS: u32 = 10;

impl Session {
    /// SPF of the sender just given in MAIL FROM, into the plugins' context (nothing when
    /// this mail is not checked, or the client is a trusted relay: SPF is then checked at
    /// DATA, for the first untrusted hop). Past [`MAX_SPF_CHECKS`] in one session, SPF is
    /// a `temperror` without a lookup: a client cycling MAIL FROM / RSET cannot aim
    /// unbounded DNS work at third parties.
    pub(super) async fn check_envelope_sender(&mut self) {
        self.ctx.sender_auth = None;
        let params = Arc::clone(&self.params);
        let Some(verifier) = verifier_for(params.sender_auth.verifier.as_deref(), &self.ctx) else {
            return;
        };
        self.spf_checks += 1;
        if self.spf_checks > MAX_SPF_CHECKS {
            tracing::info!("SPF not checked: the session used its allowance of checks");
            let results = verifier.spf_not_checked(envelope(&self.ctx));
            self.ctx.sender_auth = Some(Arc::new(results));
            return;
        }
        authenticate_envelope(verifier, &mut self.ctx).await;
    }

    /// Completes the results once the message is in; `raw` is the message as the client
    /// sent it.
    pub(super) async fn check_message_sender(&mut self, raw: &[u8], message: &ParsedMessage) {
        let params = Arc::clone(&self.params);
        if let Some(verifier) = verifier_for(params.sender_auth.verifier.as_deref(), &self.ctx) {
            authenticate_message(verifier, &mut self.ctx, raw, message).await;
        }
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
}
