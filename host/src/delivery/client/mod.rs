//! The SMTP client: one connection to a next hop, over which any number of messages go.
//!
//! [`Connection::open`] connects, reads the greeting, says EHLO (HELO if refused), starts
//! TLS as the route's policy says (a second EHLO after it), and authenticates if the route
//! has credentials. [`Connection::send`] sends one message and gives one outcome per
//! recipient: with PIPELINING, MAIL, every RCPT and DATA go in one write (RFC 2920); SIZE
//! is declared and checked, BODY=8BITMIME and SMTPUTF8 passed on when the message was
//! received with them and the server offers them. A message whose addresses need SMTPUTF8
//! is refused for good (553 5.6.7) by a server without it, and one over the server's SIZE
//! for good too (552 5.3.4), without sending. To a server without 8BITMIME, 8-bit body
//! parts go as quoted-printable (`seven_bit`). Every read and write is bounded in time.
//!
//! Why not a client crate: mail-send (the well-kept Rust one) gives one result per message
//! — a refused RCPT fails the whole send — and has no pipelining or per-route TLS policy,
//! while per-recipient outcomes are the point here; the protocol needed is small.
//!
//! * `reply`: reading a reply; `ehlo`: the capabilities; `data`: dot-stuffing;
//!   `seven_bit`: 8-bit to quoted-printable; `tls`: the rustls client configuration;
//!   `probe`: `MAIL FROM:<>` and one `RCPT TO` without DATA, for recipient verification.

mod data;
mod ehlo;
mod myself;
mod probe;
mod reply;
mod seven_bit;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tracing::debug;

pub use ehlo::Capabilities;
pub use myself::Myself;
pub use probe::ProbeReply;
pub use reply::Reply;
pub use tls::VerifiedTls;

use super::outcome::Outcome;
use crate::config::{AuthConfig, TlsPolicy};

/// What every connection needs: our name and the time limits.
#[derive(Clone)]
pub struct ClientParams {
    /// The name given in EHLO.
    pub helo: String,
    /// Time to open a TCP connection.
    pub connect_timeout: Duration,
    /// Time to wait for a reply (or to write a command).
    pub command_timeout: Duration,
    /// Time to write the message and wait for the reply after its final dot.
    pub data_timeout: Duration,
    /// STARTTLS's rustls client.
    pub tls: TlsConnector,
    /// Our own listeners, never delivered to.
    pub myself: Myself,
}

impl ClientParams {
    /// The parameters with a TLS client that accepts any certificate (see `tls`).
    pub fn new(
        helo: String,
        connect_timeout: Duration,
        command_timeout: Duration,
        data_timeout: Duration,
    ) -> Result<Self, rustls::Error> {
        Ok(Self {
            helo,
            connect_timeout,
            command_timeout,
            data_timeout,
            tls: tls::connector()?,
            myself: Myself::default(),
        })
    }

    /// The same parameters, refusing to deliver to `myself`'s listeners.
    #[must_use]
    pub fn not_to(mut self, myself: Myself) -> Self {
        self.myself = myself;
        self
    }
}

impl std::fmt::Debug for ClientParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientParams")
            .field("helo", &self.helo)
            .finish_non_exhaustive()
    }
}

