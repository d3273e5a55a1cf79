//! What a running server is made of, built from its configuration in order: the data dir,
//! TLS, the filter side, the queue, the session parameters, the listeners, and the tasks
//! beside them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::Context as _;
use tokio::net::TcpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::background::{self, Background};
use super::reload::{PluginDirSnapshot, Reloader};
use crate::config::{Config, ConfigSource, ListenerConfig};
use crate::decisions::{DecisionLog, log_dir};
use crate::delivery::route::{LiveRoutes, RouteTable};
use crate::filter::assemble::assemble;
use crate::filter::live::LivePipeline;
use crate::metrics::Registry;
use crate::os::private;
use crate::os::privileges::{self, Account};
use crate::queue::{FreeSpace, Queue};
use crate::smtp::header_fields::HeaderStrip;
use crate::smtp::metrics::SmtpMetrics;
use crate::smtp::relay::RelayPolicy;
use crate::smtp::session::SessionParams;
use crate::smtp::{listener, tls};
use crate::store::Database;
use crate::time::Clock;

/// A started server: its listeners accept, its background tasks run.
pub(super) struct Server {
    pub(super) params: Arc<SessionParams>,
    pub(super) reloader: Arc<Reloader>,
    /// The plugin directory as it was when the running set was loaded.
    pub(super) plugin_dir: PluginDirSnapshot,
    pub(super) shutdown: CancellationToken,
    /// The sessions, delivery and the quarantine's expiry.
    pub(super) tracker: TaskTracker,
    pub(super) accept_loops: Vec<JoinHandle<()>>,
    pub(super) background: Background,
    /// Each listener's name and the address it is bound to.
    listening: Vec<(String, SocketAddr)>,
    plugins: Vec<String>,
}

