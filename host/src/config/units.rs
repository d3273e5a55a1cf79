//! Human-readable durations ("250ms", "15m", "48h") and sizes ("64MiB") for config files.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as a number and a unit: `ms`, `s`, `m`, `h` or `d` (e.g. `"15m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// A byte size written as a number and an optional unit: `B`, `KiB`, `MiB`, `GiB`
/// (e.g. `"64MiB"`), or a bare integer of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// Why a duration or size string could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    /// The text is not a number followed by a known unit.
    #[error("`{text}` is not a {what} (expected e.g. {example})")]
    Malformed {
        /// The text as written.
        text: String,
        /// "duration" or "size".
        what: &'static str,
        /// A valid example.
        example: &'static str,
    },
}

fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let number = text[..digits].parse().ok()?;
    Some((number, text[digits..].trim()))
}

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || UnitError::Malformed {
            text: text.to_owned(),
            what: "duration",
            example: "\"250ms\", \"30s\", \"15m\", \"48h\", \"7d\"",
        };
        let (n, unit) = split_number(text).ok_or_else(malformed)?;
        let duration = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            _ => return Err(malformed()),
        };
        Ok(Self(duration))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let (n, unit) = match ms {
            0 => (0, "s"),
            _ if ms.is_multiple_of(86_400_000) => (ms / 86_400_000, "d"),
            _ if ms.is_multiple_of(3_600_000) => (ms / 3_600_000, "h"),
            _ if ms.is_multiple_of(60_000) => (ms / 60_000, "m"),
            _ if ms.is_multiple_of(1000) => (ms / 1000, "s"),
            _ => (ms, "ms"),
        };
        write!(f, "{n}{unit}")
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || UnitError::Malformed {
            text: text.to_owned(),
            what: "size",
            example: "\"512KiB\", \"64MiB\", \"1GiB\"",
        };
        let (n, unit) = split_number(text).ok_or_else(malformed)?;
        let factor: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            _ => return Err(malformed()),
        };
        n.checked_mul(factor).map(Self).ok_or_else(malformed)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        match b {
            _ if b != 0 && b.is_multiple_of(1 << 30) => write!(f, "{}GiB", b >> 30),
            _ if b != 0 && b.is_multiple_of(1 << 20) => write!(f, "{}MiB", b >> 20),
            _ if b != 0 && b.is_multiple_of(1 << 10) => write!(f, "{}KiB", b >> 10),
            _ => write!(f, "{b}B"),
        }
    }
}

macro_rules! serde_via_str {
    ($ty:ty) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    };
}
serde_via_str!(HumanDuration);
serde_via_str!(ByteSize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        for (text, secs) in [
            ("250ms", 0.25),
            ("30s", 30.0),
            ("15m", 900.0),
            ("48h", 172_800.0),
            ("7d", 604_800.0),
        ] {
            let d: HumanDuration = text.parse().unwrap();
            assert_eq!(d.0.as_secs_f64(), secs, "{text}");
            assert_eq!(
                d.to_string().parse::<HumanDuration>().unwrap(),
                d,
                "{text} prints back as {d}"
            );
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in ["", "15", "m", "1.5h", "15 minutes", "-1s"] {
            assert!(text.parse::<HumanDuration>().is_err(), "{text}");
        }
    }

    #[test]
    fn sizes_parse_and_print_back() {
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("512KiB".parse::<ByteSize>().unwrap().to_string(), "512KiB");
        assert_eq!("1000".parse::<ByteSize>().unwrap().0, 1000);
        assert!("64MB".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
    }
}
