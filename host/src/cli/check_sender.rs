//! Sender authentication in `moat check`, as a live session runs it: SPF when MAIL FROM
//! is known, DKIM, ARC and DMARC before the data stage, for the client the Received chain
//! names. Skipped where a live gateway skips it (`[sender_auth] verify = false`, a local
//! client without `check_local`).

use std::sync::Arc;

use crate::filter::SessionContext;
use crate::message::ParsedMessage;
use crate::sender_auth::{Envelope, SenderVerifier};

/// SPF of the envelope in `ctx` (its client, HELO and MAIL FROM), into `ctx`.
pub(super) async fn check_envelope(verifier: Option<&SenderVerifier>, ctx: &mut SessionContext) {
    let Some(verifier) = verifier.filter(|v| v.checks(ctx.client.ip)) else {
        return;
    };
    let results = verifier.check_envelope(envelope(ctx)).await;
    ctx.sender_auth = results.map(Arc::new);
}

/// DKIM, ARC and DMARC of `message`, completing what `ctx` holds.
pub(super) async fn check_message(
    verifier: Option<&SenderVerifier>,
    ctx: &mut SessionContext,
    message: &ParsedMessage,
) {
    let Some(verifier) = verifier.filter(|v| v.checks(ctx.client.ip)) else {
        return;
    };
    let hops = match ctx.sender_auth {
        Some(_) => Vec::new(),
        None => message.received_hops(),
    };
    let results = verifier
        .check_message(
            message.raw(),
            envelope(ctx),
            &hops,
            ctx.sender_auth.as_deref(),
        )
        .await;
    ctx.sender_auth = results.map(Arc::new);
}

fn envelope(ctx: &SessionContext) -> Envelope<'_> {
    Envelope {
        client: ctx.client.ip,
        helo: ctx.client.helo.as_deref(),
        mail_from: ctx.mail_from.as_deref().unwrap_or_default(),
    }
}
