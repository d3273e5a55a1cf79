//! `[admin]`: the local HTTP endpoint of a running server.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::Problem;

/// `[admin]`: the local HTTP endpoint the `moat queue` commands use while the server runs
/// (the embedded default has it on 127.0.0.1:2580).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// `address = "127.0.0.1:2580"`: where the admin endpoint listens (port 0 picks a free
    /// port; the ready line says which). It has no authentication, so it must be a loopback
    /// address. Without an `[admin]` section there is no endpoint, and the `moat queue`
    /// commands work only while the server is stopped.
    pub address: SocketAddr,
}

impl AdminConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        if self.address.ip().is_loopback() {
            return Vec::new();
        }
        vec![Problem {
            key: "admin.address".into(),
            reason: format!(
                "{} is not a loopback address; the admin endpoint has no authentication",
                self.address
            ),
        }]
    }
}
