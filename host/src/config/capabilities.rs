//! `[dns]`, `[kv]` and `[ocr]`: the host services behind the plugins' capabilities.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::{ByteSize, HumanDuration};

/// `[dns]`: the shared resolver behind the `dns` capability.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// `nameservers = ["127.0.0.1:53"]`: resolvers to ask (UDP, falling back to TCP).
    /// Empty: the system's /etc/resolv.conf.
    #[serde(default)]
    pub nameservers: Vec<SocketAddr>,
    /// `timeout = "2s"`: how long one query may take.
    #[serde(default = "default_dns_timeout")]
    pub timeout: HumanDuration,
    /// `attempts = 2`: tries per query before giving up with a timeout.
    #[serde(default = "default_dns_attempts")]
    pub attempts: usize,
    /// `cache_size = 65536`: answers kept in the shared cache (TTL honoured, negative
    /// answers cached too).
    #[serde(default = "default_dns_cache_size")]
    pub cache_size: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: default_dns_timeout(),
            attempts: default_dns_attempts(),
            cache_size: default_dns_cache_size(),
        }
    }
}

fn default_dns_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(2))
}
fn default_dns_attempts() -> usize {
    2
}
fn default_dns_cache_size() -> usize {
    65_536
}

impl DnsConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.timeout.0.is_zero() {
            problems.push(Problem {
                key: "dns.timeout".into(),
                reason: "must be more than 0s".into(),
            });
        }
        if !(1..=10).contains(&self.attempts) {
            problems.push(Problem {
                key: "dns.attempts".into(),
                reason: format!("must be between 1 and 10, not {}", self.attempts),
            });
        }
        problems
    }
}

/// `[kv]`: where the plugins' key-value namespaces live, and the quotas of each.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KvConfig {
    /// `max_key_bytes = 256`: the longest key a plugin may use.
    #[serde(default = "default_max_key_bytes")]
    pub max_key_bytes: usize,
    /// `max_value_bytes = 65536`: the largest value a plugin may store.
    #[serde(default = "default_max_value_bytes")]
    pub max_value_bytes: usize,
    /// `max_entries = 1000000`: the most keys one plugin may hold.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
    /// `cache_bytes = "64MiB"`: values of each namespace kept in memory for reads (a
    /// Bayes token table read hundreds of keys per message); 0 turns the cache off. The
    /// embedded backend only: a shared one caches nothing, so gateways never disagree.
    #[serde(default = "default_kv_cache_bytes")]
    pub cache_bytes: ByteSize,
    /// `backend = "fjall"`: the embedded store under the data dir; `"redis"`: Redis or
    /// Valkey at `url`, shared by every gateway of a site (primary and backup MX learn
    /// together). Mail is queued locally either way.
    #[serde(default)]
    pub backend: KvBackendKind,
    /// `url = "redis://127.0.0.1:6379/0"`: the Redis server (`backend = "redis"`).
    #[serde(default)]
    pub url: Option<String>,
    /// `password_file = "redis.password"`: a file whose first line is the Redis password,
    /// so that it is not in the config file (relative to the config file).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// `tls_ca_file = "redis-ca.pem"`: with a `rediss://` url, the CA that signed the
    /// Redis server's certificate (PEM, relative to the config file); without it, the
    /// system's CA store.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// `prefix = "moat"`: the first part of every Redis key. Gateways that learn together
    /// share one; another site on the same Redis takes another.
    #[serde(default = "default_kv_prefix")]
    pub prefix: String,
    /// `pool_size = 16`: idle Redis connections kept for the next calls.
    #[serde(default = "default_kv_pool_size")]
    pub pool_size: usize,
    /// `connect_timeout = "1s"`: time to open a connection to Redis.
    #[serde(default = "default_kv_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// `command_timeout = "500ms"`: time to wait for one Redis reply. A plugin call waits
    /// no longer than its own time budget in any case.
    #[serde(default = "default_kv_command_timeout")]
    pub command_timeout: HumanDuration,
}

/// Which store holds the plugins' kv namespaces.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KvBackendKind {
    /// fjall, under the data dir (`data_dir/kv`).
    #[default]
    Fjall,
    /// Redis or Valkey at `[kv] url`.
    Redis,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            max_key_bytes: default_max_key_bytes(),
            max_value_bytes: default_max_value_bytes(),
            max_entries: default_max_entries(),
            cache_bytes: default_kv_cache_bytes(),
            backend: KvBackendKind::default(),
            url: None,
            password_file: None,
            tls_ca_file: None,
            prefix: default_kv_prefix(),
            pool_size: default_kv_pool_size(),
            connect_timeout: default_kv_connect_timeout(),
            command_timeout: default_kv_command_timeout(),
        }
    }
}

