//! Burst detection: connections and recipients per client IP in a fixed window.
//!
//! Each IP has one kv value per counter holding the window's start and the count so far.
//! When the window has passed, counting starts over.

use std::fmt;
use std::net::IpAddr;

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counter {
    /// Connections, counted at connect.
    Connections,
    /// Recipients, counted at RCPT TO.
    Recipients,
}

impl Counter {
    /// The kv key of this counter for `ip`, e.g. `conn:192.0.2.1`.
    pub(crate) fn key(self, ip: IpAddr) -> String {
        let prefix = match self {
            Self::Connections => "conn",
            Self::Recipients => "rcpt",
        };
        format!("{prefix}:{ip}")
    }

    /// The symbol reporting a burst.
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Self::Connections => "REPUTATION_CONN_BURST",
            Self::Recipients => "REPUTATION_RCPT_BURST",
        }
    }

    /// What is counted, in the plural, for details.
    fn noun(self) -> &'static str {
        match self {
            Self::Connections => "connections",
            Self::Recipients => "recipients",
        }
    }
}

/// The score of a burst symbol.
pub(crate) const BURST_SCORE: f64 = 2.0;

/// One counting window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// When the window started, in ms since the Unix epoch.
    pub(crate) start_ms: u64,
    /// How many were counted in it.
    pub(crate) count: u32,
}

/// Version byte leading a stored window.
const FORMAT_VERSION: u8 = 1;
/// Stored size: version, `start_ms` as little-endian `u64`, `count` as little-endian `u32`.
pub(crate) const ENCODED_LEN: usize = 1 + 8 + 4;

/// Why a stored value is not a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The value has the wrong size.
    Length(usize),
    /// The value starts with an unknown format version.
    Version(u8),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(len) => write!(f, "{len} bytes, expected {ENCODED_LEN}"),
            Self::Version(version) => write!(f, "unknown format version {version}"),
        }
    }
}

impl Window {
    /// Counts one more at `now_ms` in `previous` (if any): a window that has passed (or
    /// lies a whole window in the future, after the clock went backwards) starts over at
    /// `now_ms`. A window that started a little after `now_ms` still counts it: concurrent
    /// sessions take their time before their updates land, in any order, and the first
    /// update may be a later session's.
    pub(crate) fn bump(previous: Option<Self>, now_ms: u64, window_ms: u64) -> Self {
        match previous {
            Some(window) if now_ms.abs_diff(window.start_ms) < window_ms => Self {
                start_ms: window.start_ms,
                count: window.count.saturating_add(1),
            },
            _ => Self {
                start_ms: now_ms,
                count: 1,
            },
        }
    }

    /// Whether the count exceeds `max`.
    pub(crate) fn is_over(&self, max: u32) -> bool {
        self.count > max
    }

    /// The detail of a burst symbol, e.g. `31 connections from 192.0.2.1 in 60 s (max 30)`.
    pub(crate) fn detail(&self, counter: Counter, ip: IpAddr, window_ms: u64, max: u32) -> String {
        format!(
            "{} {} from {ip} in {} s (max {max})",
            self.count,
            counter.noun(),
            window_ms / 1000
        )
    }

    /// The stored form.
    pub(crate) fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut bytes = [0; ENCODED_LEN];
        bytes[0] = FORMAT_VERSION;
        bytes[1..9].copy_from_slice(&self.start_ms.to_le_bytes());
        bytes[9..].copy_from_slice(&self.count.to_le_bytes());
        bytes
    }

    /// Reads back what [`Window::encode`] wrote.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let bytes: &[u8; ENCODED_LEN] = bytes
            .try_into()
            .map_err(|_| DecodeError::Length(bytes.len()))?;
        if bytes[0] != FORMAT_VERSION {
            return Err(DecodeError::Version(bytes[0]));
        }
        let mut start = [0; 8];
        start.copy_from_slice(&bytes[1..9]);
        let mut count = [0; 4];
        count.copy_from_slice(&bytes[9..]);
        Ok(Self {
            start_ms: u64::from_le_bytes(start),
            count: u32::from_le_bytes(count),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;
    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn keys_and_symbols() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(Counter::Connections.key(ip), "conn:192.0.2.1");
        assert_eq!(Counter::Recipients.key(ip), "rcpt:192.0.2.1");
        for counter in [Counter::Connections, Counter::Recipients] {
            assert!(moat_sdk::Symbol::is_valid_name(counter.symbol()));
        }
    }

    #[test]
    fn counts_within_the_window() {
        let mut window = Window::bump(None, T0, MINUTE);
        assert_eq!(
            window,
            Window {
                start_ms: T0,
                count: 1
            }
        );
        for second in 1..30 {
            window = Window::bump(Some(window), T0 + second * 1000, MINUTE);
        }
        assert_eq!(window.count, 30);
        assert!(!window.is_over(30));
        window = Window::bump(Some(window), T0 + MINUTE - 1, MINUTE);
        assert_eq!(window.count, 31);
        assert!(window.is_over(30));
        assert_eq!(window.start_ms, T0);
    }

    #[test]
    fn starts_over_when_the_window_has_passed() {
        let window = Window {
            start_ms: T0,
            count: 500,
        };
        assert_eq!(
            Window::bump(Some(window), T0 + MINUTE, MINUTE),
            Window {
                start_ms: T0 + MINUTE,
                count: 1
            }
        );
        // An update stamped a little before the window began (a concurrent session whose
        // update landed later) counts in it; a clock that went back a whole window
        // starts over.
        assert_eq!(
            Window::bump(Some(window), T0 - 1, MINUTE).count,
            window.count + 1
        );
        assert_eq!(Window::bump(Some(window), T0 - MINUTE, MINUTE).count, 1);
    }

    #[test]
    fn count_saturates() {
        let window = Window {
            start_ms: T0,
            count: u32::MAX,
        };
        assert_eq!(Window::bump(Some(window), T0, MINUTE).count, u32::MAX);
    }

    #[test]
    fn detail_reads_well() {
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let window = Window {
            start_ms: T0,
            count: 101,
        };
        assert_eq!(
            window.detail(Counter::Recipients, ip, MINUTE, 100),
            "101 recipients from 2001:db8::1 in 60 s (max 100)"
        );
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let window = Window {
            start_ms: T0,
            count: 42,
        };
        assert_eq!(Window::decode(&window.encode()), Ok(window));
        assert_eq!(Window::decode(&[1, 2, 3]), Err(DecodeError::Length(3)));
        let mut bytes = window.encode();
        bytes[0] = 0;
        assert_eq!(Window::decode(&bytes), Err(DecodeError::Version(0)));
        // A kv counter (8 bytes) is not a window either.
        assert!(Window::decode(&5_i64.to_le_bytes()).is_err());
    }
}
