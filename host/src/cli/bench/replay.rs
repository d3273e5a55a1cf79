//! `moat bench replay`: how long `moat replay` takes on a decision log of N decisions.
//! Writes a log of synthetic decisions shaped like a gateway's (five plugins, a dozen
//! symbols each, bayes bands, one in ten labelled) into a temporary folder, then times
//! reading it and re-weighing every decision under a candidate with one weight changed,
//! as `moat replay` does.

use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;

use crate::cli::output::say;
use crate::config::{Config, Stage};
use crate::decisions::{
    DecisionRecord, Entry, LabelEvent, LabelSource, LoggedClient, LoggedOutcome, LoggedResult,
    ReplayWeights, Truth, append_now, replay_log,
};
use crate::filter::Action;
use crate::filter::pipeline::Direction;

/// `moat bench replay` arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Decisions in the log.
    #[arg(long, default_value_t = 10_000)]
    pub decisions: usize,
    /// One JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the benchmark.
pub(super) fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join("decisions");
    let started = Instant::now();
    let mut lines = Vec::new();
    for n in 0..args.decisions {
        lines.extend(Entry::Decision(synthetic(n)).to_line());
        if n.is_multiple_of(10) {
            lines.extend(
                Entry::Label(LabelEvent {
                    time: 2_000_000_000_000,
                    truth: Some(if n.is_multiple_of(20) {
                        Truth::Spam
                    } else {
                        Truth::Ham
                    }),
                    source: LabelSource::Learn,
                    queue_id: Some(format!("Q{n}")),
                    message_id: None,
                    digest: None,
                })
                .to_line(),
            );
        }
    }
    append_now(&dir, &lines, 1_700_000_000_000)?;
    let written = started.elapsed();
    let candidate = Config::parse(
        "[plugin.headers.symbols]\nMISSING_DATE = 3.0\n",
        "the benchmark's candidate",
    )?;
    let started = Instant::now();
    let (weights, _) = ReplayWeights::from_config(&candidate);
    let (comparison, _) = replay_log(&dir, None, &weights)?;
    let replayed = started.elapsed();
    if args.json {
        say!(
            "{}",
            json!({
                "decisions": comparison.messages,
                "log_bytes": lines.len(),
                "changed": comparison.changed.len(),
                "replay_seconds": replayed.as_secs_f64(),
                "write_seconds": written.as_secs_f64(),
            })
        );
    } else {
        say!(
            "{} decisions ({:.1} MiB of log): replayed in {:.3} s ({:.0} decisions/s), {} change action",
            comparison.messages,
            lines.len() as f64 / f64::from(1 << 20),
            replayed.as_secs_f64(),
            comparison.messages as f64 / replayed.as_secs_f64().max(1e-9),
            comparison.changed.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The `n`th synthetic decision: headers, bayes, reputation, dnsbl and auth answers.
fn synthetic(n: usize) -> DecisionRecord {
    let answered = |plugin: &str, stage: Stage, symbols: &[(&str, f64)]| LoggedResult {
        plugin: plugin.to_owned(),
        stage,
        default_weight: 1.0,
        outcome: LoggedOutcome::Answered {
            symbols: symbols.iter().map(|(s, v)| ((*s).to_owned(), *v)).collect(),
            hard_action: None,
        },
    };
    let bayes = match n % 4 {
        0 => ("BAYES_SPAM", 4.5),
        1 => ("BAYES_HAM", -2.0),
        2 => ("BAYES_90", 0.75),
        _ => ("BAYES_UNSURE", 0.0),
    };
    let missing_date = if n.is_multiple_of(7) { 1.0 } else { 0.0 };
    let results = vec![
        answered("dnsbl", Stage::Connect, &[("DNSBL_CLEAN", 0.0)]),
        answered(
            "reputation",
            Stage::Connect,
            &[("REP_IP_NEW", 0.5), ("REP_NET_GOOD", -0.5)],
        ),
        answered(
            "auth",
            Stage::Data,
            &[
                ("SPF_PASS", -0.5),
                ("DKIM_VALID", -0.5),
                ("DMARC_PASS", -1.0),
            ],
        ),
        answered(
            "headers",
            Stage::Data,
            &[
                ("MISSING_DATE", missing_date),
                ("HTML_ONLY", 0.5),
                ("URL_NUMERIC_IP", 0.0),
            ],
        ),
        answered("bayes", Stage::Data, &[bayes]),
    ];
    let score = results.iter().fold(0.0, |sum, r| match &r.outcome {
        LoggedOutcome::Answered { symbols, .. } => {
            sum + symbols.iter().map(|(_, s)| s).sum::<f64>()
        }
        _ => sum,
    });
    DecisionRecord {
        time: 1_700_000_000_000 + n as u64,
        queue_id: Some(format!("Q{n}")),
        digest: format!("{n:032x}"),
        message_id: Some(format!("{n}@sender.example")),
        subject: Some(format!("message {n}")),
        direction: Direction::Inbound,
        stage: Stage::Data,
        client: LoggedClient {
            ip: format!("192.0.2.{}", n % 250),
            helo: Some("mail.sender.example".into()),
            reverse_dns: Some("mail.sender.example".into()),
            user: None,
        },
        mail_from: format!("user{n}@sender.example"),
        rcpt_to: vec!["alice@example.test".into()],
        action: if score >= 5.0 {
            Action::Tag
        } else {
            Action::Accept
        },
        score,
        results,
    }
}
