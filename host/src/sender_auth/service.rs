//! What the SMTP sessions get of sender authentication, built once at start
//! (`server/sender_auth.rs`): the verifier (when checks are on), the authserv-id results
//! are written under, and the DKIM signing keys.

use std::sync::Arc;

use super::signing::{DkimSigning, KeyError};
use super::verifier::SenderVerifier;

/// Sender authentication as the sessions use it.
#[derive(Clone, Default)]
pub struct SenderAuthService {
    /// Checks inbound mail; `None` when `[sender_auth] verify = false` or DNS is down.
    pub verifier: Option<Arc<SenderVerifier>>,
    /// The authserv-id `Authentication-Results` fields are written under; `None` when
    /// they are not added.
    pub authserv_id: Option<String>,
    /// The keys submitted mail is signed with.
    pub signing: DkimSigning,
    /// `[relay] trusted_relays`: a message from one of them is judged by the first hop
    /// outside them, by the sender checks and by the data-stage plugins alike.
    pub relays: super::TrustedRelays,
}

/// Why sender authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `[[dkim.key]]` file is unusable.
    #[error("dkim.key[{index}]: {source}")]
    Key {
        /// Its position in the list.
        index: usize,
        /// Why.
        source: KeyError,
    },
    /// `[relay] trusted_relays` has an entry that is not a network.
    #[error("relay.trusted_relays: {0}")]
    Relays(#[from] super::relays::NetworkError),
}
