//! The operator's configuration: one TOML file (serde, unknown keys refused), validated at
//! load with every problem named by its key. Without `--config`, Moat runs on the embedded
//! default (`embedded.toml`), the same schema as `examples/moat.toml`.

mod admin;
mod capabilities;
mod decisions;
mod delivery;
mod error;
mod filter;
mod headers;
mod learnt_weights;
mod pem;
mod plugin_terms;
mod quarantine;
mod queue;
mod relay;
mod sender_auth;
mod smtp;
mod submission;
mod units;
mod verify;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use admin::AdminConfig;
pub use capabilities::{DnsConfig, KvBackendKind, KvConfig, OcrConfig, OcrEngineKind};
pub use decisions::DecisionsConfig;
pub use delivery::{AuthConfig, DeliveryConfig, MaxAge, RouteConfig, TlsPolicy, split_host_port};
pub use error::{ConfigError, Problem};
pub use filter::{
    DEFAULT_DNS_MAX_QUESTIONS, FilterConfig, MAX_PLUGIN_MEMORY, MIN_PLUGIN_MEMORY, PluginSettings,
    Thresholds, default_dns_time_budget,
};
pub use headers::{HeadersConfig, VerdictField};
pub use learnt_weights::LearntWeights;
pub use pem::trusted_certificates;
pub use plugin_terms::{
    BUNDLED_PREFIX, Capability, OnError, Stage, UnknownCapability, is_valid_plugin_name,
    is_valid_symbol_name,
};
pub use quarantine::QuarantineConfig;
pub use queue::QueueConfig;
pub use relay::RelayConfig;
pub use sender_auth::{DkimConfig, DkimKeyConfig, SenderAuthConfig};
pub use smtp::{
    BareLineEndingPolicy, IN_FLIGHT_COPIES, ListenerConfig, ListenerKind, SmtpConfig, TlsConfig,
};
pub use submission::SubmissionConfig;
pub use units::{ByteSize, HumanDuration, UnitError};
pub use verify::{UnverifiedRecipientAction, VerifyRecipients};

/// The embedded default configuration (`moat serve --dev`, `moat check` without `--config`).
pub const EMBEDDED_DEFAULT: &str = include_str!("embedded.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: identity and storage.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[[listener]]`: the SMTP listeners. None: `moat serve` has nothing to serve.
    #[serde(default)]
    pub listener: Vec<ListenerConfig>,
    /// `[smtp]`: session limits and timeouts.
    #[serde(default)]
    pub smtp: SmtpConfig,
    /// `[tls]`: the STARTTLS certificate.
    #[serde(default)]
    pub tls: TlsConfig,
    /// `[relay]`: the protected domains.
    #[serde(default)]
    pub relay: RelayConfig,
    /// `[filter]`: the plugin runtime.
    #[serde(default)]
    pub filter: FilterConfig,
    /// `[thresholds]`: score → action.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// `[headers]`: the verdict fields added to accepted mail.
    #[serde(default)]
    pub headers: HeadersConfig,
    /// `[sender_auth]`: SPF, DKIM, DMARC and ARC checks of inbound mail.
    #[serde(default)]
    pub sender_auth: SenderAuthConfig,
    /// `[dkim]`: the keys submitted mail is signed with.
    #[serde(default)]
    pub dkim: DkimConfig,
    /// `[plugin.NAME]`: per-plugin settings, weights and config.
    #[serde(default)]
    pub plugin: BTreeMap<String, PluginSettings>,
    /// `[dns]`: the resolver behind the `dns` capability.
    #[serde(default)]
    pub dns: DnsConfig,
    /// `[kv]`: quotas of the plugins' key-value namespaces.
    #[serde(default)]
    pub kv: KvConfig,
    /// `[ocr]`: the engine behind the `ocr` capability.
    #[serde(default)]
    pub ocr: OcrConfig,
    /// `[delivery]`: routes, the SMTP client, retries and bounces.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// `[admin]`: the local HTTP endpoint of a running server; none when absent.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// `[quarantine]`: how long held messages are kept.
    #[serde(default)]
    pub quarantine: QuarantineConfig,
    /// `[queue]`: the room kept free on the data dir's disk.
    #[serde(default)]
    pub queue: QueueConfig,
    /// `[submission]`: accounts, login limits, sending limits and outbound thresholds for
    /// the submission listeners.
    #[serde(default)]
    pub submission: SubmissionConfig,
    /// `[decisions]`: the decision log.
    #[serde(default)]
    pub decisions: DecisionsConfig,
    /// The learnt weights `[filter] weights_file` names, read at load (empty without it).
    #[serde(skip)]
    pub learnt_weights: LearntWeights,
}