impl Server {
    /// Builds the server `source` configures and starts it: binds its privileged ports (as
    /// root, when started so), gives up root for `[server] user`, opens everything else,
    /// and only then listens (binding its other ports). Until the plugins are loaded a
    /// client is refused (and tries the next MX) instead of waiting for a greeting.
    pub(super) async fn start(source: ConfigSource, dev: bool) -> anyhow::Result<Self> {
        let config = source.load()?;
        if config.listener.is_empty() {
            anyhow::bail!("the configuration has no [[listener]]: nothing to serve");
        }
        let sockets = bind_listeners(&config)?;
        settle_in(&config)?;
        let data_dir = config.server.data_dir.clone();
        let dev_tls_dir = dev.then(|| data_dir.join("tls"));
        let tls = tls::server_config(&config.tls, &config.server.hostname, dev_tls_dir.as_deref())?;
        let plugin_dir = PluginDirSnapshot::of(&config);
        let assembled = assemble(&config, &data_dir)
            .await
            .context("cannot start the filter pipeline")?;
        for error in &assembled.load_errors {
            eprintln!("moat: plugin not loaded: {error}");
        }
        let queue = open_queue(&config, &assembled.database)?;
        let clock = Clock::system();
        queue.register_metrics(&assembled.metrics, clock.clone());
        let plugins = assembled
            .pipeline
            .plugins()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        let live = Arc::new(LivePipeline::new(assembled.pipeline));
        let reloader = Arc::new(Reloader::new(
            source,
            (
                Arc::clone(&assembled.engine),
                assembled.services.clone(),
                Arc::clone(&assembled.kv),
            ),
            data_dir.clone(),
            Arc::clone(&live),
            tls.as_ref().map(|tls| Arc::clone(&tls.certificate)),
        ));
        let routes = Arc::new(LiveRoutes::new(
            RouteTable::from_config(&config.delivery).context("cannot load the delivery routes")?,
        ));
        let verifier = super::verify::recipient_verifier(
            &config,
            &routes,
            assembled.services.resolver.clone(),
            clock.clone(),
            &assembled.metrics,
        )?;
        let sender_auth =
            super::sender_auth::sender_auth_service(&config, assembled.services.resolver.as_ref())?;
        let decisions = open_decision_log(&config, &data_dir, &clock, &assembled.metrics);
        let params = Arc::new(SessionParams {
            hostname: config.server.hostname.clone(),
            smtp: config.smtp.clone(),
            relay: RelayPolicy::from_config(&config.relay),
            submission: submission_service(&config, &data_dir, tls.is_some())?,
            tls: tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.config)),
            pipeline: live,
            queue,
            resolver: assembled.services.resolver.clone(),
            sessions: AtomicU64::new(1),
            metrics: SmtpMetrics::register(&assembled.metrics),
            clock,
            strip: HeaderStrip::new(
                &config.smtp.strip_headers,
                config.sender_auth.authserv_id(&config.server.hostname),
            ),
            headers: config.headers,
            budget: inflight_budget(&config),
            outcomes: Arc::new(tokio::sync::Semaphore::new(MAX_OUTCOMES)),
            verifier,
            sender_auth,
            decisions,
        });
        let stores = (assembled.metrics, assembled.kv_database, routes);
        Self::listen(
            config, sockets, stores, params, reloader, plugin_dir, plugins,
        )
        .await
    }

    /// Serves the bound listeners, then starts the background tasks.
    async fn listen(
        config: Config,
        sockets: Vec<(ListenerConfig, PortClaim)>,
        (metrics, kv_database, routes): (Arc<Registry>, Database, Arc<LiveRoutes>),
        params: Arc<SessionParams>,
        reloader: Arc<Reloader>,
        plugin_dir: PluginDirSnapshot,
        plugins: Vec<String>,
    ) -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut listening = Vec::new();
        let mut accept_loops = Vec::new();
        for (listener_config, claim) in sockets {
            let socket = claim.listen(&listener_config)?;
            let address = socket.local_addr()?;
            tracing::info!(listener = %listener_config.name, %address, "listening");
            listening.push((listener_config.name.clone(), address));
            accept_loops.push(tokio::spawn(listener::serve(
                socket,
                listener_config,
                Arc::clone(&params),
                shutdown.clone(),
                tracker.clone(),
            )));
        }
        let background = background::start(background::Parts {
            config: &config,
            params: &params,
            reloader: &reloader,
            metrics: &metrics,
            kv_database: &kv_database,
            listening: &listening
                .iter()
                .map(|(_, address)| *address)
                .collect::<Vec<_>>(),
            routes: &routes,
            shutdown: &shutdown,
            tracker: &tracker,
        })
        .await?;
        tracing::info!(
            plugins = ?plugins,
            data_dir = %config.server.data_dir.display(),
            tls = params.tls.is_some(),
            "moat ready"
        );
        Ok(Self {
            params,
            reloader,
            plugin_dir,
            shutdown,
            tracker,
            accept_loops,
            background,
            listening,
            plugins,
        })
    }

    /// `moat ready mx=ADDR … admin=ADDR plugins=a,b`: what a supervisor, a test or a
    /// benchmark reads to know the server is up and where.
    pub(super) fn ready_line(&self) -> String {
        let mut ready = String::from("moat ready");
        for (name, address) in &self.listening {
            ready.push_str(&format!(" {name}={address}"));
        }
        if let Some(admin) = self.background.admin {
            ready.push_str(&format!(" admin={admin}"));
        }
        ready.push_str(&format!(" plugins={}", self.plugins.join(",")));
        ready
    }
}

/// The decision log, or none when it cannot be opened: it is advice for tuning, and
/// mail must not wait for it.
/// Its lines dropped are counted in `metrics`.
fn open_decision_log(
    config: &Config,
    data_dir: &Path,
    clock: &Clock,
    metrics: &Registry,
) -> DecisionLog {
    let dir = log_dir(data_dir);
    let min_free = config.queue.min_free.0;
    let log = DecisionLog::open(&dir, &config.decisions, clock.clone(), min_free)
        .unwrap_or_else(|error| {
            tracing::warn!(%error, dir = %dir.display(), "cannot open the decision log: decisions are not logged");
            DecisionLog::disabled()
        });
    let counted = log.clone();
    metrics.collect(move |out| {
        out.family(
            "moat_decision_log_dropped_total",
            "counter",
            "Decisions not logged because the decision log's writer was behind.",
        );
        out.sample("moat_decision_log_dropped_total", &[], counted.dropped());
    });
    log
}

