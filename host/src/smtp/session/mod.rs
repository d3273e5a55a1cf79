//! One SMTP session: the read loop (idle timeouts, shutdown answered 421), the receivers
//! that turn bytes into commands and messages, and dispatch to one handler per command.
//! STARTTLS changes the stream type and starts the conversation over: the phase is reset
//! and any input the client pipelined after STARTTLS is discarded (RFC 3207 §4.2), so no
//! command can be smuggled across the TLS boundary. On a `submissions` listener TLS comes
//! first, before the greeting.

mod auth;
mod budget;
mod commands;
mod data;
mod decision_log;
mod sender_auth;
mod state;
mod verify;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use self::state::Phase;
use super::listener::ConnectionSlots;
use super::proto::{
    BareLfPolicy, BdatEnd, BdatReceiver, DataEnd, DataReceiver, LineEvent, LineReceiver,
    SaslExchange,
};
use super::relay::RelayPolicy;
use super::reply::Reply;
use crate::config::{BareLineEndingPolicy, ListenerKind, SmtpConfig, Stage};
use crate::filter::pipeline::{Direction, StageInput};
use crate::filter::{Action, Decision, Pipeline, PluginResult, SessionContext};
use crate::queue::Queue;

/// What every session of a gateway shares.
pub struct SessionParams {
    /// The name in the banner and Received headers.
    pub hostname: String,
    /// Limits and timeouts.
    pub smtp: SmtpConfig,
    /// Which recipients are accepted.
    pub relay: RelayPolicy,
    /// The STARTTLS acceptor, if TLS is configured.
    pub tls: Option<TlsAcceptor>,
    /// The filter pipeline in force (a session takes it once, when it starts).
    pub pipeline: Arc<crate::filter::live::LivePipeline>,
    /// The durable queue.
    pub queue: Queue,
    /// The resolver for the client's reverse name; `None` when DNS is unavailable.
    pub resolver: Option<crate::dns::Resolver>,
    /// Counter for session ids.
    pub sessions: AtomicU64,
    /// What `/metrics` reports.
    pub metrics: crate::smtp::metrics::SmtpMetrics,
    /// Wall-clock time (the `Received` header's date).
    pub clock: crate::time::Clock,
    /// The memory for mail in flight (`[smtp] max_inflight_bytes`).
    pub budget: Arc<crate::smtp::budget::MemoryBudget>,
    /// Outcome stages running in the background at most (learning is dropped past it).
    pub outcomes: Arc<tokio::sync::Semaphore>,
    /// The header fields removed from every message before the filters see it.
    pub strip: crate::smtp::header_fields::HeaderStrip,
    /// The verdict fields added to accepted mail (`[headers]`).
    pub headers: crate::config::HeadersConfig,
    /// The accounts and limits of the submission listeners; `None` when there are none.
    pub submission: Option<Arc<crate::auth::Submission>>,
    /// Asks the protected server whether a recipient exists (`[relay]
    /// verify_recipients`); `None` when off.
    pub verifier: Option<crate::smtp::verify::RecipientVerifier>,
    /// SPF, DKIM, DMARC and ARC checks, the `Authentication-Results` field and DKIM
    /// signing of submitted mail.
    pub sender_auth: crate::sender_auth::SenderAuthService,
    /// The decision log (`[decisions]`).
    pub decisions: crate::decisions::DecisionLog,
}

/// What the conversation asks of the connection next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Keep reading.
    Continue,
    /// Reply sent; switch to TLS.
    StartTls,
    /// Reply sent; close.
    Close,
}

/// What bytes from the client are currently taken as.
enum Mode {
    /// Command lines.
    Command(LineReceiver),
    /// Message data after DATA.
    Data(DataReceiver),
    /// A BDAT chunk.
    Bdat(BdatChunk),
}

/// A BDAT chunk being read.
struct BdatChunk {
    receiver: BdatReceiver,
    /// False when the BDAT was out of sequence: its bytes are read and dropped, then it is
    /// refused.
    in_sequence: bool,
    /// Whether it is the message's last chunk.
    last: bool,
}

