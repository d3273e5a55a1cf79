//! The admin endpoint's accept loop: one hyper HTTP/1.1 connection task per client, all
//! stopped at shutdown.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::router;
use crate::control::LocalControl;
use crate::filter::live::LivePipeline;
use crate::metrics::Registry;
use crate::server::reload::Reloader;

/// What the endpoints act on.
#[derive(Clone)]
pub(crate) struct AdminContext {
    /// The operator's actions on the running server's queue.
    pub(crate) control: LocalControl,
    /// The running server's plugins (as reloads change them), for learning.
    pub(crate) pipeline: Arc<LivePipeline>,
    /// What `POST /reload` runs.
    pub(crate) reloader: Arc<Reloader>,
    /// The server's metrics, for `/metrics`.
    pub(crate) metrics: Arc<Registry>,
    /// The largest request body taken (a message to learn): the SMTP size limit.
    pub(crate) max_body_bytes: usize,
    /// The address the endpoint listens on (what `Host` must name).
    pub(crate) address: std::net::SocketAddr,
    /// The token every request must carry (`[admin] token`, or the generated one).
    pub(crate) token: String,
    /// The decision log, where lessons are recorded as the operator's labels.
    pub(crate) decisions: crate::decisions::DecisionLog,
}

impl std::fmt::Debug for AdminContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminContext")
            .field("control", &self.control)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Serves the admin API on `listener` until `shutdown` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    context: AdminContext,
    shutdown: CancellationToken,
) {
    let context = Arc::new(context);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "admin endpoint: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let context = Arc::clone(&context);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let context = Arc::clone(&context);
                async move { Ok::<_, Infallible>(router::handle(&context, request).await) }
            });
            let connection = http1::Builder::new()
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        debug!(%peer, %error, "admin connection ended with an error");
                    }
                }
                () = shutdown.cancelled() => {}
            }
        });
    }
}