/// `[server]`: the gateway's identity and where it keeps its data.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `hostname = "moat.localhost"`: the name Moat gives in its banner and Received headers.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// `data_dir = "moat-data"`: the queue, quarantine, plugin state and compiled-plugin
    /// cache. A relative path is taken from the current directory. `--data-dir` overrides.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `user = "moat"`: started as root, the server binds its listeners and then runs as
    /// this user (and `group`, default the user's own), never handling mail as root. The
    /// data dir, the TLS key and the configuration must be readable by it. Unset: it runs
    /// as whoever started it (under systemd, `User=` with `CAP_NET_BIND_SERVICE`).
    #[serde(default)]
    pub user: Option<String>,
    /// `group = "moat"`: the group to run as, with `user`.
    #[serde(default)]
    pub group: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hostname: default_hostname(),
            data_dir: default_data_dir(),
            user: None,
            group: None,
        }
    }
}

/// Where a configuration comes from: a file, or the embedded default; and a data dir that
/// overrides `server.data_dir`. A running server keeps it, to read the same file again on
/// reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSource {
    /// The configuration file; `None` for the embedded default.
    pub file: Option<PathBuf>,
    /// Overrides `server.data_dir`.
    pub data_dir: Option<PathBuf>,
}

impl ConfigSource {
    /// Reads (again) the configuration this source names.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.file {
            Some(path) => Config::load(path)?,
            None => Config::embedded_default()?,
        };
        if let Some(dir) = &self.data_dir {
            config.server.data_dir.clone_from(dir);
        }
        Ok(config)
    }
}

fn default_hostname() -> String {
    "moat.localhost".into()
}
/// `server.data_dir` when the configuration does not say.
pub const DEFAULT_DATA_DIR: &str = "moat-data";

fn default_data_dir() -> PathBuf {
    PathBuf::from(DEFAULT_DATA_DIR)
}

impl Config {
    /// Reads, parses and validates the file at `path`. Relative paths (plugin and cache
    /// folders, plugin `source`, TLS files, the users file, a route's `tls_ca_file`) are
    /// taken from the file's directory, before validation reads any of them.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_from(&text, &path.display().to_string(), path.parent())
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Result<Self, ConfigError> {
        Self::parse(EMBEDDED_DEFAULT, "embedded default")
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::parse_from(text, origin, None)
    }

    /// Parses TOML text, takes relative paths from `base` when given, and validates.
    fn parse_from(text: &str, origin: &str, base: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(base) = base {
            config.resolve_relative_to(base);
        }
        let mut problems = config.problems();
        if let Some(file) = &config.filter.weights_file {
            match LearntWeights::read(file) {
                Ok(weights) => config.learnt_weights = weights,
                Err(problem) => problems.push(problem),
            }
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    /// Every problem with this configuration, each naming its key; empty when valid.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = smtp::listener_problems(&self.listener);
        problems.extend(self.smtp.problems());
        problems.extend(self.relay.problems());
        problems.extend(self.filter.problems());
        problems.extend(self.thresholds.problems());
        problems.extend(self.headers.problems(&self.smtp.strip_headers));
        problems.extend(self.sender_auth.problems());
        problems.extend(self.dkim.problems());
        problems.extend(self.dns.problems());
        problems.extend(self.kv.problems());
        problems.extend(self.delivery.problems());
        problems.extend(self.admin.iter().flat_map(AdminConfig::problems));
        problems.extend(self.ocr.problems());
        problems.extend(self.submission.problems());
        problems.extend(self.queue.problems());
        problems.extend(self.decisions.problems());
        for (name, settings) in &self.plugin {
            if !is_valid_plugin_name(name) {
                problems.push(Problem {
                    key: format!("plugin.{name}"),
                    reason: "plugin names are 1-64 characters of a-z, 0-9, '-' and '_'".into(),
                });
            }
            problems.extend(settings.problems(&format!("plugin.{name}")));
        }
        if self.server.hostname.trim().is_empty() {
            problems.push(Problem {
                key: "server.hostname".into(),
                reason: "must not be empty".into(),
            });
        }
        for (key, name) in [("user", &self.server.user), ("group", &self.server.group)] {
            if name
                .as_ref()
                .is_some_and(|n| n.is_empty() || n.contains('\0'))
            {
                problems.push(Problem {
                    key: format!("server.{key}"),
                    reason: "must be a user or group name".into(),
                });
            }
        }
        if self.server.group.is_some() && self.server.user.is_none() {
            problems.push(Problem {
                key: "server.group".into(),
                reason: "needs server.user".into(),
            });
        }
        problems
    }

    fn resolve_relative_to(&mut self, base: &Path) {
        for path in [
            &mut self.tls.certificate,
            &mut self.tls.key,
            &mut self.submission.users_file,
            &mut self.kv.password_file,
            &mut self.kv.tls_ca_file,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
        for key in &mut self.dkim.key {
            if key.key_file.is_relative() {
                key.key_file = base.join(&key.key_file);
            }
        }
        for file in self
            .delivery
            .route
            .iter_mut()
            .filter_map(|route| route.tls_ca_file.as_mut())
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        for dir in [
            &mut self.filter.plugin_dir,
            &mut self.filter.cache_dir,
            &mut self.filter.weights_file,
        ]
        .into_iter()
        .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        for settings in self.plugin.values_mut() {
            if let Some(source) = &settings.source
                && !source.starts_with(BUNDLED_PREFIX)
                && Path::new(source).is_relative()
            {
                settings.source = Some(base.join(source).display().to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests;
