//! DNS lookups through the gateway's shared resolver. Requires the `dns` capability.
//!
//! Lookups are cached by TTL (negative answers too) and bounded by a per-query timeout;
//! while a plugin waits, it holds no worker thread. To ask several questions — say, a
//! handful of block lists — ask them together with [`lookup_all`]: the host runs them
//! concurrently.
//!
//! Each call of the plugin has a DNS budget set by the operator: a number of questions
//! (128 by default) and a time waiting for answers (nine tenths of the call's time budget
//! by default), over all its lookups. Questions beyond the count fail with
//! [`DnsError::ServerFailure`] without being asked; once the time is spent, lookups fail
//! with [`DnsError::Timeout`]. Both already mean "unknown": handle them as such.
//!
//! ```no_run
//! use moat_sdk::dns::{self, DnsError};
//!
//! // Is 192.0.2.1 on a block list? (Block lists answer with a 127.0.0.x address.)
//! match dns::lookup_a("1.2.0.192.zen.example.org") {
//!     Ok(codes) => println!("listed: {codes:?}"),
//!     Err(DnsError::NotFound) => println!("not listed"),
//!     Err(error) => println!("unknown: {error}"),
//! }
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::bindings::moat::filter::dns as wit;
use crate::bindings::moat::filter::dns::DnsError as WitDnsError;

/// The kind of record asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// IPv4 addresses; answers are dotted quads (`"127.0.0.2"`).
    A,
    /// IPv6 addresses; answers are in RFC 5952 form (`"2001:db8::1"`).
    Aaaa,
    /// Text records; each answer is one record's strings joined.
    Txt,
    /// Mail exchangers; each answer is `"PREFERENCE HOST"`, e.g. `"10 mx.example.org."`.
    Mx,
    /// Reverse names; the question's name is an IP address, answers are host names.
    Ptr,
}

impl RecordKind {
    fn into_wit(self) -> wit::RecordKind {
        match self {
            Self::A => wit::RecordKind::A,
            Self::Aaaa => wit::RecordKind::Aaaa,
            Self::Txt => wit::RecordKind::Txt,
            Self::Mx => wit::RecordKind::Mx,
            Self::Ptr => wit::RecordKind::Ptr,
        }
    }
}

/// One DNS question, for [`lookup`] and [`lookup_all`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Question {
    /// The name to look up (for [`RecordKind::Ptr`], the IP address). A trailing dot is
    /// optional.
    pub name: String,
    /// The record kind.
    pub kind: RecordKind,
}

impl Question {
    /// A question for the `kind` records of `name`.
    pub fn new(name: impl Into<String>, kind: RecordKind) -> Self {
        Self {
            name: name.into(),
            kind,
        }
    }

    fn to_wit(&self) -> wit::Question {
        wit::Question {
            name: self.name.clone(),
            kind: self.kind.into_wit(),
        }
    }
}

/// Why a lookup gave no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DnsError {
    /// The name does not exist (NXDOMAIN) or has no record of this kind (NODATA). For a
    /// DNS block list this means "not listed".
    NotFound,
    /// No answer within the configured timeout, or the call's DNS time budget is spent.
    /// Treat it as unknown, not as clean.
    Timeout,
    /// The server failed or refused (SERVFAIL, REFUSED) or could not be reached, or the
    /// call's DNS question budget is spent.
    ServerFailure,
    /// The question was malformed (a bad name, or an invalid IP for a PTR lookup).
    InvalidName,
    /// The operator did not grant this plugin the `dns` capability.
    Denied,
}

impl DnsError {
    fn from_wit(error: WitDnsError) -> Self {
        match error {
            WitDnsError::NotFound => Self::NotFound,
            WitDnsError::Timeout => Self::Timeout,
            WitDnsError::ServerFailure => Self::ServerFailure,
            WitDnsError::InvalidName => Self::InvalidName,
            WitDnsError::Denied => Self::Denied,
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "no such name or no record of that kind",
            Self::Timeout => "DNS lookup timed out",
            Self::ServerFailure => "DNS server failed or could not be reached",
            Self::InvalidName => "malformed DNS question",
            Self::Denied => "the plugin was not granted the dns capability",
        })
    }
}

impl std::error::Error for DnsError {}

