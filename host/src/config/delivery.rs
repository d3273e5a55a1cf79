//! `[delivery]` and `[[delivery.route]]`: how queued mail leaves Moat — the downstream
//! server of each protected domain, MX lookup for every other domain, the retry schedule,
//! and bounces.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::Problem;
use super::units::HumanDuration;
use crate::domain::Domain;

/// `[delivery]`: the scheduler, the SMTP client and the retry schedule.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// `enabled = true`: deliver queued mail. `false` only accepts and queues (for
    /// maintenance of the downstream, or benchmarks of the inbound side); nothing leaves.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// `max_connections = 50`: outgoing SMTP connections open at once, in all.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `max_connections_per_destination = 20`: outgoing connections to one destination (a
    /// route, or the MX hosts of one domain) at once, at most. Messages waiting for the
    /// same destination reuse an open connection.
    #[serde(default = "default_max_per_destination")]
    pub max_connections_per_destination: usize,
    /// `initial_connections_per_destination = 5`: the connections a destination starts
    /// with while mail waits for it (never more than the maximum). Each message it
    /// answers adds 1/N of a connection (N the current count), up to
    /// `max_connections_per_destination`; each connection that fails or breaks takes 1/N
    /// away, down to one: Postfix's destination concurrency feedback
    /// (`initial_destination_concurrency`, `default_destination_concurrency_limit`).
    #[serde(default = "default_initial_per_destination")]
    pub initial_connections_per_destination: usize,
    /// `max_messages_per_connection = 100`: messages sent over one connection before it is
    /// closed and a fresh one opened.
    #[serde(default = "default_max_messages_per_connection")]
    pub max_messages_per_connection: usize,
    /// `connection_cache_time = "2s"`: how long a connection whose destination has no
    /// more mail waiting stays open for the next message to it, instead of a connection
    /// per message under a steady trickle (Postfix's `smtp_connection_cache_time_limit`).
    /// The idle connection keeps its `max_connections` permit, and gives it up when
    /// another worker finds none free. `"0s"`: close when the queue is empty.
    #[serde(default = "default_connection_cache_time")]
    pub connection_cache_time: HumanDuration,
    /// `connect_timeout = "30s"`: time to open a TCP connection to one address.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// `command_timeout = "5m"`: time to wait for the reply to one command (RFC 5321
    /// §4.5.3.2 suggests 5 minutes for most).
    #[serde(default = "default_command_timeout")]
    pub command_timeout: HumanDuration,
    /// `data_timeout = "10m"`: time to wait for the reply after the message's final dot.
    #[serde(default = "default_data_timeout")]
    pub data_timeout: HumanDuration,
    /// `retry_intervals = ["15m"]`: the wait after each failed attempt; the last interval
    /// repeats (`["1m", "5m", "15m", "1h"]` backs off, then tries every hour).
    #[serde(default = "default_retry_intervals")]
    pub retry_intervals: Vec<HumanDuration>,
    /// `max_age = "48h"`: how long a message is retried after it was accepted before its
    /// undelivered recipients are bounced; `"forever"` holds it until delivered.
    #[serde(default = "default_max_age")]
    pub max_age: MaxAge,
    /// `delay_warning = "4h"`: after this long undelivered, the sender is told once that
    /// the message is delayed (a DSN with `Action: delayed`). Unset: no warning.
    #[serde(default)]
    pub delay_warning: Option<HumanDuration>,
    /// `bounce_spam = false`: whether a message accepted as probably spam (its score
    /// reached the tag threshold) gets a bounce or delay warning when delivery fails. Off:
    /// the sender of spam is almost always forged, and bouncing to it is backscatter; the
    /// failure is logged instead.
    #[serde(default)]
    pub bounce_spam: bool,
    /// `mx_port = 25`: the port of MX hosts (and A/AAAA fallback hosts). Only tests change it.
    #[serde(default = "default_mx_port")]
    pub mx_port: u16,
    /// `[[delivery.route]]`: the downstream servers of the protected domains.
    #[serde(default)]
    pub route: Vec<RouteConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            enabled: default_enabled(),
            max_connections: default_max_connections(),
            max_connections_per_destination: default_max_per_destination(),
            initial_connections_per_destination: default_initial_per_destination(),
            max_messages_per_connection: default_max_messages_per_connection(),
            connection_cache_time: default_connection_cache_time(),
            connect_timeout: default_connect_timeout(),
            command_timeout: default_command_timeout(),
            data_timeout: default_data_timeout(),
            retry_intervals: default_retry_intervals(),
            max_age: default_max_age(),
            delay_warning: None,
            bounce_spam: false,
            mx_port: default_mx_port(),
            route: Vec::new(),
        }
    }
}

