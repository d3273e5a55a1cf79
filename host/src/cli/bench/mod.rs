//! `moat bench`: benchmarks that print figures (they judge nothing; compare runs).

mod bayes;
mod dnsbl;
mod floods;
mod flush;
mod latency;
mod memory;
mod ocr;
mod pipeline;
mod quality;
mod queue;
mod replay;
mod sender_auth;
mod smtp;
mod spamassassin;

use std::process::ExitCode;

/// `moat bench ...`
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Throughput and CPU per message of the data stage with N plugins chained, over
    /// messages of given sizes, or of the bundled plugins at every stage of a session.
    Pipeline(pipeline::PipelineArgs),
    /// The connect stage with the dnsbl plugin and three lists on a loopback rbldnsd,
    /// cold and warm cache.
    Dnsbl(dnsbl::DnsblArgs),
    /// Durable acceptance over SMTP on loopback: messages/s and reply latency for several
    /// sizes and session counts, with and without the bundled plugins.
    Smtp(smtp::SmtpArgs),
    /// OCR cost per image through the configured engine and its bounds: each image read
    /// cold, then the cache hit path.
    Ocr(ocr::OcrArgs),
    /// Accuracy and speed of the Bayesian plugin on a corpus split (spam caught, ham
    /// flagged, unsure; training and scoring messages/s), optionally beside bogofilter.
    Bayes(bayes::BayesArgs),
    /// What the queue's length costs: filling it, reopening it, the counts behind
    /// `/metrics` and `moat queue stats`, and resident memory over hold/release passes.
    Queue(queue::QueueArgs),
    /// How fast a backlog drains: N messages deferred, then flushed to smtp-sink on
    /// loopback through the real scheduler and SMTP client, timed until the queue is empty.
    Flush(flush::FlushArgs),
    /// What floods cost: a new client's wait behind thousands of idle connections, and
    /// the peak memory of many large messages at once against the memory budget.
    Floods(floods::FloodsArgs),
    /// What checking a message's sender costs (SPF, DKIM, ARC, DMARC) against NSD on
    /// loopback: the first message cold, then every answer from the resolver's cache.
    SenderAuth(sender_auth::SenderAuthArgs),
    /// Spam caught and ham flagged by the whole pipeline on a corpus split, with default
    /// and with tuned weights, beside bogofilter and SpamAssassin on the same split.
    Quality(quality::QualityArgs),
    /// How long `moat replay` takes on a decision log of N synthetic decisions.
    Replay(replay::ReplayArgs),
}

/// Runs the benchmark.
pub(super) async fn run(command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Pipeline(args) => pipeline::run(args).await,
        BenchCommand::Smtp(args) => smtp::run(args).await,
        BenchCommand::Dnsbl(args) => dnsbl::run(args).await,
        BenchCommand::Ocr(args) => ocr::run(args).await,
        BenchCommand::Bayes(args) => bayes::run(args).await,
        BenchCommand::Queue(args) => queue::run(args).await,
        BenchCommand::Floods(args) => floods::run(args).await,
        BenchCommand::Flush(args) => flush::run(args).await,
        BenchCommand::SenderAuth(args) => sender_auth::run(args).await,
        BenchCommand::Quality(args) => quality::run(args).await,
        BenchCommand::Replay(args) => replay::run(&args),
    }
}
