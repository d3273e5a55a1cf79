//! `[[listener]]`, `[smtp]` and `[tls]`: where Moat listens, the limits of a session, and
//! its certificate. (`[relay]`, which recipients it accepts mail for, is `relay.rs`.)

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::{ByteSize, HumanDuration};

/// `[[listener]]`: one SMTP listening socket.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `name = "mx"`: a name for logs and the ready line.
    pub name: String,
    /// `address = "0.0.0.0:25"`: where to listen (port 0 picks a free port; the ready line
    /// says which).
    pub address: SocketAddr,
    /// `max_connections = 10000`: open sessions on this listener; more are answered
    /// 421 4.3.2. An idle session costs about 25 KB and a file descriptor; the server
    /// raises its open-file limit to the hard limit and keeps this cap below it. At 80%
    /// of it the listener is under stress: sessions that have not started a transaction
    /// get `[smtp] stress_timeout` instead of `command_timeout`, as Postfix's stress mode.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `max_connections_per_ip = 20`: open sessions from one client address. A session
    /// stops counting when it sends its last reply (221), so a client may reconnect at once.
    #[serde(default = "default_max_connections_per_ip")]
    pub max_connections_per_ip: usize,
    /// `kind = "mx"`: what the listener is for — `mx` (mail for the protected domains,
    /// port 25), `submission` (authenticated users' mail, STARTTLS then AUTH, port 587) or
    /// `submissions` (the same over implicit TLS, port 465).
    #[serde(default)]
    pub kind: ListenerKind,
}

/// What a listener is for.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ListenerKind {
    /// The MX: mail for the protected domains from anyone; no AUTH.
    #[default]
    Mx,
    /// Message submission (RFC 6409): STARTTLS, then AUTH, then mail to anywhere, sent as
    /// an address the account owns.
    Submission,
    /// Submission over implicit TLS (RFC 8314): TLS from the first byte.
    Submissions,
}

impl ListenerKind {
    /// Whether users log in here and send outbound mail.
    pub fn is_submission(self) -> bool {
        self != Self::Mx
    }
}

fn default_max_connections() -> usize {
    10_000
}
fn default_max_connections_per_ip() -> usize {
    20
}

/// What a bare CR or LF in message data gets.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BareLineEndingPolicy {
    /// Refuse the message (550 5.6.11): the SMTP-smuggling-safe default.
    #[default]
    Reject,
    /// Turn it into CRLF and accept the message.
    Normalize,
}

/// How many times its size a message in flight holds at its peak: the received bytes
/// (which the parse borrows and the outcome stage shares; up to twice the message while
/// the receive buffer grows), its decoded parts (base64, quoted-printable: up to its size
/// again), and the queue's write (the added header fields and the received bytes, built
/// once in the store's own buffer).
pub const IN_FLIGHT_COPIES: u64 = 4;