/// One session's state.
struct Session {
    params: Arc<SessionParams>,
    /// The plugin set this session started with; a reload does not change it.
    pipeline: Arc<Pipeline>,
    /// What the listener is for (MX or submission).
    kind: ListenerKind,
    id: Arc<str>,
    ctx: SessionContext,
    /// An AUTH exchange waiting for the client's next response line.
    sasl: Option<SaslExchange>,
    /// Results of the connect and helo stages, which count for every message.
    session_results: Vec<PluginResult>,
    /// How many of `ctx.annotations` belong to the session rather than a transaction.
    session_annotations: usize,
    phase: Phase,
    tls_active: bool,
    /// The filters refused the connection: only QUIT is answered normally.
    refused: bool,
    commands: usize,
    errors: usize,
    messages: u64,
    /// SPF checks this session has caused (bounded: `sender_auth::MAX_SPF_CHECKS`).
    spf_checks: u32,
    out: Vec<u8>,
    /// The listener's connection slots; `None` once the last reply is on its way.
    slots: Option<ConnectionSlots>,
    /// When the session ends, however busy (`[smtp] max_session_time`).
    deadline: tokio::time::Instant,
    /// Whether the listener is under stress (idle sessions then get `stress_timeout`).
    stress: tokio::sync::watch::Receiver<bool>,
    /// The message's share of the memory for mail in flight, while one is received.
    reservation: Option<crate::smtp::budget::Reservation>,
    /// The message being received could not be covered: it is being dropped.
    over_budget: bool,
}

/// The most read from the client at once.
const MAX_READ: usize = 64 << 10;

/// Runs a session on an accepted connection until it ends.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    listener: (String, ListenerKind),
    params: Arc<SessionParams>,
    shutdown: CancellationToken,
    slots: ConnectionSlots,
) {
    let (listener, kind) = listener;
    let n = params.sessions.fetch_add(1, Ordering::Relaxed);
    let id: Arc<str> = Arc::from(format!("{n:x}"));
    let span = tracing::info_span!("smtp.session", session_id = %id, client_ip = %peer.ip(), listener = %listener);
    async move {
        let _ = stream.set_nodelay(true);
        let mut session = Session::new(params, id, peer, kind, slots);
        session.serve(stream, shutdown).await;
        tracing::debug!(messages = session.messages, "session closed");
    }
    .instrument(span)
    .await;
}

impl Session {
    fn new(
        params: Arc<SessionParams>,
        id: Arc<str>,
        peer: SocketAddr,
        kind: ListenerKind,
        slots: ConnectionSlots,
    ) -> Self {
        let ctx = SessionContext::connected(id.clone(), peer);
        let params_deadline = params.smtp.max_session_time.0;
        let stress = slots.stress();
        Self {
            pipeline: params.pipeline.current(),
            params,
            kind,
            id,
            ctx,
            sasl: None,
            session_results: Vec::new(),
            session_annotations: 0,
            phase: Phase::Greeting,
            tls_active: false,
            refused: false,
            commands: 0,
            errors: 0,
            messages: 0,
            spf_checks: 0,
            out: Vec::new(),
            slots: Some(slots),
            deadline: tokio::time::Instant::now() + params_deadline,
            stress,
            reservation: None,
            over_budget: false,
        }
    }

    /// Gives the listener's connection slots back before the last reply is written. A client
    /// may open its next connection as soon as it reads 221; it must not then meet the cap
    /// for a session that is only closing its socket.
    fn release_slots(&mut self) {
        self.slots = None;
    }

    async fn serve(&mut self, mut stream: TcpStream, shutdown: CancellationToken) {
        if self.kind == ListenerKind::Submissions {
            return self.serve_implicit_tls(stream, shutdown).await;
        }
        if self.talked_before_greeting(&mut stream).await {
            tracing::info!("client talked before the greeting");
            self.reply(Reply::pregreet());
            let _ = self.flush(&mut stream).await;
            return;
        }
        if self.greet().await == Next::Close {
            self.release_slots();
            let _ = self.flush(&mut stream).await;
            return;
        }
        let mut pending = Vec::new();
        match self.converse(&mut stream, &mut pending, &shutdown).await {
            Next::StartTls => {}
            Next::Close | Next::Continue => return,
        }
        let Some(mut tls) = self.handshake(stream).await else {
            return;
        };
        // RFC 3207 §4.2: forget everything learnt before TLS; the client greets again.
        self.phase = Phase::Greeting;
        self.ctx.client.helo = None;
        self.ctx.client.authenticated_user = None;
        self.sasl = None;
        pending.clear();
        let _ = self.converse(&mut tls, &mut pending, &shutdown).await;
        self.close_tls(&mut tls).await;
    }

    /// Sends TLS's close_notify, unless the client stopped reading.
    async fn close_tls<S: AsyncWrite + Unpin>(&self, tls: &mut S) {
        let limit = self.params.smtp.command_timeout.0;
        let _ = tokio::time::timeout(limit, tls.shutdown()).await;
    }