/// Why a connection could not be opened or broke: every recipient not yet answered is
/// deferred, and the next host is tried.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection failed.
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    /// A step took longer than allowed.
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// Reading or writing failed.
    #[error("connection failed: {0}")]
    Io(std::io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server's bytes are not SMTP.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server refused a step of the connection (greeting, EHLO, STARTTLS, AUTH).
    #[error("{stage} refused: {reply}")]
    Refused {
        /// Which step.
        stage: &'static str,
        /// The server's reply.
        reply: Reply,
    },
    /// The route requires TLS and the server does not offer STARTTLS.
    #[error("TLS is required but the server does not offer STARTTLS")]
    TlsNotOffered,
    /// The TLS handshake failed (under `verify`, also: an untrusted certificate or one
    /// for another name).
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    /// A `verify` route without its trusted certificates (a configuration the check at
    /// load refuses).
    #[error("tls = \"verify\" without trusted certificates (tls_ca_file)")]
    NoTrustedCertificates,
    /// The route has credentials but the server offers no AUTH PLAIN (or TLS is off).
    #[error("cannot authenticate: {0}")]
    AuthUnavailable(&'static str),
    /// The next hop is this gateway: one of its listeners, or a server greeting with its
    /// name. Retried (the operator fixes the route or the DNS meanwhile).
    #[error("mail for {peer} loops back to myself ({why})")]
    LoopsBackToMyself {
        /// The next hop.
        peer: String,
        /// How it gave itself away.
        why: &'static str,
    },
}

/// A byte stream: TCP, or TLS over it.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What [`Connection::send`] needs of a queued message's envelope.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    /// The reverse path (`""` for the null sender).
    pub mail_from: &'a str,
    /// The recipients to send to in this transaction.
    pub recipients: Vec<&'a str>,
    /// The message size in bytes.
    pub size: u64,
    /// The message was received with SMTPUTF8.
    pub smtputf8: bool,
    /// The message was received with BODY=8BITMIME.
    pub eight_bit_mime: bool,
}

/// The replies to a transaction's commands before the message.
struct Replies {
    /// MAIL's.
    mail: Reply,
    /// One per RCPT sent.
    rcpts: Vec<Reply>,
    /// DATA's, if it was sent.
    data: Option<Reply>,
}

/// One open SMTP connection, ready for a transaction.
pub struct Connection {
    io: BufReader<Box<dyn Io>>,
    caps: Capabilities,
    /// `host[address]`, for logs and error texts.
    peer: String,
    tls: bool,
    params: ClientParams,
    /// A failed transaction left state behind: RSET before the next one.
    dirty: bool,
    /// Messages sent on this connection.
    sent: usize,
}

impl Connection {
    /// Connects to `address` (named `host`), and gets it ready to send: greeting, EHLO,
    /// STARTTLS as `policy` says (with `verified`'s checks under `verify`), AUTH PLAIN with
    /// `auth`.
    pub async fn open(
        address: SocketAddr,
        host: &str,
        params: &ClientParams,
        policy: TlsPolicy,
        verified: Option<&VerifiedTls>,
        auth: Option<&AuthConfig>,
    ) -> Result<Self, ClientError> {
        let peer = format!("{}[{}]", host.trim_end_matches('.'), address);
        if params.myself.is_listening_on(address) {
            return Err(ClientError::LoopsBackToMyself {
                peer,
                why: "it is one of my listening addresses",
            });
        }
        let stream = timed(params.connect_timeout, "connecting", async {
            TcpStream::connect(address)
                .await
                .map_err(ClientError::Connect)
        })
        .await?;
        let _ = stream.set_nodelay(true);
        let mut connection = Self {
            io: BufReader::new(Box::new(stream)),
            caps: Capabilities::default(),
            peer,
            tls: false,
            params: params.clone(),
            dirty: false,
            sent: 0,
        };
        let greeting = connection.read("waiting for the greeting").await?;
        if greeting.code != 220 {
            return Err(ClientError::Refused {
                stage: "greeting",
                reply: greeting,
            });
        }
        connection.check_not_myself(&greeting, "it greets with my name")?;
        connection.hello().await?;
        let verified = match (policy, verified) {
            (TlsPolicy::Verify, None) => return Err(ClientError::NoTrustedCertificates),
            (TlsPolicy::Verify, verified) => verified,
            _ => None,
        };
        if policy != TlsPolicy::None && connection.caps.starttls {
            connection.starttls(host, verified).await?;
        } else if matches!(policy, TlsPolicy::Required | TlsPolicy::Verify) {
            return Err(ClientError::TlsNotOffered);
        }
        if let Some(auth) = auth {
            connection.authenticate(auth).await?;
        }
        debug!(peer = %connection.peer, tls = connection.tls, caps = ?connection.caps, "connected");
        Ok(connection)
    }

