//! One message through the whole filter pipeline offline, as an SMTP session would run
//! it: the stages in order, each decided on every result so far, stopping where a session
//! would refuse before DATA. Shared by `moat check`, `moat replay --corpus`, `moat tune
//! --corpus` and `moat bench quality`.

use std::net::IpAddr;
use std::sync::Arc;

use super::check_client::{CheckedClient, client_of};
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

/// What the operator said about the envelope; unset parts come from the message.
#[derive(Debug, Clone, Default)]
pub(super) struct EnvelopeOverrides {
    /// The client's address (else the Received chain's first hop outside the relays).
    pub(super) ip: Option<IpAddr>,
    /// Its EHLO name.
    pub(super) helo: Option<String>,
    /// The envelope sender (else Return-Path, else From).
    pub(super) from: Option<String>,
    /// The recipients (else To).
    pub(super) rcpt: Vec<String>,
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
    let client = client_of(
        &message,
        env.relays,
        overrides.ip,
        overrides.helo.as_deref(),
    );
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
        ctx.mail_from = Some(
            overrides
                .from
                .clone()
                .unwrap_or_else(|| envelope_sender(&message)),
        );
        let verifier = verifier_for(env.verifier, &ctx);
        if let Some(verifier) = verifier {
            authenticate_envelope(verifier, &mut ctx).await;
        }
        if let Some(refused) = run(&mut ctx, StageInput::MailFrom).await {
            break 'session Some(refused);
        }
        let recipients = if overrides.rcpt.is_empty() {
            envelope_recipients(&message)
        } else {
            overrides.rcpt.clone()
        };
        for rcpt in recipients {
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

/// The address in Return-Path, else in From, else the null sender.
fn envelope_sender(message: &ParsedMessage) -> String {
    let from_header = |name| message.header(name).and_then(extract_address);
    from_header("Return-Path")
        .or_else(|| from_header("From"))
        .unwrap_or_default()
}

/// The addresses in To, else `postmaster@localhost`.
fn envelope_recipients(message: &ParsedMessage) -> Vec<String> {
    let found: Vec<String> = message
        .header_all("To")
        .flat_map(|v| v.split(','))
        .filter_map(extract_address)
        .collect();
    if found.is_empty() {
        vec!["postmaster@localhost".to_owned()]
    } else {
        found
    }
}

fn extract_address(text: &str) -> Option<String> {
    let inner = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let address = inner.trim();
    (address.contains('@') && !address.contains(char::is_whitespace)).then(|| address.to_owned())
}

#[cfg(test)]
mod tests {
    use super::extract_address;

    #[test]
    fn addresses_are_taken_from_angle_brackets_or_bare() {
        assert_eq!(
            extract_address("Alice <alice@example.org>").as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(
            extract_address(" bob@example.test ").as_deref(),
            Some("bob@example.test")
        );
        assert_eq!(extract_address("undisclosed-recipients:;"), None);
    }
}