/// The longest `connection_cache_time`: RFC 5321 §4.5.3.2.7 lets a server drop a client
/// idle for 5 minutes, and an idle connection holds one of `max_connections`.
const MAX_CONNECTION_CACHE_TIME: Duration = Duration::from_secs(60);

fn default_enabled() -> bool {
    true
}
fn default_max_connections() -> usize {
    50
}
fn default_max_per_destination() -> usize {
    20
}
fn default_initial_per_destination() -> usize {
    5
}
fn default_max_messages_per_connection() -> usize {
    100
}
fn default_connection_cache_time() -> HumanDuration {
    HumanDuration(Duration::from_secs(2))
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}
fn default_command_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_data_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(600))
}
fn default_retry_intervals() -> Vec<HumanDuration> {
    vec![HumanDuration(Duration::from_secs(15 * 60))]
}
fn default_max_age() -> MaxAge {
    MaxAge::Limit(HumanDuration(Duration::from_secs(48 * 3600)))
}
fn default_mx_port() -> u16 {
    25
}

/// How long a message may stay in the queue: a duration, or `"forever"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAge {
    /// Bounce what is still undelivered this long after acceptance.
    Limit(HumanDuration),
    /// Never give up: retry until delivered or deleted by an operator.
    Forever,
}

impl MaxAge {
    /// The limit, or `None` for forever.
    pub fn limit(self) -> Option<Duration> {
        match self {
            Self::Limit(limit) => Some(limit.0),
            Self::Forever => None,
        }
    }
}

impl FromStr for MaxAge {
    type Err = super::units::UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.trim() == "forever" {
            return Ok(Self::Forever);
        }
        text.parse()
            .map(Self::Limit)
            .map_err(|_| super::units::UnitError::Malformed {
                text: text.to_owned(),
                what: "maximum age",
                example: "\"48h\", \"7d\", \"forever\"",
            })
    }
}

impl fmt::Display for MaxAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Limit(limit) => limit.fmt(f),
            Self::Forever => f.write_str("forever"),
        }
    }
}

impl<'de> Deserialize<'de> for MaxAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for MaxAge {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// `[[delivery.route]]`: where mail for some protected domains goes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// `domains = ["example.org"]`: the recipient domains this route serves (compared in
    /// their one spelling: any case, U-labels or A-labels; exact, no subdomains).
    pub domains: Vec<String>,
    /// `servers = ["10.0.0.5:25", "backup.internal:25"]`: the downstream servers, tried in
    /// this order; a host name is resolved to its A/AAAA addresses.
    pub servers: Vec<String>,
    /// `tls = "opportunistic"`: `none` (never STARTTLS), `opportunistic` (STARTTLS when
    /// offered, plain text otherwise), `required` (never send without STARTTLS) or
    /// `verify` (STARTTLS with a certificate `tls_ca_file` vouches for, naming the server).
    #[serde(default)]
    pub tls: TlsPolicy,
    /// `tls_ca_file = "/etc/ssl/certs/ca-certificates.crt"`: the PEM certificates a
    /// `verify` route trusts (a CA bundle, an internal CA, or the server's own
    /// self-signed certificate). Needed by `verify`, and only used there. A relative path
    /// is taken from the config file's folder.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// `tls_server_name = "mail.internal.example"`: the name the certificate must carry,
    /// for servers written as addresses. Default: each server's host as written in
    /// `servers`. Only with `verify`.
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// `auth = { username = "moat", password = "secret" }`: AUTH PLAIN (only over TLS)
    /// before sending.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
}

/// Whether and how a route uses STARTTLS. Only `verify` checks the certificate: the
/// downstream is the operator's own server, often with an internal certificate, and the
/// others protect from passive eavesdropping only (as Postfix's `may` and `encrypt`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TlsPolicy {
    /// Never STARTTLS.
    None,
    /// STARTTLS when the server offers it; plain text otherwise (and if the handshake
    /// fails, retry the host once in plain text).
    #[default]
    Opportunistic,
    /// STARTTLS or nothing: a server that does not offer it, or a failed handshake, is a
    /// temporary failure.
    Required,
    /// As `required`, and the certificate must chain to `tls_ca_file` and name the server
    /// (Postfix's `verify`); otherwise a temporary failure. What keeps an active attacker
    /// from reading the mail, or a route's credentials.
    Verify,
}

