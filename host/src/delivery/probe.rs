//! Recipient probes: does the route of an address's domain take mail for it? Asked of the
//! route in force, its servers in order, with its TLS policy and credentials, over the
//! delivery client (`connect` and `client/probe.rs`): EHLO, `MAIL FROM:<>`, `RCPT TO`,
//! `QUIT`, never DATA. The SMTP side's recipient verification asks through this (the
//! server wires the two together).
//!
//! Each probe opens a connection of its own and closes it: probes are rare (the SMTP side
//! caches their answers) and a RCPT must not wait behind a delivery on a shared one.

use std::sync::Arc;

use super::client::{ClientParams, ProbeReply};
use super::connect;
use super::route::{Destination, LiveRoutes};
use crate::dns::Resolver;

/// What a probe learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The server took the recipient (2xx to RCPT).
    Accepted,
    /// The server refused the recipient for good (5xx to RCPT).
    Refused {
        /// Its reply, on one line.
        reply: String,
    },
    /// No answer about the recipient: no route, no connection, a refused null sender, a
    /// 4xx, a broken connection.
    Unanswered {
        /// What went wrong.
        reason: String,
    },
}

/// Probes the routes in force with a client of their own.
#[derive(Debug)]
pub struct RecipientProbe {
    routes: Arc<LiveRoutes>,
    client: ClientParams,
    resolver: Option<Resolver>,
}

impl RecipientProbe {
    /// Probes over `routes` (delivery's, so a reload applies to both), connecting with
    /// `client` and resolving route host names with `resolver`.
    pub fn new(routes: Arc<LiveRoutes>, client: ClientParams, resolver: Option<Resolver>) -> Self {
        Self {
            routes,
            client,
            resolver,
        }
    }

    /// Whether `address`'s domain has a route (a server to ask).
    pub fn has_route(&self, address: &str) -> bool {
        matches!(
            self.routes.current().destination(address),
            Destination::Route(_)
        )
    }

    /// Asks the route of `address`'s domain whether it takes mail for `address`.
    pub async fn probe(&self, address: &str) -> ProbeOutcome {
        let unanswered = |reason: String| ProbeOutcome::Unanswered { reason };
        let table = self.routes.current();
        let destination = table.destination(address);
        if !matches!(destination, Destination::Route(_)) {
            return unanswered(format!("no route for {destination}"));
        }
        let hops = match table.hops(&destination, self.resolver.as_ref()).await {
            Ok(hops) => hops,
            Err(error) => return unanswered(error.to_string()),
        };
        let mut connection = match connect::first_host(&hops, &self.client, &destination).await {
            Ok(connection) => connection,
            Err(reason) => return unanswered(reason),
        };
        let peer = connection.peer().to_owned();
        let reply = connection.probe_recipient(address).await;
        // The answer is known: the client does not wait for QUIT's reply.
        tokio::spawn(connection.quit());
        match reply {
            Ok(ProbeReply::Recipient(reply)) if reply.is_positive() => ProbeOutcome::Accepted,
            Ok(ProbeReply::Recipient(reply)) if reply.is_permanent() => ProbeOutcome::Refused {
                reply: format!("{peer} said: {reply}"),
            },
            Ok(ProbeReply::Recipient(reply)) => unanswered(format!("{peer} said: {reply}")),
            Ok(ProbeReply::SenderRefused(reply)) => {
                unanswered(format!("{peer} refused the null sender: {reply}"))
            }
            Ok(ProbeReply::NeedsSmtputf8) => unanswered(format!(
                "{peer} does not offer SMTPUTF8, which the address needs"
            )),
            Err(error) => unanswered(format!("{peer}: {error}")),
        }
    }
}