    /// `host[address]` of the server.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// How many messages went over this connection.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Sends `message` to `envelope.recipients`; one outcome per recipient, in order.
    ///
    /// An error means the connection broke before every recipient had an answer: the
    /// caller defers them all (a message the server took before breaking may then be
    /// delivered twice, SMTP's known duplicate; it is never lost).
    pub async fn send(
        &mut self,
        envelope: &Envelope<'_>,
        message: &[u8],
    ) -> Result<Vec<Outcome>, ClientError> {
        let count = envelope.recipients.len();
        if let Some(refusal) = self.precheck(envelope) {
            return Ok(vec![refusal; count]);
        }
        if self.dirty {
            self.command("RSET", "waiting for the RSET reply").await?;
            self.dirty = false;
        }
        let Replies {
            mail: mail_reply,
            rcpts: rcpt_replies,
            data: data_reply,
        } = if self.caps.pipelining {
            self.pipelined_commands(envelope).await?
        } else {
            self.commands_one_by_one(envelope).await?
        };

        if !mail_reply.is_positive() {
            self.dirty = true;
            self.end_stray_data(data_reply.as_ref()).await?;
            return Ok(vec![self.refusal(&mail_reply); count]);
        }
        let mut outcomes: Vec<Option<Outcome>> = rcpt_replies
            .iter()
            .map(|reply| (!reply.is_positive()).then(|| self.refusal(reply)))
            .collect();
        if outcomes.iter().all(Option::is_some) {
            self.dirty = true;
            self.end_stray_data(data_reply.as_ref()).await?;
            return Ok(outcomes.into_iter().flatten().collect());
        }
        let final_reply = match data_reply {
            Some(reply) if reply.code == 354 => self.send_message(message).await?,
            Some(reply) => {
                self.dirty = true;
                reply
            }
            None => {
                return Err(ClientError::Protocol("no DATA reply".into()));
            }
        };
        let accepted = if final_reply.is_positive() {
            Outcome::Delivered {
                reply: final_reply.to_string(),
            }
        } else {
            self.dirty = true;
            self.refusal(&final_reply)
        };
        for slot in &mut outcomes {
            if slot.is_none() {
                *slot = Some(accepted.clone());
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    /// Says QUIT and closes, waiting briefly for the reply.
    pub async fn quit(mut self) {
        let limit = self.params.command_timeout.min(Duration::from_secs(5));
        let _ = tokio::time::timeout(limit, async {
            if self.write(b"QUIT\r\n").await.is_ok() {
                let _ = reply::read_reply(&mut self.io).await;
            }
            let _ = self.io.get_mut().shutdown().await;
        })
        .await;
    }

    /// A refusal of the whole message decided before sending anything, if any.
    fn precheck(&self, envelope: &Envelope<'_>) -> Option<Outcome> {
        if self.caps.too_large(envelope.size) {
            return Some(Outcome::Failed {
                reply: format!(
                    "552 5.3.4 the message ({} bytes) is larger than {} accepts ({} bytes)",
                    envelope.size,
                    self.peer,
                    self.caps.size.unwrap_or_default()
                ),
            });
        }
        let needs_utf8 =
            !envelope.mail_from.is_ascii() || envelope.recipients.iter().any(|r| !r.is_ascii());
        if envelope.smtputf8 && needs_utf8 && !self.caps.smtputf8 {
            return Some(Outcome::Failed {
                reply: format!(
                    "553 5.6.7 {} does not support SMTPUTF8, which the addresses need",
                    self.peer
                ),
            });
        }
        None
    }

    fn mail_command(&self, envelope: &Envelope<'_>) -> String {
        let mut mail = format!("MAIL FROM:<{}>", envelope.mail_from);
        if self.caps.size.is_some() {
            mail.push_str(&format!(" SIZE={}", envelope.size));
        }
        if envelope.eight_bit_mime && self.caps.eight_bit_mime {
            mail.push_str(" BODY=8BITMIME");
        }
        if envelope.smtputf8 && self.caps.smtputf8 {
            mail.push_str(" SMTPUTF8");
        }
        mail
    }

    /// MAIL, every RCPT and DATA in one write (RFC 2920), then their replies: MAIL's,
    /// one per RCPT, and DATA's.
    async fn pipelined_commands(
        &mut self,
        envelope: &Envelope<'_>,
    ) -> Result<Replies, ClientError> {
        let mut group = format!("{}\r\n", self.mail_command(envelope));
        for rcpt in &envelope.recipients {
            group.push_str(&format!("RCPT TO:<{rcpt}>\r\n"));
        }
        group.push_str("DATA\r\n");
        self.write(group.as_bytes()).await?;
        let mail_reply = self.read("waiting for the MAIL reply").await?;
        let mut rcpt_replies = Vec::with_capacity(envelope.recipients.len());
        for _ in 0..envelope.recipients.len() {
            rcpt_replies.push(self.read("waiting for a RCPT reply").await?);
        }
        let data_reply = self.read("waiting for the DATA reply").await?;
        Ok(Replies {
            mail: mail_reply,
            rcpts: rcpt_replies,
            data: Some(data_reply),
        })
    }

    /// MAIL, then each RCPT if MAIL was taken, then DATA if a RCPT was, each waiting for
    /// its reply: MAIL's, those of the RCPTs sent, and DATA's if sent.
    async fn commands_one_by_one(
        &mut self,
        envelope: &Envelope<'_>,
    ) -> Result<Replies, ClientError> {
        let mail = self.mail_command(envelope);
        let mail_reply = self.command(&mail, "waiting for the MAIL reply").await?;
        let mut rcpt_replies = Vec::with_capacity(envelope.recipients.len());
        if mail_reply.is_positive() {
            for rcpt in &envelope.recipients {
                let rcpt = format!("RCPT TO:<{rcpt}>");
                rcpt_replies.push(self.command(&rcpt, "waiting for a RCPT reply").await?);
            }
        }
        let data_reply = if rcpt_replies.iter().any(Reply::is_positive) {
            Some(self.command("DATA", "waiting for the DATA reply").await?)
        } else {
            None
        };
        Ok(Replies {
            mail: mail_reply,
            rcpts: rcpt_replies,
            data: data_reply,
        })
    }

    /// After DATA's 354: the message (8-bit body parts as quoted-printable to a server
    /// without 8BITMIME), its final dot, and the reply to it.
    async fn send_message(&mut self, message: &[u8]) -> Result<Reply, ClientError> {
        let converted = if self.caps.eight_bit_mime {
            None
        } else {
            seven_bit::downgrade(message)
        };
        if converted.is_some() {
            debug!(peer = %self.peer, "8-bit body parts sent as quoted-printable: no 8BITMIME");
        }
        let message = converted.as_deref().unwrap_or(message);
        timed(self.params.data_timeout, "sending the message", async {
            data::write_data(&mut self.io, message)
                .await
                .map_err(ClientError::Io)
        })
        .await?;
        self.sent += 1;
        self.read_within(
            self.params.data_timeout,
            "waiting for the reply to the message",
        )
        .await
    }

    /// The outcome of a negative reply: 5xx fails, anything else defers.
    fn refusal(&self, reply: &Reply) -> Outcome {
        if reply.is_permanent() {
            Outcome::Failed {
                reply: reply.to_string(),
            }
        } else {
            Outcome::Deferred {
                error: format!("{} said: {reply}", self.peer),
            }
        }
    }

    /// A server that answered 354 to a pipelined DATA after refusing every recipient gets
    /// an empty message ended at once (its reply is read and dropped).
    async fn end_stray_data(&mut self, data_reply: Option<&Reply>) -> Result<(), ClientError> {
        if data_reply.is_some_and(|r| r.code == 354) {
            self.write(b".\r\n").await?;
            self.read("waiting for the reply to an empty message")
                .await?;
        }
        Ok(())
    }

    /// Refuses a server whose first reply line names it as us.
    fn check_not_myself(&self, reply: &Reply, why: &'static str) -> Result<(), ClientError> {
        let first = reply.lines.first().map_or("", String::as_str);
        if myself::names_me(first, &self.params.helo) {
            return Err(ClientError::LoopsBackToMyself {
                peer: self.peer.clone(),
                why,
            });
        }
        Ok(())
    }

    async fn hello(&mut self) -> Result<(), ClientError> {
        let ehlo = format!("EHLO {}", self.params.helo);
        let reply = self.command(&ehlo, "waiting for the EHLO reply").await?;
        if reply.is_positive() {
            self.check_not_myself(&reply, "it answers EHLO with my name")?;
            self.caps = Capabilities::from_ehlo(&reply);
            return Ok(());
        }
        let helo = format!("HELO {}", self.params.helo);
        let reply = self.command(&helo, "waiting for the HELO reply").await?;
        if !reply.is_positive() {
            return Err(ClientError::Refused {
                stage: "HELO",
                reply,
            });
        }
        self.caps = Capabilities::default();
        Ok(())
    }

    async fn starttls(
        &mut self,
        host: &str,
        verified: Option<&VerifiedTls>,
    ) -> Result<(), ClientError> {
        let reply = self
            .command("STARTTLS", "waiting for the STARTTLS reply")
            .await?;
        if reply.code != 220 {
            return Err(ClientError::Refused {
                stage: "STARTTLS",
                reply,
            });
        }
        if !self.io.buffer().is_empty() {
            // Bytes after the 220 were sent in plain text and must not be taken as coming
            // from inside TLS (the STARTTLS response injection of CVE-2011-0411).
            return Err(ClientError::Protocol(
                "the server sent data after its STARTTLS reply".into(),
            ));
        }
        let placeholder: Box<dyn Io> = Box::new(tokio::io::duplex(1).0);
        let plain = std::mem::replace(&mut self.io, BufReader::new(placeholder)).into_inner();
        let (connector, name) = match verified {
            Some(verified) => {
                let name = verified.name_for(host).trim_end_matches('.');
                let name =
                    rustls::pki_types::ServerName::try_from(name.to_owned()).map_err(|_| {
                        ClientError::Tls(std::io::Error::other(format!(
                            "`{name}` is not a name a certificate can be checked against"
                        )))
                    })?;
                (verified.connector().clone(), name)
            }
            None => (self.params.tls.clone(), tls::server_name(host)),
        };
        let stream = timed(self.params.command_timeout, "in the TLS handshake", async {
            connector
                .connect(name, plain)
                .await
                .map_err(ClientError::Tls)
        })
        .await?;
        self.io = BufReader::new(Box::new(stream));
        self.tls = true;
        self.hello().await
    }

    async fn authenticate(&mut self, auth: &AuthConfig) -> Result<(), ClientError> {
        if !self.tls {
            return Err(ClientError::AuthUnavailable(
                "credentials are only sent over TLS",
            ));
        }
        if !self.caps.auth_plain {
            return Err(ClientError::AuthUnavailable(
                "the server does not offer AUTH PLAIN",
            ));
        }
        // AUTH PLAIN (RFC 4616): authorization identity (none), user and password, NUL-separated.
        let token = STANDARD.encode(format!("\0{}\0{}", auth.username, auth.password));
        let reply = self
            .command(&format!("AUTH PLAIN {token}"), "waiting for the AUTH reply")
            .await?;
        if reply.code != 235 {
            return Err(ClientError::Refused {
                stage: "AUTH",
                reply,
            });
        }
        Ok(())
    }

    async fn command(&mut self, line: &str, stage: &'static str) -> Result<Reply, ClientError> {
        self.write(format!("{line}\r\n").as_bytes()).await?;
        self.read(stage).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let io = &mut self.io;
        timed(self.params.command_timeout, "writing a command", async {
            io.write_all(bytes).await.map_err(ClientError::Io)?;
            io.flush().await.map_err(ClientError::Io)
        })
        .await
    }

    async fn read(&mut self, stage: &'static str) -> Result<Reply, ClientError> {
        self.read_within(self.params.command_timeout, stage).await
    }

    async fn read_within(
        &mut self,
        limit: Duration,
        stage: &'static str,
    ) -> Result<Reply, ClientError> {
        timed(limit, stage, reply::read_reply(&mut self.io)).await
    }
}

/// `future`, or [`ClientError::Timeout`] naming `stage` after `limit`.
async fn timed<T>(
    limit: Duration,
    stage: &'static str,
    future: impl Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or(Err(ClientError::Timeout(stage)))
}

#[cfg(test)]
mod tests;