impl KvConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, reason: String| {
            problems.push(Problem {
                key: format!("kv.{key}"),
                reason,
            });
        };
        match (&self.backend, &self.url) {
            (KvBackendKind::Redis, None) => {
                problem("url", "backend = \"redis\" needs the server's url".into());
            }
            (KvBackendKind::Redis, Some(url))
                if !url.starts_with("redis://") && !url.starts_with("rediss://") =>
            {
                problem(
                    "url",
                    format!("{url:?} is not a redis:// or rediss:// (TLS) url"),
                );
            }
            (KvBackendKind::Fjall, Some(_)) => {
                problem("url", "is for backend = \"redis\"".into());
            }
            _ => {}
        }
        if self.tls_ca_file.is_some()
            && !self
                .url
                .as_deref()
                .is_some_and(|u| u.starts_with("rediss://"))
        {
            problem("tls_ca_file", "is for a rediss:// (TLS) url".into());
        }
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) {
            problem("prefix", "must be a non-empty name without braces".into());
        }
        if self.pool_size == 0 {
            problem("pool_size", "must be at least 1".into());
        }
        for (key, value) in [
            ("connect_timeout", self.connect_timeout),
            ("command_timeout", self.command_timeout),
        ] {
            if value.0.is_zero() {
                problem(key, "must be more than 0s".into());
            }
        }
        problems
    }

    /// The Redis password from `password_file`, if one is set.
    pub fn redis_password(&self) -> Result<Option<String>, std::io::Error> {
        let Some(file) = &self.password_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(file)?;
        Ok(Some(text.lines().next().unwrap_or_default().to_owned()))
    }
}

fn default_kv_prefix() -> String {
    "moat".into()
}
fn default_kv_pool_size() -> usize {
    16
}
fn default_kv_connect_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(1))
}
fn default_kv_command_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_millis(500))
}
fn default_max_key_bytes() -> usize {
    256
}
fn default_max_value_bytes() -> usize {
    64 << 10
}
fn default_max_entries() -> u64 {
    1_000_000
}
fn default_kv_cache_bytes() -> ByteSize {
    ByteSize(64 << 20)
}

/// `[ocr]`: the engine behind the `ocr` capability, and the bounds every engine is held to.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OcrConfig {
    /// `engine = "tesseract"`: which engine reads images; `"none"` (the default when the
    /// key is missing) answers every request with "not configured".
    #[serde(default)]
    pub engine: OcrEngineKind,
    /// `command = "tesseract"`: the tesseract binary (found on PATH unless a path).
    #[serde(default = "default_ocr_command")]
    pub command: PathBuf,
    /// `languages = "eng"`: tesseract's `-l` argument (e.g. `"eng+deu"`).
    #[serde(default = "default_ocr_languages")]
    pub languages: String,
    /// `timeout = "5s"`: how long one image may take; the engine is killed then. Waiting
    /// for a free slot in the pool is bounded by the same time.
    #[serde(default = "default_ocr_timeout")]
    pub timeout: HumanDuration,
    /// `concurrency = 1`: images read at once. Each tesseract uses one core, so this bounds
    /// how much CPU OCR can take from SMTP.
    #[serde(default = "default_ocr_concurrency")]
    pub concurrency: usize,
    /// `max_image_bytes = "5MiB"`: larger images are refused without being read.
    #[serde(default = "default_ocr_max_image_bytes")]
    pub max_image_bytes: ByteSize,
    /// `max_pixels = 25000000`: images with more pixels (width × height, read from the
    /// image header) are refused: a tiny file can declare an enormous bitmap.
    #[serde(default = "default_ocr_max_pixels")]
    pub max_pixels: u64,
    /// `max_dimension = 10000`: images wider or taller than this many pixels are refused.
    #[serde(default = "default_ocr_max_dimension")]
    pub max_dimension: u32,
    /// `max_frames = 16`: images of more frames (GIF) or pages (TIFF) are refused. Every
    /// frame and page is held to `max_pixels` and `max_dimension` too: GIF decoders decode
    /// every frame and tesseract reads every page, not only the first the header names.
    #[serde(default = "default_ocr_max_frames")]
    pub max_frames: u32,
    /// `memory_limit = "512MiB"`: the address space of one engine process (tesseract runs
    /// under `RLIMIT_AS`, and under a CPU-time limit of `timeout` plus a second): an image
    /// that would take more fails instead of taking the host's memory.
    #[serde(default = "default_ocr_memory_limit")]
    pub memory_limit: ByteSize,
    /// `cache_entries = 10000`: results kept, keyed by the image's SHA-256, so an image
    /// seen in many messages is read once. 0 turns the cache off.
    #[serde(default = "default_ocr_cache_entries")]
    pub cache_entries: usize,
}

