//! Sender authentication from the configuration: the verifier on the gateway's resolver,
//! the authserv-id, and the DKIM keys loaded once.

use std::sync::Arc;

use crate::config::Config;
use crate::dns::Resolver;
use crate::sender_auth::{
    DkimKey, DkimSigning, SenderAuthService, SenderVerifier, SetupError, SigningIdentity,
    TrustedRelays,
};

/// The sender authentication `config` asks for, asking DNS through `resolver`.
pub fn sender_auth_service(
    config: &Config,
    resolver: Option<&Resolver>,
) -> Result<SenderAuthService, SetupError> {
    let hostname = &config.server.hostname;
    let settings = &config.sender_auth;
    let relays = TrustedRelays::parse(&config.relay.trusted_relays)?;
    let verifier = match (settings.verify, resolver) {
        (true, Some(resolver)) => Some(Arc::new(SenderVerifier::new(
            resolver.authenticator().clone(),
            hostname.clone(),
            relays.clone(),
            settings.time_budget.0,
            settings.check_local,
        ))),
        (true, None) => {
            tracing::warn!("no DNS resolver: SPF, DKIM, DMARC and ARC are not checked");
            None
        }
        (false, _) => None,
    };
    let identities = config
        .dkim
        .key
        .iter()
        .enumerate()
        .map(|(index, key)| {
            Ok(SigningIdentity {
                domain: key.domain.to_ascii_lowercase(),
                selector: key.selector.clone(),
                key: DkimKey::load(&key.key_file)
                    .map_err(|source| SetupError::Key { index, source })?,
            })
        })
        .collect::<Result<Vec<_>, SetupError>>()?;
    Ok(SenderAuthService {
        authserv_id: (verifier.is_some() && settings.results_header)
            .then(|| settings.authserv_id(hostname).to_owned()),
        verifier,
        signing: DkimSigning::new(identities),
        relays,
    })
}
