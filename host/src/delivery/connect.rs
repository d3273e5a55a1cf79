//! A connection to a destination's hops: each host in order, each of its addresses in
//! order, STARTTLS as the policy says; under `opportunistic`, a handshake that fails is
//! tried again in plain text on the same address. The workers open their connections
//! here, and so do recipient probes.

use tracing::{debug, warn};

use super::client::{ClientError, ClientParams, Connection};
use super::route::{Destination, Hops};
use crate::config::TlsPolicy;

/// A connection to the first host of `hops` that takes one, with `client`; else what went
/// wrong with each (`destination` names them when there was no address to try).
pub(super) async fn first_host(
    hops: &Hops,
    client: &ClientParams,
    destination: &Destination,
) -> Result<Connection, String> {
    let mut failures = Vec::new();
    for host in &hops.hosts {
        for &address in &host.addresses {
            let mut policy = hops.tls;
            loop {
                match Connection::open(
                    address,
                    &host.name,
                    client,
                    policy,
                    hops.verified.as_ref(),
                    hops.auth.as_ref(),
                )
                .await
                {
                    Ok(connection) => return Ok(connection),
                    Err(ClientError::Tls(error)) if policy == TlsPolicy::Opportunistic => {
                        warn!(host = %host.name, %address, %error, "TLS failed; trying again in plain text");
                        policy = TlsPolicy::None;
                    }
                    Err(error) => {
                        debug!(host = %host.name, %address, %error, "cannot use host");
                        failures.push(format!("{}[{address}]: {error}", host.name));
                        break;
                    }
                }
            }
        }
    }
    Err(if failures.is_empty() {
        format!("no address to try for {destination}")
    } else {
        failures.join("; ")
    })
}