    /// A `submissions` session: the TLS handshake, then the greeting and the conversation.
    async fn serve_implicit_tls(&mut self, stream: TcpStream, shutdown: CancellationToken) {
        let Some(mut tls) = self.handshake(stream).await else {
            return;
        };
        if self.greet().await == Next::Close {
            self.release_slots();
            let _ = self.flush(&mut tls).await;
            return;
        }
        let mut pending = Vec::new();
        let _ = self.converse(&mut tls, &mut pending, &shutdown).await;
        self.close_tls(&mut tls).await;
    }

    /// The server side of a TLS handshake, within the command timeout; records the version
    /// and cipher for the filters and the Received header.
    async fn handshake(
        &mut self,
        stream: TcpStream,
    ) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
        let acceptor = self.params.tls.clone()?;
        let handshake =
            tokio::time::timeout(self.params.smtp.command_timeout.0, acceptor.accept(stream)).await;
        let tls = match handshake {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::info!(%error, "TLS handshake failed");
                return None;
            }
            Err(_) => {
                tracing::info!("TLS handshake timed out");
                return None;
            }
        };
        let info = super::tls::session_info(tls.get_ref().1);
        tracing::debug!(version = %info.version, cipher = %info.cipher, "TLS established");
        self.ctx.client.tls = Some(info);
        self.tls_active = true;
        Some(tls)
    }

    /// Postscreen's pregreet test: wait `greeting_delay` and see whether the client spoke.
    async fn talked_before_greeting(&self, stream: &mut TcpStream) -> bool {
        let delay = self.params.smtp.greeting_delay.0;
        if delay.is_zero() {
            return false;
        }
        let mut probe = [0u8; 1];
        matches!(tokio::time::timeout(delay, stream.peek(&mut probe)).await, Ok(Ok(n)) if n > 0)
    }

    /// Runs the connect stage and queues the greeting (or the refusal). On a submission
    /// listener the connect and HELO stages wait for the login (`auth.rs`): an anonymous
    /// client there can do nothing but log in, and plugins should judge the user, not the
    /// address (a user on a dynamic address that a block list names must still send).
    async fn greet(&mut self) -> Next {
        let ip = self.ctx.client.ip;
        if self.params.smtp.reverse_dns
            && crate::dns::reverse::is_public(ip)
            && let Some(resolver) = &self.params.resolver
        {
            self.ctx.client.reverse_dns = crate::dns::reverse::verified_name(resolver, ip).await;
        }
        let results = if self.kind.is_submission() {
            Vec::new()
        } else {
            self.pipeline
                .run_stage(&mut self.ctx, &StageInput::Connect)
                .await
        };
        let decision = self.decide(&results);
        if matches!(decision.action, Action::Reject | Action::Tempfail) {
            self.log_decision(None, Stage::Connect, &decision, &results, None, None);
        }
        self.session_results = results;
        self.session_annotations = self.ctx.annotations.len();
        match decision.action {
            Action::Reject => {
                tracing::info!(score = decision.score, "connection rejected by filters");
                self.refused = true;
                self.reply(Reply::rejected_at_connect(
                    &crate::smtp::headers::top_symbols(&decision, 3),
                ));
                Next::Continue
            }
            Action::Tempfail => {
                self.reply(Reply::tempfail_at_connect());
                Next::Close
            }
            _ => {
                self.reply(Reply::greeting(&self.params.hostname));
                Next::Continue
            }
        }
    }

    /// Queues a reply; replies are written when the client's input is used up, so
    /// pipelined commands get their replies in one write (RFC 2920).
    fn reply(&mut self, reply: Reply) {
        tracing::debug!(code = reply.code, "reply");
        self.out.extend_from_slice(reply.to_wire().as_bytes());
    }

    /// Writes the queued replies, within `command_timeout`: a client that pipelines and
    /// never reads must not keep its slot by filling the socket's buffers.
    async fn flush<S: AsyncWrite + Unpin>(&mut self, stream: &mut S) -> std::io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let limit = self.params.smtp.command_timeout.0;
        let out = &self.out;
        let written = tokio::time::timeout(limit, async {
            stream.write_all(out).await?;
            stream.flush().await
        })
        .await;
        match written {
            Ok(result) => result?,
            Err(_) => {
                tracing::info!("the client does not read its replies: closing");
                return Err(std::io::ErrorKind::TimedOut.into());
            }
        }
        self.out.clear();
        Ok(())
    }

    /// The read loop: feed input through the current receiver, act on what comes out,
    /// answer, read more.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        pending: &mut Vec<u8>,
        shutdown: &CancellationToken,
    ) -> Next {
        let smtp = &self.params.smtp;
        let mut mode = Mode::Command(LineReceiver::new(smtp.max_line_length));
        // Small while the client is idle (thousands of idle sessions must stay cheap),
        // grown once it sends more than that at a time.
        let mut read_buf = vec![0u8; 4 << 10];
        let mut stress = self.stress.clone();
        let mut idle_since = tokio::time::Instant::now();
        loop {
            while !pending.is_empty() {
                let (consumed, next) = self.ingest(&mut mode, pending).await;
                pending.drain(..consumed);
                match next {
                    Next::Continue => {}
                    Next::StartTls => {
                        pending.clear();
                        return if self.flush(stream).await.is_ok() {
                            Next::StartTls
                        } else {
                            Next::Close
                        };
                    }
                    Next::Close => {
                        self.release_slots();
                        let _ = self.flush(stream).await;
                        return Next::Close;
                    }
                }
            }
            if self.flush(stream).await.is_err() {
                return Next::Close;
            }
            let idle_until = idle_since + self.idle_limit(&mode, *stress.borrow());
            tokio::select! {
                read = stream.read(&mut read_buf) => match read {
                    Ok(0) | Err(_) => return Next::Close,
                    Ok(n) => {
                        pending.extend_from_slice(&read_buf[..n]);
                        idle_since = tokio::time::Instant::now();
                        if n == read_buf.len() && read_buf.len() < MAX_READ {
                            read_buf.resize(MAX_READ, 0);
                        }
                    }
                },
                () = tokio::time::sleep_until(idle_until) => {
                    self.reply(Reply::idle_timeout(&self.params.hostname));
                    let _ = self.flush(stream).await;
                    return Next::Close;
                }
                // The idle limit is worked out again when the listener's stress changes.
                Ok(()) = stress.changed() => {}
                () = shutdown.cancelled() => {
                    self.reply(Reply::shutting_down(&self.params.hostname));
                    let _ = self.flush(stream).await;
                    return Next::Close;
                }
                () = tokio::time::sleep_until(self.deadline) => {
                    tracing::info!("session open for too long: closing");
                    self.release_slots();
                    self.reply(Reply::session_too_long(&self.params.hostname));
                    let _ = self.flush(stream).await;
                    return Next::Close;
                }
            }
        }
    }

    /// How long the client may stay silent in `mode`: `data_timeout` in a message,
    /// `command_timeout` between commands, and `stress_timeout` before MAIL while the
    /// listener is under stress (idle sessions go first, as in Postfix's stress mode).
    fn idle_limit(&self, mode: &Mode, stressed: bool) -> std::time::Duration {
        let smtp = &self.params.smtp;
        match mode {
            Mode::Command(_) if stressed && !matches!(self.phase, Phase::Transaction(_)) => {
                smtp.stress_timeout.0.min(smtp.command_timeout.0)
            }
            Mode::Command(_) => smtp.command_timeout.0,
            _ => smtp.data_timeout.0,
        }
    }

    /// Feeds `input` to the current receiver; returns the bytes consumed and what next.
    async fn ingest(&mut self, mode: &mut Mode, input: &[u8]) -> (usize, Next) {
        match mode {
            Mode::Command(receiver) => {
                let (consumed, event) = receiver.ingest(input);
                let next = match event {
                    None => Next::Continue,
                    Some(LineEvent::Line(line)) => self.command(&line, mode).await,
                    Some(LineEvent::TooLong) => self.client_error(Reply::line_too_long()),
                    Some(LineEvent::ContainsNul) => self.client_error(Reply::nul_in_command()),
                };
                (consumed, next)
            }
            Mode::Data(receiver) => {
                let (consumed, end) = receiver.ingest(input);
                let Some(end) = end else {
                    if !self.keep_within_budget(receiver.held()) {
                        receiver.discard();
                    }
                    return (consumed, Next::Continue);
                };
                *mode = self.command_mode();
                let reply = match end {
                    DataEnd::Complete(message)
                        if self.over_budget || !self.keep_within_budget(message.bytes.len()) =>
                    {
                        self.abort_message(Reply::inflight_full())
                    }
                    DataEnd::Complete(message) => self.finish_message(message).await,
                    DataEnd::TooLarge => self.abort_message(Reply::message_too_large(
                        self.params.smtp.max_message_size.0,
                    )),
                    DataEnd::BareLineEnding => self.abort_message(Reply::bare_line_ending()),
                };
                self.reply(reply);
                (consumed, Next::Continue)
            }
            Mode::Bdat(chunk) => {
                let (consumed, end) = chunk.receiver.ingest(input);
                if !self.keep_within_budget(chunk.receiver.held()) {
                    chunk.receiver.discard();
                }
                let Some(end) = end else {
                    return (consumed, Next::Continue);
                };
                let Mode::Bdat(chunk) = std::mem::replace(mode, self.command_mode()) else {
                    return (consumed, Next::Continue);
                };
                let reply = self.bdat_chunk(chunk, end).await;
                self.reply(reply);
                (consumed, Next::Continue)
            }
        }
    }

    fn command_mode(&self) -> Mode {
        Mode::Command(LineReceiver::new(self.params.smtp.max_line_length))
    }

    fn data_mode(&self) -> Mode {
        let policy = match self.params.smtp.bare_line_endings {
            BareLineEndingPolicy::Reject => BareLfPolicy::Reject,
            BareLineEndingPolicy::Normalize => BareLfPolicy::Normalize,
        };
        Mode::Data(DataReceiver::new(
            self.params.smtp.max_message_size.0,
            policy,
        ))
    }

    /// Combines `results` with the thresholds of this listener's direction: a submission
    /// listener's mail is outbound.
    fn decide(&self, results: &[PluginResult]) -> Decision {
        self.pipeline.decide_as(self.direction(), results)
    }

    /// Which way this session's mail travels: out from a submission listener, else in.
    fn direction(&self) -> Direction {
        if self.kind.is_submission() {
            Direction::Outbound
        } else {
            Direction::Inbound
        }
    }

    /// Counts a client error, replies, and closes the session after too many.
    fn client_error(&mut self, reply: Reply) -> Next {
        self.errors += 1;
        self.reply(reply);
        if self.errors >= self.params.smtp.max_errors {
            self.reply(Reply::too_many_errors());
            return Next::Close;
        }
        Next::Continue
    }

    /// Ends the transaction with an error reply.
    fn abort_message(&mut self, reply: Reply) -> Reply {
        self.reservation = None;
        self.over_budget = false;
        self.phase.reset();
        self.ctx.annotations.truncate(self.session_annotations);
        reply
    }

    /// The stage results so far for a decision: the session's and the transaction's.
    fn results_with(
        &self,
        transaction: &[PluginResult],
        stage: &[PluginResult],
    ) -> Vec<PluginResult> {
        self.session_results
            .iter()
            .chain(transaction)
            .chain(stage)
            .cloned()
            .collect()
    }

    /// Acts on the end of a BDAT chunk: keeps the receiver for the next chunk, or finishes
    /// (or refuses) the message after the last one.
    async fn bdat_chunk(&mut self, chunk: BdatChunk, end: BdatEnd) -> Reply {
        let BdatChunk {
            receiver,
            in_sequence,
            last,
        } = chunk;
        if !in_sequence {
            return self.abort_message(Reply::bad_sequence(
                "send MAIL FROM and RCPT TO before BDAT",
            ));
        }
        match end {
            BdatEnd::Chunk { total } => {
                if let Phase::Transaction(t) = &mut self.phase {
                    t.bdat = Some(receiver);
                }
                if self.over_budget {
                    // Later chunks of this message are still read and dropped until LAST.
                    return Reply::inflight_full();
                }
                Reply::chunk_ok(total)
            }
            BdatEnd::Complete(_) if self.over_budget => self.abort_message(Reply::inflight_full()),
            BdatEnd::TooLarge => {
                let reply = Reply::message_too_large(self.params.smtp.max_message_size.0);
                // Later chunks of this message are still read and refused until LAST.
                match &mut self.phase {
                    Phase::Transaction(t) if !last => t.bdat = Some(receiver),
                    _ => return self.abort_message(reply),
                }
                reply
            }
            BdatEnd::Complete(mut message) => {
                if message.has_bare_line_ending {
                    if self.params.smtp.bare_line_endings == BareLineEndingPolicy::Reject {
                        return self.abort_message(Reply::bare_line_ending());
                    }
                    message.bytes = data::normalize_line_endings(&message.bytes);
                }
                self.finish_message(message).await
            }
        }
    }
}