/// Outcome stages (learning) running in the background at most; past it a message
/// teaches nothing rather than queue up with its memory.
const MAX_OUTCOMES: usize = 256;

/// The memory for mail in flight: `[smtp] max_inflight_bytes`, or a quarter of the
/// machine's.
fn inflight_budget(config: &Config) -> Arc<crate::smtp::budget::MemoryBudget> {
    let budget = config
        .smtp
        .inflight_budget(crate::os::limits::total_memory());
    tracing::info!(max_inflight_bytes = budget, "memory for mail in flight");
    crate::smtp::budget::MemoryBudget::new(budget)
}

/// File descriptors kept for everything but SMTP sessions: the databases' files, plugin
/// and delivery connections, DNS, OCR pipes.
const RESERVED_FILES: u64 = 512;

/// Opens the queue with the reserve of `[queue] min_free`, and makes sure its database
/// takes writes before anything is delivered: a disk that fails writes would otherwise
/// have a message delivered and its outcome lost at every start.
fn open_queue(config: &Config, database: &Database) -> anyhow::Result<Queue> {
    let space = FreeSpace::new(database.dir(), config.queue.min_free.0);
    let queue = Queue::open_with(database.clone(), space).context("cannot open the queue")?;
    queue.check_writable().with_context(|| {
        format!(
            "the queue's database in {} does not take writes (is its disk full or failing?)",
            database.dir().display()
        )
    })?;
    Ok(queue)
}

/// Connections the kernel completes before a session takes them (tokio's default).
const LISTEN_BACKLOG: u32 = 1024;

/// A listener's port as start-up holds it before Moat is ready.
enum PortClaim {
    /// A privileged port, bound while Moat still may (as root), not yet listening: a
    /// client is refused, and tries the next MX, until the plugins are loaded.
    Bound(TcpSocket),
    /// An unprivileged port, bound and listened on in one step once Moat is ready. Bound
    /// early, any local user could bind it too (address reuse) and listen first.
    Later(SocketAddr),
}

impl PortClaim {
    /// Starts listening, binding first where that was left until now.
    fn listen(self, listener: &ListenerConfig) -> anyhow::Result<tokio::net::TcpListener> {
        let socket = match self {
            Self::Bound(socket) => socket,
            Self::Later(address) => bind(address).with_context(|| {
                format!("cannot listen on {address} (listener {})", listener.name)
            })?,
        };
        socket.listen(LISTEN_BACKLOG).with_context(|| {
            format!(
                "cannot listen on {} (listener {})",
                listener.address, listener.name
            )
        })
    }
}

/// Binds every `[[listener]]` on a privileged port (before root is given up: ports 25,
/// 465 and 587 need it), with the open-file limit raised and each listener's session cap
/// kept below it. Nothing listens yet: [`Server::listen`] starts that once Moat is ready.
fn bind_listeners(config: &Config) -> anyhow::Result<Vec<(ListenerConfig, PortClaim)>> {
    let files = crate::os::limits::raise_open_files().unwrap_or(1024);
    let most = usize::try_from(files.saturating_sub(RESERVED_FILES).max(16)).unwrap_or(usize::MAX);
    tracing::info!(open_files = files, "open-file limit");
    let mut sockets = Vec::new();
    for listener in &config.listener {
        let mut listener = listener.clone();
        if listener.max_connections > most {
            tracing::warn!(
                listener = %listener.name,
                max_connections = listener.max_connections,
                open_files = files,
                "the open-file limit allows fewer sessions: capped at {most} (raise LimitNOFILE)"
            );
            listener.max_connections = most;
        }
        if !privileges::is_privileged_port(listener.address.port()) {
            sockets.push((listener.clone(), PortClaim::Later(listener.address)));
            continue;
        }
        let socket = bind(listener.address).with_context(|| {
            format!(
                "cannot listen on {} (listener {})",
                listener.address, listener.name
            )
        })?;
        tracing::info!(listener = %listener.name, address = %socket.local_addr()?, "bound");
        sockets.push((listener, PortClaim::Bound(socket)));
    }
    Ok(sockets)
}

