//! The accept loop of one listener: caps on open sessions (in all, answered 421 4.3.2
//! beyond it, and per client, 421 4.7.0), back-off when accepting fails (e.g. out of file
//! descriptors) instead of dying, one task per session, and no session's error ever
//! reaching the loop. A listener 80% full is under stress: its sessions hear of it
//! ([`ConnectionSlots::stress`]) and give idle clients less time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::reply::Reply;
use super::session::{self, SessionParams};
use crate::config::ListenerConfig;

/// Open sessions per client (IPv4 address, IPv6 /64: [`crate::net::client_key`]); a
/// slot is given back when its guard drops.
#[derive(Debug, Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// How full a listener is, and whether that is stress (80% of its cap or more).
#[derive(Debug)]
struct Occupancy {
    total: Arc<Semaphore>,
    max: usize,
    stressed: watch::Sender<bool>,
}

impl Occupancy {
    fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(max)),
            max,
            stressed: watch::channel(false).0,
        })
    }

    /// Tells the sessions when the listener starts or stops being under stress.
    fn update(&self) {
        let open = self.max.saturating_sub(self.total.available_permits());
        let stressed = open * 5 >= self.max * 4;
        self.stressed.send_if_modified(|now| {
            let changed = *now != stressed;
            *now = stressed;
            changed
        });
    }
}

/// A session's places under the listener's caps (in all, and for its client); dropping it
/// gives them back.
pub struct ConnectionSlots {
    total: Option<OwnedSemaphorePermit>,
    _client: PerClientSlot,
    occupancy: Arc<Occupancy>,
}

impl ConnectionSlots {
    /// Whether the listener is under stress now, and when that changes.
    pub fn stress(&self) -> watch::Receiver<bool> {
        self.occupancy.stressed.subscribe()
    }
}

impl Drop for ConnectionSlots {
    fn drop(&mut self) {
        drop(self.total.take());
        self.occupancy.update();
    }
}

struct PerClientSlot {
    table: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn try_take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PerClientSlot> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PerClientSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for PerClientSlot {
    fn drop(&mut self) {
        let mut open = self.table.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections on `listener` until `shutdown` is cancelled; each session runs as a
/// task on `tracker` so the caller can wait for them to finish.
pub async fn serve(
    listener: TcpListener,
    config: ListenerConfig,
    params: Arc<SessionParams>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let occupancy = Occupancy::new(config.max_connections);
    let per_client = Arc::new(PerClient::default());
    let mut backoff = Duration::from_millis(100);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(100);
                pair
            }
            Err(error) => {
                tracing::warn!(listener = %config.name, %error, backoff_ms = backoff.as_millis() as u64, "accept failed");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(64));
                continue;
            }
        };
        params.metrics.connection();
        let Ok(total_slot) = Arc::clone(&occupancy.total).try_acquire_owned() else {
            refuse(stream, Reply::too_many_connections(false), &tracker);
            continue;
        };
        let client = crate::net::client_key(peer.ip());
        let Some(client_slot) = per_client.try_take(client, config.max_connections_per_ip) else {
            refuse(stream, Reply::too_many_connections(true), &tracker);
            continue;
        };
        let params = params.clone();
        let shutdown = shutdown.clone();
        let listener = (config.name.clone(), config.kind);
        let slots = ConnectionSlots {
            total: Some(total_slot),
            _client: client_slot,
            occupancy: Arc::clone(&occupancy),
        };
        occupancy.update();
        tracker.spawn(session::run(
            stream, peer, listener, params, shutdown, slots,
        ));
    }
}

/// Answers `reply` and closes, without holding up the accept loop.
fn refuse(mut stream: TcpStream, reply: Reply, tracker: &TaskTracker) {
    tracker.spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            stream.write_all(reply.to_wire().as_bytes()),
        )
        .await;
        let _ = stream.shutdown().await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_one_client_across_its_64() {
        let table = Arc::new(PerClient::default());
        let key = |s: &str| crate::net::client_key(s.parse().expect("an address"));
        let first = table.try_take(key("2001:db8::1"), 1).expect("a slot");
        assert!(
            table.try_take(key("2001:db8::ffff:2"), 1).is_none(),
            "same /64"
        );
        let other = table
            .try_take(key("2001:db8:0:1::1"), 1)
            .expect("another /64");
        drop(first);
        assert!(
            table.try_take(key("2001:db8::3"), 1).is_some(),
            "given back"
        );
        drop(other);
    }
}
