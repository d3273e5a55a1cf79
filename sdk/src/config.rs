//! The plugin's own settings: the `[config]` table of the TOML file beside the plugin's
//! `.wasm` (or `[plugin.NAME.config]` in `moat.toml`), deserialized into your types.
//! Always available.
//!
//! Given this operator configuration:
//!
//! ```toml
//! [config]
//! threshold = 3
//! phrases = { "free money" = 3.0, "act now" = 2.0 }
//! ```
//!
//! a plugin reads it key by key, falling back to defaults:
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use moat_sdk::config;
//!
//! # fn read() -> Result<(), config::ConfigError> {
//! let threshold: u32 = config::get("threshold")?.unwrap_or(5);
//! let phrases: BTreeMap<String, f64> = config::get("phrases")?.unwrap_or_default();
//! # Ok(())
//! # }
//! ```
//!
//! or all at once into a struct deriving `serde::Deserialize` with [`all`].

use std::fmt;

use serde::de::DeserializeOwned;

use crate::bindings::moat::filter::config as wit;

/// Why the configuration could not be read into the type asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// The value under `key` does not have the expected shape (e.g. a string where a
    /// number was expected).
    InvalidValue {
        /// The top-level key of the config table.
        key: String,
        /// What did not match, from the deserializer.
        reason: String,
    },
    /// The config table as a whole does not match the expected type.
    InvalidTable {
        /// What did not match, from the deserializer.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidValue { key, reason } => write!(f, "config key `{key}`: {reason}"),
            Self::InvalidTable { reason } => write!(f, "config table: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The value under `key` (a top-level key of the plugin's config table) as a `T`, or
/// `None` when the operator did not set it. Any type implementing
/// `serde::Deserialize` works: numbers, strings, `Vec`s, maps, your own structs.
pub fn get<T: DeserializeOwned>(key: &str) -> Result<Option<T>, ConfigError> {
    parse_value(key, wit::get(key).as_deref())
}

/// The whole config table as a `T`, typically a struct deriving `serde::Deserialize`
/// with `#[serde(default)]`. An operator who set nothing gives an empty table.
pub fn all<T: DeserializeOwned>() -> Result<T, ConfigError> {
    parse_table(&wit::all())
}

/// The whole config table as a `T`, or `T::default()` when the table does not fit `T`
/// (an unknown key, a wrong type), with an error logged that names the problem: what a
/// plugin that should keep working on a mistyped config wants.
///
/// ```no_run
/// #[derive(serde::Deserialize, Default)]
/// #[serde(default, deny_unknown_fields)]
/// struct Settings {
///     threshold: f64,
/// }
///
/// let settings: Settings = moat_sdk::config::all_or_default();
/// # let _ = settings.threshold;
/// ```
pub fn all_or_default<T: DeserializeOwned + Default>() -> T {
    all().unwrap_or_else(|error| {
        crate::log::error(&format!("{error}; using the default settings"));
        T::default()
    })
}

fn parse_value<T: DeserializeOwned>(
    key: &str,
    json: Option<&str>,
) -> Result<Option<T>, ConfigError> {
    json.map(|json| {
        serde_json::from_str(json).map_err(|error| ConfigError::InvalidValue {
            key: key.to_owned(),
            reason: error.to_string(),
        })
    })
    .transpose()
}

fn parse_table<T: DeserializeOwned>(json: &str) -> Result<T, ConfigError> {
    serde_json::from_str(json).map_err(|error| ConfigError::InvalidTable {
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn missing_key_is_none() {
        assert_eq!(parse_value::<f64>("weight", None), Ok(None));
    }

    #[test]
    fn parses_values() {
        assert_eq!(parse_value::<f64>("x", Some("3")), Ok(Some(3.0)));
        let phrases: Option<BTreeMap<String, f64>> =
            parse_value("phrases", Some(r#"{"free money": 3.0, "act now": 2}"#)).unwrap();
        assert_eq!(phrases.unwrap()["act now"], 2.0);
    }

    #[test]
    fn reports_the_key_of_a_bad_value() {
        let error = parse_value::<f64>("threshold", Some(r#""high""#)).unwrap_err();
        assert!(matches!(&error, ConfigError::InvalidValue { key, .. } if key == "threshold"));
        assert!(error.to_string().starts_with("config key `threshold`: "));
    }

    #[test]
    fn parses_the_table() {
        let table: BTreeMap<String, u32> = parse_table(r#"{"a": 1}"#).unwrap();
        assert_eq!(table["a"], 1);
        let empty: BTreeMap<String, u32> = parse_table("{}").unwrap();
        assert!(empty.is_empty());
        assert!(matches!(
            parse_table::<Vec<u32>>("{}"),
            Err(ConfigError::InvalidTable { .. })
        ));
    }
}
