//! One message through the whole filter pipeline offline, as an SMTP session would run
//! it: the stages in order, each decided on every result so far, stopping where a session
//! would refuse before DATA. Shared by `moat check`, `moat replay --corpus`, `moat tune
//! --corpus` and `moat bench quality`.

use std::sync::Arc;

use super::check_client::CheckedClient;
use super::check_envelope::EnvelopeOverrides;
use crate::filter::pipeline::StageInput;
use crate::filter::sender_context::{authenticate_envelope, authenticate_message, verifier_for};
use crate::filter::{Action, Decision, Pipeline, PluginResult, SessionContext, Stage};
use crate::message::ParsedMessage;
use crate::sender_auth::{SenderVerifier, TrustedRelays};

/// What every message of a run is checked with.
pub(super) struct CheckEnv<'a> {
    /// The plugins, weights and thresholds.
    pub(super) pipeline: &'a Pipeline,
    /// The relays (and loopback) the client is looked for past.
    pub(super) relays: &'a TrustedRelays,
    /// Sender authentication, when the configuration has it on.
    pub(super) verifier: Option<&'a SenderVerifier>,
}

/// The decision on one message, where it was taken, on which results and for whom.
pub(super) struct Checked {
    /// The stage the decision was taken at.
    pub(super) stage: Stage,
    /// The decision.
    pub(super) decision: Decision,
    /// Every plugin result it was combined from.
    pub(super) results: Vec<PluginResult>,
    /// The client the message was taken to come from.
    pub(super) client: CheckedClient,
    /// The envelope sender.
    pub(super) mail_from: String,
    /// The envelope recipients.
    pub(super) rcpt_to: Vec<String>,
    /// The message.
    pub(super) message: Arc<ParsedMessage>,
}

/// Runs the message `raw` (the `n`th of the run) through every stage.
pub(super) async fn check_message(
    env: &CheckEnv<'_>,
    overrides: &EnvelopeOverrides,
    raw: Vec<u8>,
    n: usize,
) -> anyhow::Result<Checked> {
    let pipeline = env.pipeline;
    let message = Arc::new(ParsedMessage::parse(raw)?);
    let envelope = overrides.envelope_of(&message, env.relays);
    let client = envelope.client;
    let mut ctx = SessionContext::connected(Arc::from(format!("check-{n}")), (client.ip, 0).into());
    ctx.client.reverse_dns = client.reverse_dns.clone();
    let mut results: Vec<PluginResult> = Vec::new();
    // Runs a stage and decides on everything so far; `Some` where a session would refuse.
    let mut run =
        async |ctx: &mut SessionContext, input: StageInput| -> Option<(Stage, Decision)> {
            let stage = input.stage();
            results.extend(pipeline.run_stage(ctx, &input).await);
            let decision = pipeline.decide(&results);
            let refused = matches!(decision.action, Action::Reject | Action::Tempfail);
            (refused && stage != Stage::Data).then_some((stage, decision))
        };
    let refused = 'session: {
        if let Some(refused) = run(&mut ctx, StageInput::Connect).await {
            break 'session Some(refused);
        }
        ctx.client.helo = Some(client.helo.clone());
        if let Some(refused) = run(&mut ctx, StageInput::Helo).await {
            break 'session Some(refused);
        }
        ctx.mail_from = Some(envelope.mail_from);
        let verifier = verifier_for(env.verifier, &ctx);
        if let Some(verifier) = verifier {
            authenticate_envelope(verifier, &mut ctx).await;
        }
        if let Some(refused) = run(&mut ctx, StageInput::MailFrom).await {
            break 'session Some(refused);
        }
        for rcpt in envelope.rcpt_to {
            if let Some(refused) = run(&mut ctx, StageInput::RcptTo(rcpt.clone())).await {
                break 'session Some(refused);
            }
            ctx.rcpt_to.push(rcpt);
        }
        if let Some(verifier) = verifier {
            authenticate_message(verifier, &mut ctx, message.raw(), &message).await;
        }
        run(&mut ctx, StageInput::Data(message.clone())).await;
        None
    };
    let (stage, decision) = refused.unwrap_or_else(|| (Stage::Data, pipeline.decide(&results)));
    Ok(Checked {
        stage,
        decision,
        results,
        client,
        mail_from: ctx.mail_from.unwrap_or_default(),
        rcpt_to: ctx.rcpt_to,
        message,
    })
}