/// `auth`: the credentials a route authenticates with.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl DeliveryConfig {
    /// The most messages with a delivery attempt in progress at once: eight per
    /// `max_connections` (at least 64), so each connection has the next messages ready.
    /// A message leaves this set only once its outcome is on disk, so it is also the most
    /// messages a crash can have delivered without recording it, which are delivered
    /// again after the restart.
    pub fn max_messages_in_flight(&self) -> usize {
        self.max_connections.saturating_mul(8).max(64)
    }

    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: String, reason: String| {
            if !ok {
                problems.push(Problem {
                    key: format!("delivery.{key}"),
                    reason,
                });
            }
        };
        self.connection_problems(&mut check);
        self.schedule_problems(&mut check);
        check(self.mx_port != 0, "mx_port".into(), "must not be 0".into());
        let mut seen: Vec<Domain> = Vec::new();
        for (r, route) in self.route.iter().enumerate() {
            route.problems(r, &mut seen, &mut check);
        }
        problems
    }

    /// Checks the connection limits (at least 1) and timeouts (more than 0s).
    fn connection_problems(&self, check: &mut impl FnMut(bool, String, String)) {
        check(
            self.max_connections >= 1,
            "max_connections".into(),
            "must be at least 1".into(),
        );
        check(
            self.max_connections_per_destination >= 1,
            "max_connections_per_destination".into(),
            "must be at least 1".into(),
        );
        check(
            self.initial_connections_per_destination >= 1,
            "initial_connections_per_destination".into(),
            "must be at least 1".into(),
        );
        check(
            self.max_messages_per_connection >= 1,
            "max_messages_per_connection".into(),
            "must be at least 1".into(),
        );
        check(
            self.connection_cache_time.0 <= MAX_CONNECTION_CACHE_TIME,
            "connection_cache_time".into(),
            format!(
                "must be at most {}: servers close idle connections after a few minutes",
                HumanDuration(MAX_CONNECTION_CACHE_TIME)
            ),
        );
        for (key, timeout) in [
            ("connect_timeout", self.connect_timeout),
            ("command_timeout", self.command_timeout),
            ("data_timeout", self.data_timeout),
        ] {
            check(
                !timeout.0.is_zero(),
                key.into(),
                "must be more than 0s".into(),
            );
        }
    }

    /// Checks the retry schedule: the intervals, `max_age` and `delay_warning`.
    fn schedule_problems(&self, check: &mut impl FnMut(bool, String, String)) {
        check(
            !self.retry_intervals.is_empty(),
            "retry_intervals".into(),
            "must list at least one interval".into(),
        );
        for (i, interval) in self.retry_intervals.iter().enumerate() {
            check(
                interval.0 >= Duration::from_secs(1),
                format!("retry_intervals[{i}]"),
                format!("must be at least 1s, not {interval}"),
            );
        }
        if let MaxAge::Limit(limit) = self.max_age {
            check(
                !limit.0.is_zero(),
                "max_age".into(),
                "must be more than 0s (or \"forever\")".into(),
            );
        }
        if let Some(warning) = self.delay_warning {
            check(
                !warning.0.is_zero(),
                "delay_warning".into(),
                "must be more than 0s (or left out)".into(),
            );
        }
    }
}

impl RouteConfig {
    /// Checks `route[r]`: its domains (`seen` holds the domains of the routes before it,
    /// in their one spelling, and gets this route's), servers, credentials and TLS
    /// settings.
    fn problems(
        &self,
        r: usize,
        seen: &mut Vec<Domain>,
        check: &mut impl FnMut(bool, String, String),
    ) {
        self.domain_problems(r, seen, check);
        self.server_problems(r, check);
        self.auth_problems(r, check);
        self.tls_problems(r, check);
    }

    /// Checks that the route lists domains, each a domain name no earlier route serves.
    fn domain_problems(
        &self,
        r: usize,
        seen: &mut Vec<Domain>,
        check: &mut impl FnMut(bool, String, String),
    ) {
        check(
            !self.domains.is_empty(),
            format!("route[{r}].domains"),
            "must list at least one domain".into(),
        );
        for (d, domain) in self.domains.iter().enumerate() {
            let key = format!("route[{r}].domains[{d}]");
            match Domain::parse_name(domain) {
                Ok(name) => {
                    let spelling = if name.as_str() == domain {
                        String::new()
                    } else {
                        format!(" (as {name})")
                    };
                    check(
                        !seen.contains(&name),
                        key,
                        format!(
                            "`{}` has another route already{spelling}",
                            domain.escape_debug()
                        ),
                    );
                    seen.push(name);
                }
                Err(error) => check(
                    false,
                    key,
                    format!("`{}` is not a domain name: {error}", domain.escape_debug()),
                ),
            }
        }
    }

