//! The gateway's shared DNS resolver, behind the plugins' `dns` capability (`wit/dns.wit`)
//! and the gateway's own lookups.
//!
//! One [`Resolver`] serves the whole process. It is a cheap handle: clones share one
//! hickory resolver, so one cache and one set of connections. The cache honours record
//! TTLs and caches negative answers (NXDOMAIN and NODATA) for the negative TTL of the SOA
//! that comes with them, at most [`ResolverSettings::negative_ttl_max`]; as RFC 2308 says,
//! a negative answer without an SOA is not cached. Every lookup is bounded in time: hickory
//! gives each try [`ResolverSettings::timeout`], and a guard around the whole lookup turns
//! anything slower than `timeout × attempts` (plus a small margin) into
//! [`LookupError::Timeout`].
//!
//! Answers are strings in the forms the WIT promises (see [`RecordKind`]), and failures are
//! the four outcomes a plugin can act on ([`LookupError`]).
//!
//! * `settings`: [`ResolverSettings`], what the operator configures.
//! * `kind`: [`RecordKind`] and the answer formats.
//! * `name`: turning a question into the name asked (FQDN; reverse name for PTR).
//! * `error`: [`LookupError`], [`DnsSetupError`], and how hickory's errors map to them.
//! * `resolver`: [`Resolver`] itself.
//! * `handmade`: DNS answers built byte by byte, for a bench and tests.

mod cache;
mod error;
pub(crate) mod handmade;
mod kind;
mod name;
mod resolver;
pub mod reverse;
mod settings;

#[cfg(test)]
mod live_tests;
#[cfg(test)]
mod test_server;

pub use error::{DnsSetupError, LookupError};
pub use kind::RecordKind;
pub use resolver::Resolver;
pub use settings::ResolverSettings;
