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

/// `[kv]`: quotas of each plugin's key-value namespace.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
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
    /// Bayes token table read hundreds of keys per message); 0 turns the cache off.
    #[serde(default = "default_kv_cache_bytes")]
    pub cache_bytes: ByteSize,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            max_key_bytes: default_max_key_bytes(),
            max_value_bytes: default_max_value_bytes(),
            max_entries: default_max_entries(),
            cache_bytes: default_kv_cache_bytes(),
        }
    }
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
