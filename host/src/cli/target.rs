//! Where `moat queue`, `moat quarantine`, `moat reload` and `moat learn` find what they
//! act on: the running server's admin endpoint (`--admin`, or the address it wrote in the
//! data dir) while it holds the data dir, else the data dir opened here.

use std::net::SocketAddr;

use anyhow::Context as _;

use super::ConfigArgs;
use crate::control::client::{self, Endpoint};
use crate::control::{LocalControl, RemoteControl};
use crate::queue::Queue;
use crate::store::{Database, StoreError};

/// Where to reach the queue, shared by every queue command.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// Config and data dir.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The running server's admin endpoint (default: from the data dir, else `[admin]`).
    #[arg(long, value_name = "ADDR")]
    pub admin: Option<SocketAddr>,
}

/// The queue's actions, through the running server or on the data dir opened here.
pub(super) enum Connection {
    /// The server is stopped: the queue opened here.
    Local(LocalControl),
    /// The server runs: through its admin endpoint.
    Remote(RemoteControl),
}

/// Runs `$body` with `$ops` bound to the connection's [`crate::control::Operations`],
/// whichever transport it is (the trait's methods are generic, so no `dyn`).
macro_rules! with_operations {
    ($connection:expr, $ops:ident => $body:expr) => {
        match $connection {
            $crate::cli::target::Connection::Local($ops) => $body,
            $crate::cli::target::Connection::Remote($ops) => $body,
        }
    };
}
pub(super) use with_operations;

/// The running server's endpoint when `--admin` is given or the database is in use (the
/// server holds it), else the queue opened here.
pub(super) async fn connect(target: &Target) -> anyhow::Result<Connection> {
    let config = target.config.load()?;
    if let Some(address) = target.admin {
        let token = client::token_for(&config);
        return Ok(Connection::Remote(RemoteControl::new(Endpoint {
            address,
            token,
        })));
    }
    let data_dir = &config.server.data_dir;
    match Database::open(data_dir) {
        Ok(db) => Ok(Connection::Local(LocalControl::new(
            Queue::open(db)?,
            crate::delivery::dsn::Bounces::from_config(&config),
            crate::time::Clock::system(),
            crate::decisions::DecisionLog::direct(
                &crate::decisions::log_dir(data_dir),
                &config.decisions,
                crate::time::Clock::system(),
            ),
        ))),
        Err(StoreError::InUse { .. }) => Ok(Connection::Remote(RemoteControl::new(
            client::running_endpoint(&config)?,
        ))),
        Err(error) => Err(error)
            .with_context(|| format!("cannot open the data directory {}", data_dir.display())),
    }
}

/// The admin endpoint of the server running on `config`'s data dir.
pub(super) fn running_admin(config: &crate::config::Config) -> anyhow::Result<Endpoint> {
    Ok(client::running_endpoint(config)?)
}