/// A mail exchanger from [`lookup_mx`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mx {
    /// The preference; lower values are tried first.
    pub preference: u16,
    /// The exchanger's host name, as answered (usually with a trailing dot).
    pub exchange: String,
}

/// Looks up one question and returns the answers as text, in the form described on
/// [`RecordKind`]. The typed helpers below are usually more convenient.
pub fn lookup(question: &Question) -> Result<Vec<String>, DnsError> {
    wit::lookup(&question.to_wit()).map_err(DnsError::from_wit)
}

/// Looks up many questions at once; the host runs them concurrently. The answers are in
/// the order of the questions.
#[must_use]
pub fn lookup_all(questions: &[Question]) -> Vec<Result<Vec<String>, DnsError>> {
    let questions: Vec<wit::Question> = questions.iter().map(Question::to_wit).collect();
    wit::lookup_all(&questions)
        .into_iter()
        .map(|answer| answer.map_err(DnsError::from_wit))
        .collect()
}

/// The IPv4 addresses of `name`.
pub fn lookup_a(name: &str) -> Result<Vec<Ipv4Addr>, DnsError> {
    lookup(&Question::new(name, RecordKind::A)).map(|answers| parse_all(&answers))
}

/// The IPv6 addresses of `name`.
pub fn lookup_aaaa(name: &str) -> Result<Vec<Ipv6Addr>, DnsError> {
    lookup(&Question::new(name, RecordKind::Aaaa)).map(|answers| parse_all(&answers))
}

/// The text records of `name`, each record's strings joined into one.
pub fn lookup_txt(name: &str) -> Result<Vec<String>, DnsError> {
    lookup(&Question::new(name, RecordKind::Txt))
}

/// The mail exchangers of `name`, in the order the resolver answered (sort by
/// [`Mx::preference`] if the order matters).
pub fn lookup_mx(name: &str) -> Result<Vec<Mx>, DnsError> {
    lookup(&Question::new(name, RecordKind::Mx)).map(|answers| {
        answers
            .iter()
            .filter_map(|answer| parse_mx(answer))
            .collect()
    })
}

/// The host names `ip` maps back to (its PTR records).
pub fn lookup_ptr(ip: IpAddr) -> Result<Vec<String>, DnsError> {
    lookup(&Question::new(ip.to_string(), RecordKind::Ptr))
}

/// Parses every answer. The host answers in canonical form, so an answer that does not
/// parse would be a host bug; it is dropped rather than failing the lookup.
fn parse_all<T: std::str::FromStr>(answers: &[String]) -> Vec<T> {
    answers
        .iter()
        .filter_map(|answer| answer.parse().ok())
        .collect()
}

/// Parses an MX answer of the form `"PREFERENCE HOST"`.
fn parse_mx(answer: &str) -> Option<Mx> {
    let (preference, exchange) = answer.trim().split_once(' ')?;
    Some(Mx {
        preference: preference.parse().ok()?,
        exchange: exchange.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mx_answers() {
        assert_eq!(
            parse_mx("10 mx.example.org."),
            Some(Mx {
                preference: 10,
                exchange: "mx.example.org.".to_owned()
            })
        );
        assert_eq!(
            parse_mx("0 ."),
            Some(Mx {
                preference: 0,
                exchange: ".".to_owned()
            })
        );
        assert_eq!(parse_mx("mx.example.org."), None);
        assert_eq!(parse_mx("x mx.example.org."), None);
    }

    #[test]
    fn parses_addresses_and_drops_garbage() {
        let answers = ["127.0.0.2".to_owned(), "bogus".to_owned()];
        assert_eq!(
            parse_all::<Ipv4Addr>(&answers),
            [Ipv4Addr::new(127, 0, 0, 2)]
        );
        let answers = ["2001:db8::1".to_owned()];
        assert_eq!(
            parse_all::<Ipv6Addr>(&answers),
            ["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
        );
    }

    #[test]
    fn converts_errors() {
        assert_eq!(
            DnsError::from_wit(WitDnsError::NotFound),
            DnsError::NotFound
        );
        assert_eq!(DnsError::from_wit(WitDnsError::Denied), DnsError::Denied);
        assert!(!DnsError::Timeout.to_string().is_empty());
    }
}
