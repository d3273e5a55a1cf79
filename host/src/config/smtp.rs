//! `[[listener]]`, `[smtp]`, `[tls]` and `[relay]`: where Moat listens, the limits of a
//! session, its certificate, and which recipients it accepts mail for.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::{ByteSize, HumanDuration};
use super::verify::{self, UnverifiedRecipientAction, VerifyRecipients};

/// `[[listener]]`: one SMTP listening socket.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `name = "mx"`: a name for logs and the ready line.
    pub name: String,
    /// `address = "0.0.0.0:25"`: where to listen (port 0 picks a free port; the ready line
    /// says which).
    pub address: SocketAddr,
    /// `max_connections = 1000`: open sessions on this listener; more are answered 421.
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
    1000
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
    /// trusts. `Authentication-Results` fields naming this server (`[server] hostname`) as
    /// their authserv-id are always removed (RFC 8601 §5).
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

/// `[relay]`: the domains Moat is the MX for. Mail to any other domain is refused
/// (550 5.7.1): Moat is never an open relay.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// `domains = ["example.org"]`: the protected domains (case-insensitive, exact).
    #[serde(default)]
    pub domains: Vec<String>,
    /// `[relay.recipients] "example.org" = ["alice", "bob"]`: where a domain has a list,
    /// only these local parts are accepted (550 5.1.1 otherwise); domains without a list
    /// accept any local part.
    #[serde(default)]
    pub recipients: BTreeMap<String, Vec<String>>,
    /// `verify_recipients = "off"`: `"downstream"` asks a protected domain's route
    /// whether a recipient exists before answering RCPT (550 5.1.1 if not), so mail for
    /// unknown users is refused at once instead of bounced later (backscatter).
    #[serde(default)]
    pub verify_recipients: VerifyRecipients,
    /// `verify_positive_ttl = "7d"`: how long "this user exists" is believed.
    #[serde(default = "verify::default_positive_ttl")]
    pub verify_positive_ttl: HumanDuration,
    /// `verify_negative_ttl = "3h"`: how long "no such user" is believed.
    #[serde(default = "verify::default_negative_ttl")]
    pub verify_negative_ttl: HumanDuration,
    /// `verify_timeout = "10s"`: the longest a RCPT waits for its probe (a slot, the
    /// connection, every reply); then the recipient is unverified.
    #[serde(default = "verify::default_timeout")]
    pub verify_timeout: HumanDuration,
    /// `verify_cache_size = 20000`: answers kept of each kind (known, unknown).
    #[serde(default = "verify::default_cache_size")]
    pub verify_cache_size: usize,
    /// `verify_max_probes = 10`: probes under way at once, for all addresses.
    #[serde(default = "verify::default_max_probes")]
    pub verify_max_probes: usize,
    /// `unverified_recipient_action = "tempfail"`: what a recipient whose probe failed
    /// (downstream down, 4xx, timeout) gets: `tempfail` (450 4.1.1) or `accept`.
    #[serde(default)]
    pub unverified_recipient_action: UnverifiedRecipientAction,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            recipients: BTreeMap::new(),
            verify_recipients: VerifyRecipients::default(),
            verify_positive_ttl: verify::default_positive_ttl(),
            verify_negative_ttl: verify::default_negative_ttl(),
            verify_timeout: verify::default_timeout(),
            verify_cache_size: verify::default_cache_size(),
            verify_max_probes: verify::default_max_probes(),
            unverified_recipient_action: UnverifiedRecipientAction::default(),
        }
    }
}

impl SmtpConfig {
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

impl RelayConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (i, domain) in self.domains.iter().enumerate() {
            if domain.is_empty() || domain.contains(['@', ' ', '<', '>']) {
                problems.push(Problem {
                    key: format!("relay.domains[{i}]"),
                    reason: format!("`{domain}` is not a domain name"),
                });
            }
        }
        for domain in self.recipients.keys() {
            if !self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
                problems.push(Problem {
                    key: format!("relay.recipients.{domain}"),
                    reason: "lists recipients of a domain that is not in relay.domains".into(),
                });
            }
        }
        problems.extend(verify::problems(self));
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
