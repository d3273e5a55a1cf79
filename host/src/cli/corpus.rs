//! A labelled corpus (`DIR/spam/` and `DIR/ham/`, message files or mbox files in each)
//! run through the whole pipeline offline, as `moat check` runs a message: each
//! message's plugin answers and decision in the decision log's form, with its truth.
//! `moat replay --corpus`, `moat tune --corpus` and `moat bench quality` start here.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::check_client::relays_with_loopback;
use super::check_envelope::EnvelopeOverrides;
use super::check_run::{CheckEnv, Checked, check_message};
use crate::config::Config;
use crate::decisions::{
    DecisionRecord, LoggedClient, LoggedDecision, LoggedResult, MessageIdentity, Truth,
};
use crate::filter::Pipeline;
use crate::filter::assemble::assemble_for_check;
use crate::filter::pipeline::Direction;
use crate::message::mailbox::{files_under, read_file};

/// What running a corpus gave.
pub(super) struct CorpusRun {
    /// Each message's decision and truth, spam first.
    pub(super) decisions: Vec<LoggedDecision>,
    /// Files that could not be read or were not messages.
    pub(super) unreadable: usize,
    /// How long it took.
    pub(super) elapsed: Duration,
}

/// A message of a labelled corpus: its file and what it is.
pub(super) struct Sample {
    /// The file.
    pub(super) path: PathBuf,
    /// Spam or ham, by its folder.
    pub(super) truth: Truth,
}

/// The message files under `dir/spam` and `dir/ham`, spam first, each in name order.
pub(super) fn labelled_samples(dir: &Path) -> anyhow::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for (truth, name) in [(Truth::Spam, "spam"), (Truth::Ham, "ham")] {
        let folder = dir.join(name);
        if !folder.is_dir() {
            bail!(
                "{} is not a labelled corpus: it needs spam/ and ham/ folders ({} is missing)",
                dir.display(),
                folder.display()
            );
        }
        for path in files_under(std::slice::from_ref(&folder))? {
            samples.push(Sample { path, truth });
        }
    }
    Ok(samples)
}

/// Runs every message under `dir/spam` and `dir/ham` through `config`'s pipeline (its
/// plugins' state read from its data dir, nothing written).
pub(super) async fn run_corpus(config: &Config, dir: &Path) -> anyhow::Result<CorpusRun> {
    let samples = labelled_samples(dir)?;
    super::ensure_dir(&config.server.data_dir)?;
    let assembled = assemble_for_check(config, &config.server.data_dir)
        .await
        .context("cannot set up the filter pipeline")?;
    super::report_load_errors(&assembled.load_errors);
    let relays = relays_with_loopback(&config.relay.trusted_relays)?;
    let verifier =
        crate::server::sender_auth_service(config, assembled.services.resolver.as_ref())?.verifier;
    let env = CheckEnv {
        pipeline: &assembled.pipeline,
        relays: &relays,
        verifier: verifier.as_deref(),
    };
    Ok(check_samples(&env, &samples).await)
}

/// Runs `samples` through `env`'s pipeline, printing progress on stderr when that is a
/// terminal.
pub(super) async fn check_samples(env: &CheckEnv<'_>, samples: &[Sample]) -> CorpusRun {
    let progress = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut run = CorpusRun {
        decisions: Vec::with_capacity(samples.len()),
        unreadable: 0,
        elapsed: Duration::ZERO,
    };
    let overrides = EnvelopeOverrides::default();
    for (n, sample) in samples.iter().enumerate() {
        let messages = match read_file(&sample.path) {
            Ok(messages) => messages,
            Err(error) => {
                tracing::debug!(file = %sample.path.display(), %error, "not read");
                run.unreadable += 1;
                continue;
            }
        };
        for message in messages {
            match check_message(env, &overrides, message.raw, n + 1).await {
                Ok(checked) => run.decisions.push(LoggedDecision {
                    record: record_of(&checked, env.pipeline),
                    truth: Some(sample.truth),
                }),
                Err(error) => {
                    tracing::debug!(file = %message.origin, %error, "not checked");
                    run.unreadable += 1;
                }
            }
        }
        if progress && (n + 1) % 50 == 0 {
            let rate = (n + 1) as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprint!(
                "\r  {} of {} messages checked ({rate:.0}/s) ",
                n + 1,
                samples.len()
            );
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprint!("\r\x1b[K");
    }
    run.elapsed = started.elapsed();
    run
}

/// A checked message in the decision log's form.
pub(super) fn record_of(checked: &Checked, pipeline: &Pipeline) -> DecisionRecord {
    let message = &checked.message;
    let identity = MessageIdentity::of(message);
    DecisionRecord {
        time: crate::time::now_ms(),
        queue_id: None,
        digest: identity.digest,
        message_id: identity.message_id,
        subject: DecisionRecord::subject_of(message),
        direction: Direction::Inbound,
        stage: checked.stage,
        client: LoggedClient {
            ip: checked.client.ip.to_string(),
            helo: Some(checked.client.helo.clone()),
            reverse_dns: checked.client.reverse_dns.clone(),
            user: None,
        },
        mail_from: checked.mail_from.clone(),
        rcpt_to: checked.rcpt_to.clone(),
        action: checked.decision.action,
        score: checked.decision.score,
        results: LoggedResult::all(&checked.results, pipeline.plugins()),
    }
}