/// `[smtp]`: limits and timeouts of every session.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `max_message_size = "25MiB"`: announced in SIZE and enforced while reading.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: ByteSize,
    /// `max_recipients = 100`: recipients per message (RFC 5321 §4.5.3.1.8 asks for at
    /// least 100).
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
    /// `max_commands = 1000`: commands a session may send without completing a message
    /// (the count restarts at each end of data), so a client reusing its connection for
    /// many messages is never cut off, while one that only chatters is.
    #[serde(default = "default_max_commands")]
    pub max_commands: usize,
    /// `max_errors = 10`: protocol errors per session before it is closed.
    #[serde(default = "default_max_errors")]
    pub max_errors: usize,
    /// `max_line_length = 2048`: the longest command line.
    #[serde(default = "default_max_line_length")]
    pub max_line_length: usize,
    /// `command_timeout = "5m"`: idle time allowed between commands (RFC 5321 §4.5.3.2).
    #[serde(default = "default_command_timeout")]
    pub command_timeout: HumanDuration,
    /// `data_timeout = "10m"`: idle time allowed while receiving message data.
    #[serde(default = "default_data_timeout")]
    pub data_timeout: HumanDuration,
    /// `stress_timeout = "10s"`: the idle time allowed, instead of `command_timeout`, to
    /// a session before MAIL while its listener is under stress (80% of
    /// `max_connections` open): idle floods push out idle sessions first.
    #[serde(default = "default_stress_timeout")]
    pub stress_timeout: HumanDuration,
    /// `max_inflight_bytes = "2GiB"`: the memory for messages being received and
    /// filtered, for the whole server. A message holds about four times its size in flight
    /// ([`IN_FLIGHT_COPIES`]); past the budget a new DATA or BDAT gets 452 4.3.1, and a
    /// message that cannot grow is read to its end, dropped and answered the same. Unset:
    /// a quarter of the machine's memory, between 256 MiB and 16 GiB. At least
    /// `IN_FLIGHT_COPIES` × `max_message_size`, so that one message always fits.
    #[serde(default)]
    pub max_inflight_bytes: Option<ByteSize>,
    /// `max_session_time = "1h"`: the longest a session may stay open, however busy: a
    /// client that sends a byte now and then, or never reads its replies, gives its slot
    /// back then (421 4.3.2). Writes to a client that does not read time out after
    /// `command_timeout`.
    #[serde(default = "default_max_session_time")]
    pub max_session_time: HumanDuration,
    /// `greeting_delay = "0s"`: how long to wait before the greeting; a client that talks
    /// in that time is refused (postscreen's pregreet test). Talk before the greeting is
    /// refused even at 0s when it is already there.
    #[serde(default = "default_greeting_delay")]
    pub greeting_delay: HumanDuration,
    /// `bare_line_endings = "reject"`: `reject` or `normalize` a bare CR or LF in data.
    #[serde(default)]
    pub bare_line_endings: BareLineEndingPolicy,
    /// `reverse_dns = true`: look up the client's forward-confirmed reverse name at
    /// connect (for filters and the Received header); private and loopback clients are
    /// never looked up.
    #[serde(default = "default_reverse_dns")]
    pub reverse_dns: bool,
    /// `max_hops = 50`: a message with this many `Received` fields or more is in a loop
    /// and is refused (554 5.4.6), as Postfix's `hopcount_limit`.
    #[serde(default = "default_max_hops")]
    pub max_hops: usize,
    /// `strip_headers = ["X-Spam", "X-Spam-*", "X-Moat-*"]`: header fields removed from
    /// every message before the filters see it (a trailing `*` matches a prefix; any
    /// case), so a sender cannot pre-write a verdict that a mail client or the downstream
    /// trusts; it must cover every field `[headers]` adds. `Authentication-Results` fields
    /// naming this server (`[server] hostname`) as their authserv-id are always removed
    /// (RFC 8601 §5).
    #[serde(default = "default_strip_headers")]
    pub strip_headers: Vec<String>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            max_message_size: default_max_message_size(),
            max_recipients: default_max_recipients(),
            max_commands: default_max_commands(),
            max_errors: default_max_errors(),
            max_line_length: default_max_line_length(),
            command_timeout: default_command_timeout(),
            data_timeout: default_data_timeout(),
            greeting_delay: default_greeting_delay(),
            max_session_time: default_max_session_time(),
            max_inflight_bytes: None,
            stress_timeout: default_stress_timeout(),
            bare_line_endings: BareLineEndingPolicy::default(),
            reverse_dns: default_reverse_dns(),
            max_hops: default_max_hops(),
            strip_headers: default_strip_headers(),
        }
    }
}

fn default_max_message_size() -> ByteSize {
    ByteSize(25 << 20)
}
fn default_max_recipients() -> usize {
    100
}
fn default_max_commands() -> usize {
    1000
}
fn default_max_errors() -> usize {
    10
}
fn default_max_line_length() -> usize {
    2048
}
fn default_command_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(300))
}
fn default_data_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(600))
}
fn default_reverse_dns() -> bool {
    true
}
fn default_stress_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(10))
}
fn default_max_session_time() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(3600))
}
fn default_max_hops() -> usize {
    50
}
fn default_strip_headers() -> Vec<String> {
    ["X-Spam", "X-Spam-*", "X-Moat-*"]
        .map(String::from)
        .to_vec()
}
fn default_greeting_delay() -> HumanDuration {
    HumanDuration(std::time::Duration::ZERO)
}

