//! `moat check`: run messages through the whole filter pipeline offline — the stages an
//! SMTP session would run, in order, stopping where a session would be refused — and print
//! each decision with its report. Checking teaches nothing: the outcome stage is not run,
//! and the plugins' kv writes (reputation windows, say) go to a throw-away overlay of the
//! live state (`store::OverlayKv`). The client is the one the message's Received chain
//! names (`check_client.rs`), the envelope is its Return-Path and To and Cc
//! (`check_envelope.rs`), and sender authentication runs as in a session
//! (`filter::sender_context`, shared with the sessions). One message's run is
//! `check_run.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;

use super::check_client::relays_with_loopback;
use super::check_envelope::EnvelopeOverrides;
use super::check_run::{CheckEnv, Checked, check_message};
use super::{ConfigArgs, ensure_dir, report_load_errors};
use crate::cli::output::{say, say_part};
use crate::filter::assemble::assemble_for_check;
use crate::filter::report;

/// `moat check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Config and data dir (kv state such as Bayes tokens is read from the data dir).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The client and envelope (default: what the message says).
    #[command(flatten)]
    pub envelope: EnvelopeOverrides,
    /// One JSON object per message per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Message files (an mbox file: each message in it, as `FILE#N`), or directories to
    /// walk for them.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
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
        match check_message(&env, &args.envelope, message.raw, n + 1).await {
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