impl Default for OcrConfig {
    fn default() -> Self {
        Self {
            engine: OcrEngineKind::default(),
            command: default_ocr_command(),
            languages: default_ocr_languages(),
            timeout: default_ocr_timeout(),
            concurrency: default_ocr_concurrency(),
            max_image_bytes: default_ocr_max_image_bytes(),
            max_pixels: default_ocr_max_pixels(),
            max_dimension: default_ocr_max_dimension(),
            max_frames: default_ocr_max_frames(),
            memory_limit: default_ocr_memory_limit(),
            cache_entries: default_ocr_cache_entries(),
        }
    }
}

fn default_ocr_command() -> PathBuf {
    PathBuf::from("tesseract")
}
fn default_ocr_languages() -> String {
    "eng".to_owned()
}
fn default_ocr_timeout() -> HumanDuration {
    HumanDuration(std::time::Duration::from_secs(5))
}
fn default_ocr_concurrency() -> usize {
    1
}
fn default_ocr_max_image_bytes() -> ByteSize {
    ByteSize(5 << 20)
}
fn default_ocr_max_pixels() -> u64 {
    25_000_000
}
fn default_ocr_max_dimension() -> u32 {
    10_000
}
fn default_ocr_max_frames() -> u32 {
    16
}
fn default_ocr_memory_limit() -> ByteSize {
    ByteSize(512 << 20)
}
fn default_ocr_cache_entries() -> usize {
    10_000
}

/// The most `[ocr] max_frames`: each frame or page may cost a full OCR run.
const MAX_OCR_FRAMES: u32 = 1000;
/// The least `[ocr] memory_limit`; less is a unit mistake.
const MIN_OCR_MEMORY: u64 = 16 << 20;

impl OcrConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let mut problem = |key: &str, reason: String| {
            problems.push(Problem {
                key: format!("ocr.{key}"),
                reason,
            });
        };
        if self.timeout.0.is_zero() {
            problem("timeout", "must be more than 0s".into());
        }
        if !(1..=64).contains(&self.concurrency) {
            problem(
                "concurrency",
                format!("must be between 1 and 64, not {}", self.concurrency),
            );
        }
        if self.max_image_bytes.0 == 0 {
            problem("max_image_bytes", "must be more than 0".into());
        }
        if self.max_pixels == 0 {
            problem("max_pixels", "must be more than 0".into());
        }
        if self.max_dimension == 0 {
            problem("max_dimension", "must be more than 0".into());
        }
        if !(1..=MAX_OCR_FRAMES).contains(&self.max_frames) {
            problem(
                "max_frames",
                format!(
                    "must be between 1 and {MAX_OCR_FRAMES}, not {}",
                    self.max_frames
                ),
            );
        }
        if self.memory_limit.0 < MIN_OCR_MEMORY {
            problem(
                "memory_limit",
                format!(
                    "must be at least 16MiB (no engine starts in less), not {}",
                    self.memory_limit
                ),
            );
        }
        let valid_language =
            |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !self.languages.split('+').all(valid_language) {
            problem(
                "languages",
                format!(
                    "`{}` is not a list of tesseract language codes joined by + (e.g. \"eng+deu\")",
                    self.languages
                ),
            );
        }
        if self.command.as_os_str().is_empty() {
            problem("command", "must name the engine's binary".into());
        }
        problems
    }
}

/// The OCR engines Moat can drive.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OcrEngineKind {
    /// No engine: `ocr.recognize` answers `not-configured`.
    #[default]
    None,
    /// Tesseract (Debian's `tesseract-ocr`), run out of process for each image.
    Tesseract,
}
