//! What can be wrong with a configuration, each problem naming its key.

use std::fmt;
use std::path::PathBuf;

/// One problem found while validating a parsed configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The dotted key path, e.g. `thresholds.reject` or `plugin.dnsbl.weight`.
    pub key: String,
    /// What is wrong and, where possible, what would be right.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for Moat's schema (syntax, unknown key, wrong type).
    /// The message carries the line, column and key from the TOML parser.
    #[error("{origin}: {message}")]
    Parse {
        /// The file name, or "embedded default".
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but some values are unacceptable; every problem is listed.
    #[error("{origin}: invalid configuration:\n{}", list(problems))]
    Invalid {
        /// The file name, or "embedded default".
        origin: String,
        /// Every problem found, each naming its key.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