/// `[tls]`: the certificate offered with STARTTLS.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// `certificate = "/etc/moat/cert.pem"`: PEM certificate chain. Unset: no STARTTLS,
    /// except under `moat serve --dev`, which makes a self-signed one.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// `key = "/etc/moat/key.pem"`: PEM private key of the certificate.
    #[serde(default)]
    pub key: Option<PathBuf>,
}

impl SmtpConfig {
    /// `max_inflight_bytes`, or its default for a machine with `memory` bytes: a quarter,
    /// between 256 MiB and 16 GiB, and never less than one largest message.
    pub fn inflight_budget(&self, memory: u64) -> u64 {
        self.max_inflight_bytes.map_or_else(
            || {
                (memory / 4)
                    .clamp(256 << 20, 16 << 30)
                    .max(IN_FLIGHT_COPIES.saturating_mul(self.max_message_size.0))
            },
            |budget| budget.0,
        )
    }

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, reason: String| {
            if !ok {
                problems.push(Problem {
                    key: format!("smtp.{key}"),
                    reason,
                });
            }
        };
        check(
            self.max_message_size.0 >= 1024,
            "max_message_size",
            format!("must be at least 1KiB, not {}", self.max_message_size),
        );
        check(
            self.max_recipients >= 1,
            "max_recipients",
            "must be at least 1".into(),
        );
        check(
            self.max_commands >= 10,
            "max_commands",
            "must be at least 10".into(),
        );
        check(
            self.max_line_length >= 512,
            "max_line_length",
            format!(
                "must be at least 512 (RFC 5321), not {}",
                self.max_line_length
            ),
        );
        check(
            !self.command_timeout.0.is_zero(),
            "command_timeout",
            "must be more than 0s".into(),
        );
        check(
            !self.data_timeout.0.is_zero(),
            "data_timeout",
            "must be more than 0s".into(),
        );
        if let Some(budget) = self.max_inflight_bytes {
            check(
                budget.0 >= IN_FLIGHT_COPIES.saturating_mul(self.max_message_size.0),
                "max_inflight_bytes",
                format!(
                    "must be at least {IN_FLIGHT_COPIES} × max_message_size ({}), so that one message fits",
                    ByteSize(IN_FLIGHT_COPIES.saturating_mul(self.max_message_size.0))
                ),
            );
        }
        check(
            !self.stress_timeout.0.is_zero(),
            "stress_timeout",
            "must be more than 0s".into(),
        );
        check(
            !self.max_session_time.0.is_zero(),
            "max_session_time",
            "must be more than 0s".into(),
        );
        check(
            self.max_hops >= 2,
            "max_hops",
            "must be at least 2 (each relay adds one Received field)".into(),
        );
        for (i, name) in self.strip_headers.iter().enumerate() {
            let bare = name.strip_suffix('*').unwrap_or(name);
            check(
                !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
                &format!("strip_headers[{i}]"),
                format!("`{name}` is not a header field name (or a prefix ending in `*`)"),
            );
        }
        problems
    }
}

pub(super) fn listener_problems(listeners: &[ListenerConfig]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, l) in listeners.iter().enumerate() {
        if l.name.is_empty() {
            problems.push(Problem {
                key: format!("listener[{i}].name"),
                reason: "must not be empty".into(),
            });
        }
        if listeners[..i].iter().any(|other| other.name == l.name) {
            problems.push(Problem {
                key: format!("listener[{i}].name"),
                reason: format!("`{}` is used by another listener", l.name),
            });
        }
        if l.max_connections == 0 || l.max_connections_per_ip == 0 {
            problems.push(Problem {
                key: format!("listener[{i}]"),
                reason: "connection limits must be at least 1".into(),
            });
        }
    }
    problems
}
