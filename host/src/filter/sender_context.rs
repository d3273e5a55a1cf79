//! Sender authentication into the plugins' context: the one way an SMTP session and
//! `moat check` fill [`SessionContext::sender_auth`] — SPF once MAIL FROM is known, then
//! DKIM, ARC and DMARC once the message is in — so that an offline check sees what a
//! live session would.

use std::sync::Arc;

use super::SessionContext;
use crate::message::ParsedMessage;
use crate::sender_auth::{Envelope, SenderVerifier};

/// `verifier`, when mail of `ctx`'s client is checked at all: not an authenticated
/// user's (it is our own, signed instead), nor, without `check_local`, a local client's.
pub fn verifier_for<'a>(
    verifier: Option<&'a SenderVerifier>,
    ctx: &SessionContext,
) -> Option<&'a SenderVerifier> {
    verifier.filter(|v| ctx.client.authenticated_user.is_none() && v.checks(ctx.client.ip))
}

/// SPF of the envelope in `ctx` into `ctx` (`None` for a trusted relay, whose origin is
/// read from the message later).
pub async fn authenticate_envelope(verifier: &SenderVerifier, ctx: &mut SessionContext) {
    let results = verifier.check_envelope(envelope(ctx)).await;
    ctx.sender_auth = results.map(Arc::new);
}

/// DKIM, ARC and DMARC of `message` (and SPF of its origin behind a trusted relay),
/// completing `ctx`. `raw` is the message as the client sent it: signatures cover what
/// the sender wrote, fields Moat strips included.
pub async fn authenticate_message(
    verifier: &SenderVerifier,
    ctx: &mut SessionContext,
    raw: &[u8],
    message: &ParsedMessage,
) {
    // The path is read only when a trusted relay handed the message in (SPF was then
    // left for now).
    let hops = match ctx.sender_auth {
        Some(_) => Vec::new(),
        None => message.received_hops(),
    };
    let results = verifier
        .check_message(raw, envelope(ctx), &hops, ctx.sender_auth.as_deref())
        .await;
    ctx.sender_auth = results.map(Arc::new);
}

/// The envelope as `ctx` knows it.
pub fn envelope(ctx: &SessionContext) -> Envelope<'_> {
    Envelope {
        client: ctx.client.ip,
        helo: ctx.client.helo.as_deref(),
        mail_from: ctx.mail_from.as_deref().unwrap_or_default(),
    }
}