/// A TCP socket bound to `address` (address reuse on, as a listener restarts onto
/// connections in TIME_WAIT), not yet listening.
fn bind(address: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    Ok(socket)
}

/// Makes the data dir (mode 0700), hands it to `[server] user` and becomes that user when
/// started as root; warns when the data dir is open to other users, or when the server
/// keeps running as root.
fn settle_in(config: &Config) -> anyhow::Result<()> {
    let data_dir = &config.server.data_dir;
    let existed = data_dir.exists();
    private::create_private_dir(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    match &config.server.user {
        Some(user) => {
            let account = Account::lookup(user, config.server.group.as_deref())?;
            if privileges::is_root() && !existed {
                account.own_dir(data_dir)?;
            }
            account.switch_to()?;
            tracing::info!(user = %account.user, uid = account.uid, gid = account.gid, "running as");
        }
        None if privileges::is_root() => tracing::warn!(
            "running as root: set [server] user (or run under systemd as its own user) so \
             that no mail is handled as root"
        ),
        None => {}
    }
    if let Some(mode) = private::open_to_others(data_dir)
        .with_context(|| format!("cannot read the data directory {}", data_dir.display()))?
    {
        tracing::warn!(
            data_dir = %data_dir.display(),
            mode = format!("{mode:o}"),
            "the data directory is open to other users, who may read every message in it: \
             chmod 700 it"
        );
    }
    Ok(())
}

/// The accounts and limits of the submission listeners, when there are any; those
/// listeners need a certificate, since passwords never cross the network in clear.
fn submission_service(
    config: &Config,
    data_dir: &Path,
    have_tls: bool,
) -> anyhow::Result<Option<Arc<crate::auth::Submission>>> {
    let Some(listener) = config.listener.iter().find(|l| l.kind.is_submission()) else {
        return Ok(None);
    };
    if !have_tls {
        anyhow::bail!(
            "listener `{}` is a submission listener and needs TLS: set [tls] certificate and key (or run with --dev for a self-signed one)",
            listener.name
        );
    }
    let submission = crate::auth::Submission::from_config(&config.submission, data_dir)
        .context("cannot read the users file")?;
    tracing::info!(
        users_file = %submission.directory.path().display(),
        accounts = submission.directory.current().user.len(),
        "submission accounts"
    );
    Ok(Some(Arc::new(submission)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bound_listener_refuses_clients_until_it_listens() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = socket.local_addr().unwrap();
        let refused = tokio::net::TcpStream::connect(address).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
        let listener = socket.listen(LISTEN_BACKLOG).unwrap();
        let (client, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(address), listener.accept());
        assert_eq!(client.unwrap().peer_addr().unwrap(), address);
        accepted.unwrap();
    }

    #[tokio::test]
    async fn an_unprivileged_port_is_not_held_before_moat_listens() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = free.local_addr().unwrap();
        drop(free);
        let toml = format!("[[listener]]\nname = \"mx\"\naddress = \"{address}\"\nkind = \"mx\"\n");
        let config = Config::parse(&toml, "test").unwrap();
        let mut claims = bind_listeners(&config).unwrap();
        let (listener, claim) = claims.pop().unwrap();
        assert!(matches!(claim, PortClaim::Later(later) if later == address));
        // Another local user's server takes the free port first: Moat says so when ready,
        // rather than having told the world the port was its own.
        let other = bind(address).unwrap().listen(LISTEN_BACKLOG).unwrap();
        let error = format!("{:#}", claim.listen(&listener).unwrap_err());
        assert!(
            error.contains(&format!("cannot listen on {address} (listener mx)")),
            "{error}"
        );
        drop(other);
        let (_, claim) = bind_listeners(&config).unwrap().pop().unwrap();
        claim.listen(&listener).expect("the port is free again");
    }
}
