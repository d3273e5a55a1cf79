//! `[admin]`: the local HTTP endpoint of a running server.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::error::Problem;

/// `[admin]`: the HTTP endpoint the `moat queue`, `moat quarantine` and `moat learn`
/// commands use while the server runs, and `/metrics` (the embedded default has it on
/// 127.0.0.1:2580).
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// `address = "127.0.0.1:2580"`: where the admin endpoint listens (port 0 picks a free
    /// port; the ready line says which). Without an `[admin]` section there is no endpoint,
    /// and the commands work only while the server is stopped.
    pub address: SocketAddr,
    /// `token = "…"`: the token every request must carry (`Authorization: Bearer
    /// TOKEN`; the CLI sends it from the same configuration). Without it the server makes
    /// one at first start in `data_dir/admin.token` (mode 0600), which the CLI reads.
    /// Required when `address` is not a loopback address; at least 16 characters.
    #[serde(default)]
    pub token: Option<String>,
}

/// The shortest token accepted.
const MIN_TOKEN_CHARS: usize = 16;

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("address", &self.address)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl AdminConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        match &self.token {
            Some(token) if token.chars().count() < MIN_TOKEN_CHARS => vec![Problem {
                key: "admin.token".into(),
                reason: format!("must be at least {MIN_TOKEN_CHARS} characters"),
            }],
            Some(_) => Vec::new(),
            None if self.address.ip().is_loopback() => Vec::new(),
            None => vec![Problem {
                key: "admin.token".into(),
                reason: format!(
                    "is required: admin.address {} is not a loopback address",
                    self.address
                ),
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(address: &str, token: Option<&str>) -> AdminConfig {
        AdminConfig {
            address: address.parse().unwrap(),
            token: token.map(str::to_owned),
        }
    }

    #[test]
    fn beyond_loopback_a_long_enough_token_is_required() {
        assert!(admin("127.0.0.1:2580", None).problems().is_empty());
        let problems = admin("192.0.2.1:2580", None).problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "admin.token");
        assert!(
            admin("192.0.2.1:2580", Some("0123456789abcdef"))
                .problems()
                .is_empty()
        );
        let short = admin("127.0.0.1:2580", Some("short")).problems();
        assert_eq!(short[0].key, "admin.token");
        assert!(!format!("{:?}", admin("[::1]:1", Some("0123456789abcdef"))).contains("0123"));
    }
}
