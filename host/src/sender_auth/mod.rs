//! Sender authentication: who really sent a message. SPF (RFC 7208) of the HELO name and
//! the MAIL FROM identity when MAIL FROM arrives; DKIM (RFC 6376), ARC (RFC 8617) and
//! DMARC (RFC 7489) once the message is in; all with mail-auth on the gateway's own
//! resolver and cache. The results reach plugins through `wit/sender-auth.wit` and the
//! protected server through `Authentication-Results` (RFC 8601). Submitted mail is
//! DKIM-signed here too.
//!
//! * `results`: what was found, in the gateway's terms.
//! * `verifier`: the checks, bounded in time.
//! * `relays`: `[relay] trusted_relays`, and the first hop outside them.
//! * `limits`: what one message can make the checks do.
//! * `alignment`: organizational domains by the Public Suffix List.
//! * `header`: the `Authentication-Results` field.
//! * `service`: what the SMTP sessions get, built from the configuration.
//! * `signing` and `keygen`: DKIM keys, signatures, and `moat dkim keygen`.

mod alignment;
mod header;
pub mod keygen;
mod limits;
mod relays;
mod results;
mod service;
mod signing;
mod verifier;

pub use alignment::{is_within, organizational_domain, relaxed_aligned};
pub use header::authentication_results;
pub use limits::MAX_SIGNATURES;
pub use relays::{Network, NetworkError, Origin, Path, TrustedRelays};
pub use results::{
    DkimCheck, DkimVerdict, DmarcCheck, DmarcPolicy, DmarcVerdict, SenderAuthResults, SpfCheck,
    SpfVerdict,
};
pub use service::{SenderAuthService, SetupError};
pub use signing::{DkimKey, DkimSigning, KeyError, SIGNED_FIELDS, SigningIdentity};
pub use verifier::{Envelope, SenderVerifier};