    /// Checks that the route lists servers, each as `host:port`.
    fn server_problems(&self, r: usize, check: &mut impl FnMut(bool, String, String)) {
        check(
            !self.servers.is_empty(),
            format!("route[{r}].servers"),
            "must list at least one server (host:port)".into(),
        );
        for (s, server) in self.servers.iter().enumerate() {
            check(
                split_host_port(server).is_some(),
                format!("route[{r}].servers[{s}]"),
                format!("`{server}` is not host:port (e.g. \"10.0.0.5:25\", \"[::1]:25\")"),
            );
        }
    }

    /// Checks the credentials, if any: a user name, and a TLS policy to send them under.
    fn auth_problems(&self, r: usize, check: &mut impl FnMut(bool, String, String)) {
        if let Some(auth) = &self.auth {
            check(
                !auth.username.is_empty(),
                format!("route[{r}].auth.username"),
                "must not be empty".into(),
            );
            check(
                self.tls != TlsPolicy::None,
                format!("route[{r}].auth"),
                "needs tls = \"opportunistic\", \"required\" or \"verify\": credentials are only sent over TLS".into(),
            );
        }
    }

    /// Checks the TLS settings: `verify` needs readable certificates to trust (and a valid
    /// server name, if one is given); the other policies take neither.
    fn tls_problems(&self, r: usize, check: &mut impl FnMut(bool, String, String)) {
        if self.tls == TlsPolicy::Verify {
            match &self.tls_ca_file {
                None => check(
                    false,
                    format!("route[{r}].tls_ca_file"),
                    "is needed by tls = \"verify\": the PEM certificates to trust (for public CAs, the system bundle, e.g. /etc/ssl/certs/ca-certificates.crt)".into(),
                ),
                Some(file) => {
                    if let Err(reason) = super::trusted_certificates(file) {
                        check(false, format!("route[{r}].tls_ca_file"), reason);
                    }
                }
            }
            if let Some(name) = &self.tls_server_name {
                check(
                    rustls::pki_types::ServerName::try_from(name.as_str()).is_ok(),
                    format!("route[{r}].tls_server_name"),
                    format!("`{name}` is not a host name or address"),
                );
            }
        } else {
            for (key, set) in [
                ("tls_ca_file", self.tls_ca_file.is_some()),
                ("tls_server_name", self.tls_server_name.is_some()),
            ] {
                check(
                    !set,
                    format!("route[{r}].{key}"),
                    "is only used with tls = \"verify\"".into(),
                );
            }
        }
    }
}

/// `host:port` split into its host (brackets of an IPv6 address removed) and port, or
/// `None` if it is not of that form.
pub fn split_host_port(server: &str) -> Option<(String, u16)> {
    let (host, port) = server.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|&p| p != 0)?;
    let host = match host.strip_prefix('[') {
        Some(rest) => rest.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    if host.is_empty() || host.contains([' ', '/', '@']) {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("10.0.0.5:25"),
            Some(("10.0.0.5".into(), 25))
        );
        assert_eq!(split_host_port("[::1]:2526"), Some(("::1".into(), 2526)));
        assert_eq!(
            split_host_port("mail.internal:587"),
            Some(("mail.internal".into(), 587))
        );
        for bad in [
            "mail.internal",
            "::1:25",
            ":25",
            "host:0",
            "host:99999",
            "[::1:25",
        ] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn max_age_is_a_duration_or_forever() {
        assert_eq!("forever".parse::<MaxAge>(), Ok(MaxAge::Forever));
        assert_eq!(
            "48h".parse::<MaxAge>().map(MaxAge::limit),
            Ok(Some(Duration::from_secs(48 * 3600)))
        );
        assert!("never".parse::<MaxAge>().is_err());
    }

    #[test]
    fn defaults_are_every_15_minutes_for_48_hours() {
        let config = DeliveryConfig::default();
        assert_eq!(
            config.retry_intervals,
            [HumanDuration(Duration::from_secs(900))]
        );
        assert_eq!(config.max_age.limit(), Some(Duration::from_secs(172_800)));
        assert!(config.problems().is_empty());
    }

    #[test]
    fn connections_are_cached_two_seconds_and_at_most_a_minute() {
        let mut config = DeliveryConfig::default();
        assert_eq!(config.connection_cache_time.0, Duration::from_secs(2));
        config.connection_cache_time = HumanDuration(Duration::ZERO);
        assert!(config.problems().is_empty(), "0s closes at once");
        config.connection_cache_time = HumanDuration(Duration::from_secs(61));
        let problems = config.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            format!("{problems:?}").contains("connection_cache_time"),
            "{problems:?}"
        );
    }
}
