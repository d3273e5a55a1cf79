//! Recipient verification at RCPT (`[relay] verify_recipients`): a recipient at a
//! protected domain is refused when the protected server does not know it. Recipients at
//! other domains (an authenticated user's outbound mail) are never verified: their
//! servers are strangers, and asking them would make this gateway a prober for anyone
//! who can log in.

use super::Session;
use crate::smtp::reply::Reply;
use crate::smtp::verify::Verdict;

impl Session {
    /// Checks `address` (the recipient as it will be queued) with the protected server:
    /// the refusal to answer, if it is unknown (550 5.1.1) or cannot be verified now
    /// (450 4.1.1, unless `unverified_recipient_action = "accept"`).
    pub(super) async fn verify_recipient(&self, address: &str) -> Result<(), Reply> {
        let Some(verifier) = &self.params.verifier else {
            return Ok(());
        };
        let protected = address
            .rsplit_once('@')
            .is_some_and(|(_, domain)| self.params.relay.protects(domain));
        if !protected {
            return Ok(());
        }
        let refusal = match verifier.verify(address).await {
            Verdict::Known | Verdict::Unasked => return Ok(()),
            Verdict::Unverified if verifier.accepts_unverified() => {
                tracing::info!(rcpt = %address, "recipient accepted unverified");
                return Ok(());
            }
            Verdict::Unknown => Reply::unknown_recipient(address),
            Verdict::Unverified => Reply::recipient_unverified(address),
        };
        tracing::info!(rcpt = %address, code = refusal.code, "recipient refused");
        Err(refusal)
    }
}
