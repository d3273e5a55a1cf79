//! Why a lookup gave no answer, why the resolver could not be set up, and how hickory's
//! errors map to the four outcomes a plugin acts on.

use std::time::Duration;

use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;

/// Why a lookup gave no answer (the `dns-error` of `wit/dns.wit`, less `denied`, which the
/// capability check decides before any lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist (NXDOMAIN) or has no record of this kind (NODATA). For a
    /// DNS block list this means "not listed".
    #[error("no such record (NXDOMAIN or NODATA)")]
    NotFound,
    /// No answer within the configured time. The caller should treat it as unknown, not
    /// as a negative answer.
    #[error("no answer in time")]
    Timeout,
    /// The server failed or refused (SERVFAIL, REFUSED, other error codes), answered
    /// something unusable, or could not be reached.
    #[error("the name server failed, refused, or could not be reached")]
    ServerFailure,
    /// The question was malformed: an empty or unparsable name, or, for PTR, not an IP
    /// address.
    #[error("not a valid name for this question")]
    InvalidName,
}

/// Why the resolver could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DnsSetupError {
    /// No nameservers were given and the system's resolver configuration
    /// (`/etc/resolv.conf`) could not be read.
    #[error("cannot read the system resolver configuration: {source}")]
    SystemConfig {
        /// hickory's reason.
        #[source]
        source: NetError,
    },
    /// hickory refused to build a resolver from the settings.
    #[error("cannot build the resolver: {source}")]
    Build {
        /// hickory's reason.
        #[source]
        source: NetError,
    },
    /// The per-try timeout is zero: every lookup would fail.
    #[error("the DNS timeout must be more than 0s, not {timeout:?}")]
    ZeroTimeout {
        /// The timeout given.
        timeout: Duration,
    },
    /// Zero tries per query: every lookup would fail.
    #[error("DNS attempts must be at least 1, not {attempts}")]
    ZeroAttempts {
        /// The number of attempts given.
        attempts: usize,
    },
}

/// The outcome a hickory error means for the plugin asking.
///
/// Only NXDOMAIN and NODATA are "not found"; a negative answer with any other response
/// code, every error response code (SERVFAIL, REFUSED, FORMERR, …), an unreachable or
/// busy server, an undecodable answer and a DNSSEC failure are all server failures, and
/// only hickory's own timeout is a timeout. Names are parsed before hickory sees them,
/// so no hickory error means an invalid name.
pub(crate) fn classify(error: &NetError) -> LookupError {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain | ResponseCode::NoError,
            ..
        })) => LookupError::NotFound,
        NetError::Timeout => LookupError::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => LookupError::Timeout,
        _ => LookupError::ServerFailure,
    }
}

/// The negative TTL the server gave with a NXDOMAIN/NODATA answer (from its SOA), if any.
pub(crate) fn negative_ttl(error: &NetError) -> Option<u32> {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords { negative_ttl, .. })) => *negative_ttl,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::str::FromStr;
    use std::sync::Arc;

    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::{Name, RecordType};

    use super::*;

    fn no_records(code: ResponseCode) -> NetError {
        let name = Name::from_str("2.0.0.127.bl.moat.test.").expect("valid test name");
        NoRecords::new(Query::query(name, RecordType::A), code).into()
    }

    #[test]
    fn nxdomain_and_nodata_are_not_found() {
        assert_eq!(
            classify(&no_records(ResponseCode::NXDomain)),
            LookupError::NotFound
        );
        assert_eq!(
            classify(&no_records(ResponseCode::NoError)),
            LookupError::NotFound
        );
    }

    #[test]
    fn a_negative_answer_with_another_code_is_a_server_failure() {
        assert_eq!(
            classify(&no_records(ResponseCode::ServFail)),
            LookupError::ServerFailure
        );
    }

    #[test]
    fn error_codes_are_server_failures() {
        for code in [
            ResponseCode::ServFail,
            ResponseCode::Refused,
            ResponseCode::FormErr,
            ResponseCode::NotImp,
        ] {
            let error = NetError::Dns(DnsError::ResponseCode(code));
            assert_eq!(classify(&error), LookupError::ServerFailure, "{code}");
        }
    }

    #[test]
    fn timeouts_are_timeouts() {
        assert_eq!(classify(&NetError::Timeout), LookupError::Timeout);
        let io_timeout = NetError::Io(Arc::new(io::Error::from(io::ErrorKind::TimedOut)));
        assert_eq!(classify(&io_timeout), LookupError::Timeout);
        // hickory's own conversion turns a timed-out io error into its Timeout.
        let converted = NetError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(classify(&converted), LookupError::Timeout);
    }

    #[test]
    fn unreachable_busy_and_garbled_are_server_failures() {
        let cases = [
            NetError::from(io::Error::from(io::ErrorKind::ConnectionRefused)),
            NetError::NoConnections,
            NetError::Busy,
            NetError::Truncated,
            NetError::QueryCaseMismatch,
            NetError::Dns(DnsError::DnssecBogus),
            NetError::from("something else"),
        ];
        for error in cases {
            assert_eq!(classify(&error), LookupError::ServerFailure, "{error}");
        }
    }
}
