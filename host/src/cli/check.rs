//! `moat check`: run messages through the whole filter pipeline offline — the stages an
//! SMTP session would run, in order, stopping where a session would be refused — and print
//! each decision with its report. Checking teaches nothing: the outcome stage is not run,
//! and the plugins' kv writes (reputation windows, say) go to a throw-away overlay of the
//! live state (`store::OverlayKv`). The client is the one the message's Received chain
//! names (`check_client.rs`), and sender authentication runs as in a session
//! (`filter::sender_context`, shared with the sessions).

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::json;

use super::check_client::{CheckedClient, client_of, relays_with_loopback};
use super::{ConfigArgs, ensure_dir, report_load_errors};
use crate::cli::output::{say, say_part};
use crate::filter::assemble::assemble_for_check;
use crate::filter::pipeline::StageInput;
use crate::filter::report;
use crate::filter::sender_context::{authenticate_envelope, authenticate_message, verifier_for};
use crate::filter::{Action, Pipeline, PluginResult, SessionContext, Stage};
use crate::message::ParsedMessage;
use crate::sender_auth::{SenderVerifier, TrustedRelays};

/// `moat check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config and data dir (kv state such as Bayes tokens is read from the data dir).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The client IP the message is taken to come from (default: the first hop of its
    /// Received chain outside loopback and `[relay] trusted_relays`, else 127.0.0.1).
    #[arg(long)]
    pub ip: Option<IpAddr>,
    /// The EHLO name the client is taken to give (default: that hop's, else localhost).
    #[arg(long)]
    pub helo: Option<String>,
    /// The envelope sender (default: the message's Return-Path, else its From address).
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// An envelope recipient; repeat for several (default: the message's To addresses).
    #[arg(long, value_name = "ADDRESS")]
    pub rcpt: Vec<String>,
    /// One JSON object per message per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Message files (an mbox file: each message in it, as `FILE#N`), or directories to
    /// walk for them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// The decision for one message and the stage it was taken at.
struct Checked {
    stage: Stage,
    decision: crate::filter::Decision,
    client: CheckedClient,
}

/// Runs the check.
pub(super) async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = args.config.load()?;
    ensure_dir(&config.server.data_dir)?;
    let assembled = assemble_for_check(&config, &config.server.data_dir)
        .await
        .context("cannot set up the filter pipeline")?;
    report_load_errors(&assembled.load_errors);
    let relays = relays_with_loopback(&config.relay.trusted_relays)?;
    let verifier =
        crate::server::sender_auth_service(&config, assembled.services.resolver.as_ref())?.verifier;
    let env = CheckEnv {
        pipeline: &assembled.pipeline,
        relays: &relays,
        verifier: verifier.as_deref(),
    };
    let mut failures = 0;
    // An mbox file holds several messages, each checked as `FILE#N`.
    for (n, found) in crate::message::mailbox::messages_under(&args.paths)?.enumerate() {
        let message = match found {
            Ok(message) => message,
            Err(unreadable) => {
                failures += 1;
                let origin = unreadable.path.display().to_string();
                report_failure(&args, &origin, &unreadable.error.into());
                continue;
            }
        };
        match check_message(&env, &args, message.raw, n + 1).await {
            Ok(checked) => print_checked(
                &args,
                &message.origin,
                &checked,
                assembled.pipeline.thresholds(),
            ),
            Err(error) => {
                failures += 1;
                report_failure(&args, &message.origin, &error);
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Says that `origin` could not be checked: a JSON line or a line on stderr.
fn report_failure(args: &CheckArgs, origin: &str, error: &anyhow::Error) {
    if args.json {
        say!(
            "{}",
            json!({ "file": origin, "error": format!("{error:#}") })
        );
    } else {
        eprintln!("moat: {origin}: {error:#}");
    }
}

fn print_checked(
    args: &CheckArgs,
    origin: &str,
    checked: &Checked,
    thresholds: &crate::config::Thresholds,
) {
    if args.json {
        let mut value = report::to_json(&checked.decision);
        value["file"] = json!(origin);
        value["stage"] = json!(checked.stage.as_str());
        let client = &checked.client;
        value["client"] = json!({
            "ip": client.ip.to_string(),
            "helo": client.helo,
            "reverse_dns": client.reverse_dns,
        });
        say!("{value}");
    } else {
        say!(
            "== {origin} (decided at {}; client {} helo {})",
            checked.stage.as_str(),
            checked.client.ip,
            checked.client.helo
        );
        say_part!("{}", report::render_text(&checked.decision, thresholds));
    }
}

/// What every message of a check is run with.
struct CheckEnv<'a> {
    pipeline: &'a Pipeline,
    /// The relays (and loopback) the client is looked for past.
    relays: &'a TrustedRelays,
    /// Sender authentication, when the configuration has it on.
    verifier: Option<&'a SenderVerifier>,
}

async fn check_message(
    env: &CheckEnv<'_>,
    args: &CheckArgs,
    raw: Vec<u8>,
    n: usize,
) -> anyhow::Result<Checked> {
    let pipeline = env.pipeline;
    let message = Arc::new(ParsedMessage::parse(raw)?);
    let client = client_of(&message, env.relays, args.ip, args.helo.as_deref());
    let mut ctx = SessionContext::connected(Arc::from(format!("check-{n}")), (client.ip, 0).into());
    ctx.client.reverse_dns = client.reverse_dns.clone();
    let mut results: Vec<PluginResult> = Vec::new();
    let mut run = async |ctx: &mut SessionContext, input: StageInput| -> Option<Checked> {
        let stage = input.stage();
        let stage_results = pipeline.run_stage(ctx, &input).await;
        let stage_decision = pipeline.decide(&stage_results);
        results.extend(stage_results);
        // As an SMTP session would: refuse before DATA on a reject or tempfail.
        let refused = matches!(stage_decision.action, Action::Reject | Action::Tempfail);
        (refused && stage != Stage::Data).then(|| Checked {
            stage,
            decision: stage_decision,
            client: client.clone(),
        })
    };
    if let Some(refused) = run(&mut ctx, StageInput::Connect).await {
        return Ok(refused);
    }
    ctx.client.helo = Some(client.helo.clone());
    if let Some(refused) = run(&mut ctx, StageInput::Helo).await {
        return Ok(refused);
    }
    ctx.mail_from = Some(
        args.from
            .clone()
            .unwrap_or_else(|| envelope_sender(&message)),
    );
    let verifier = verifier_for(env.verifier, &ctx);
    if let Some(verifier) = verifier {
        authenticate_envelope(verifier, &mut ctx).await;
    }
    if let Some(refused) = run(&mut ctx, StageInput::MailFrom).await {
        return Ok(refused);
    }
    let recipients = if args.rcpt.is_empty() {
        envelope_recipients(&message)
    } else {
        args.rcpt.clone()
    };
    for rcpt in recipients {
        if let Some(refused) = run(&mut ctx, StageInput::RcptTo(rcpt.clone())).await {
            return Ok(refused);
        }
        ctx.rcpt_to.push(rcpt);
    }
    if let Some(verifier) = verifier {
        authenticate_message(verifier, &mut ctx, message.raw(), &message).await;
    }
    run(&mut ctx, StageInput::Data(message)).await;
    Ok(Checked {
        stage: Stage::Data,
        decision: pipeline.decide(&results),
        client,
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
