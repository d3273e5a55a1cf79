//! [`QueueId`]: the name of one queued message, unique and ordered by acceptance time.
//!
//! An id is 16 bytes: the acceptance time in unix milliseconds (48 bits, big-endian), then
//! 80 bits that start random in each new millisecond and count up within it (the
//! monotonic ULID layout). Ids made in one process are strictly increasing, across every
//! thread; ids from different runs differ in their time part, and if the clock was set back
//! between runs, in 79 random bits. This module does not store ids; `keys` lays them out.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Crockford's base32 alphabet: no I, L, O or U, and in ASCII order, so the text of ids
/// sorts as their bytes do.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in the text form: 128 bits in 5-bit digits, the first digit holding 3 bits.
const TEXT_LEN: usize = 26;

/// The largest time an id can hold (48 bits of milliseconds: the year 10889).
const MAX_TIME_MS: u64 = (1 << 48) - 1;

/// The largest value of the 80-bit counter part.
const MAX_COUNTER: u128 = (1 << 80) - 1;

/// A fresh millisecond starts its counter below 2^79, leaving at least 2^79 increments
/// before the counter could overflow into the next millisecond.
const FRESH_COUNTER_MASK: u128 = (1 << 79) - 1;

/// The generator shared by every thread of the process: one lock, held for a few
/// arithmetic operations per id.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// The id of a queued message: 16 bytes, unique, and ordered by the time it was accepted.
///
/// Shown (in logs, `Received` headers and the CLI) as 26 characters of Crockford base32,
/// the ULID text form, e.g. `01JQ3V8ZK8T5G2W9X4M7N6P0RS`: shorter than 32 hex digits, free
/// of look-alike letters, readable by ULID tools, and sorting in the same order as the
/// bytes. Parsing accepts lower case too.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueId([u8; QueueId::LEN]);

impl QueueId {
    /// The length of an id in bytes.
    pub const LEN: usize = 16;

    /// A new id, greater than every id this process made before.
    pub fn generate() -> Self {
        let clock_ms = crate::time::now_ms();
        GENERATOR
            .lock()
            // The generator's state is two integers, valid even if a holder panicked.
            .unwrap_or_else(PoisonError::into_inner)
            .next(clock_ms, random_counter)
    }

    /// The id whose bytes are `bytes` (as stored in the queue's keys).
    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// The id stored in `bytes`, or `None` if `bytes` is not 16 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; Self::LEN]>::try_from(bytes).ok().map(Self)
    }

    /// The id's 16 bytes, the form stored in the queue's keys.
    pub fn as_bytes(&self) -> &[u8; Self::LEN] {
        &self.0
    }

    /// When the id was made, in unix milliseconds: the time the message was accepted.
    pub fn timestamp_ms(&self) -> u64 {
        (self.as_u128() >> 80) as u64
    }

    fn from_parts(time_ms: u64, counter: u128) -> Self {
        let value = (u128::from(time_ms & MAX_TIME_MS) << 80) | (counter & MAX_COUNTER);
        Self(value.to_be_bytes())
    }

    fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }
}

/// 79 unpredictable bits for a fresh millisecond. std's `RandomState` is keyed from the
/// operating system's random source once per thread; hashing through it is enough to keep
/// ids of different runs apart (ids are names, not secrets).
fn random_counter() -> u128 {
    let state = RandomState::new();
    let high = u128::from(state.hash_one(0_u8));
    let low = u128::from(state.hash_one(1_u8));
    ((high << 64) | low) & FRESH_COUNTER_MASK
}

/// The last id made: its time and counter.
#[derive(Debug)]
struct Generator {
    last_ms: u64,
    last_counter: u128,
}

impl Generator {
    const fn new() -> Self {
        Self {
            last_ms: 0,
            last_counter: 0,
        }
    }

    /// The next id at `clock_ms`. A later millisecond starts a fresh counter; the same or
    /// an earlier one (the clock was set back) continues from the last id, so ids never go
    /// backwards within the process.
    fn next(&mut self, clock_ms: u64, fresh_counter: impl FnOnce() -> u128) -> QueueId {
        let clock_ms = clock_ms.min(MAX_TIME_MS);
        if clock_ms > self.last_ms {
            self.last_ms = clock_ms;
            self.last_counter = fresh_counter() & FRESH_COUNTER_MASK;
        } else if self.last_counter < MAX_COUNTER {
            self.last_counter += 1;
        } else {
            // 2^79 ids in one millisecond: borrow the next millisecond.
            self.last_ms = (self.last_ms + 1).min(MAX_TIME_MS);
            self.last_counter = 0;
        }
        QueueId::from_parts(self.last_ms, self.last_counter)
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.as_u128();
        let mut text = [0_u8; TEXT_LEN];
        for (position, digit) in text.iter_mut().enumerate() {
            let shift = 5 * (TEXT_LEN - 1 - position);
            *digit = ALPHABET[((value >> shift) & 0x1f) as usize];
        }
        // Every byte comes from ALPHABET, which is ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QueueId({self})")
    }
}

/// Why a text is not a queue id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseQueueIdError {
    /// Ids are exactly 26 characters.
    #[error("a queue id is {TEXT_LEN} characters, not {len}")]
    Length {
        /// The number of characters given.
        len: usize,
    },
    /// A character outside Crockford's base32 alphabet (0-9, A-Z without I, L, O, U).
    #[error("{character:?} at position {position} is not a base32 digit of a queue id")]
    Character {
        /// The offending character.
        character: char,
        /// Its position, from 0.
        position: usize,
    },
    /// The first character is above 7: the text is worth more than 128 bits.
    #[error("a queue id starts with 0 to 7, not {first:?}")]
    Overflow {
        /// The first character.
        first: char,
    },
}

impl FromStr for QueueId {
    type Err = ParseQueueIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let len = text.chars().count();
        if len != TEXT_LEN {
            return Err(ParseQueueIdError::Length { len });
        }
        let mut value: u128 = 0;
        for (position, character) in text.chars().enumerate() {
            let digit = ALPHABET
                .iter()
                .position(|&a| char::from(a) == character.to_ascii_uppercase())
                .ok_or(ParseQueueIdError::Character {
                    character,
                    position,
                })?;
            if position == 0 && digit > 7 {
                return Err(ParseQueueIdError::Overflow { first: character });
            }
            value = (value << 5) | digit as u128;
        }
        Ok(Self(value.to_be_bytes()))
    }
}

impl Serialize for QueueId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for QueueId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn text_form_is_26_crockford_characters_and_round_trips() {
        for id in [
            QueueId::from_bytes([0; 16]),
            QueueId::from_bytes([0xff; 16]),
            QueueId::from_bytes(*b"0123456789abcdef"),
            QueueId::generate(),
        ] {
            let text = id.to_string();
            assert_eq!(text.len(), 26, "{text}");
            assert!(text.bytes().all(|b| ALPHABET.contains(&b)), "{text}");
            assert_eq!(text.parse::<QueueId>(), Ok(id));
            assert_eq!(text.to_lowercase().parse::<QueueId>(), Ok(id));
        }
        assert_eq!(
            QueueId::from_bytes([0; 16]).to_string(),
            "00000000000000000000000000"
        );
        assert_eq!(
            QueueId::from_bytes([0xff; 16]).to_string(),
            "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
    }

    #[test]
    fn parsing_names_what_is_wrong() {
        assert_eq!(
            "0123".parse::<QueueId>(),
            Err(ParseQueueIdError::Length { len: 4 })
        );
        assert_eq!(
            "0000000000000000000000000U".parse::<QueueId>(),
            Err(ParseQueueIdError::Character {
                character: 'U',
                position: 25
            })
        );
        assert_eq!(
            "80000000000000000000000000".parse::<QueueId>(),
            Err(ParseQueueIdError::Overflow { first: '8' })
        );
        assert!("0000000000000000000000000é".parse::<QueueId>().is_err());
    }

    #[test]
    fn text_sorts_as_bytes_do() {
        let mut ids: Vec<QueueId> = (0..200).map(|_| QueueId::generate()).collect();
        ids.extend([
            QueueId::from_bytes([0; 16]),
            QueueId::from_bytes([0xff; 16]),
        ]);
        let mut by_text = ids.clone();
        by_text.sort_by_key(ToString::to_string);
        ids.sort();
        assert_eq!(ids, by_text);
    }

    #[test]
    fn the_time_part_is_the_clock_in_milliseconds() {
        let mut generator = Generator::new();
        let id = generator.next(1_700_000_000_123, || 42);
        assert_eq!(id.timestamp_ms(), 1_700_000_000_123);
        assert_eq!(
            &id.as_bytes()[..6],
            &1_700_000_000_123_u64.to_be_bytes()[2..]
        );

        let now_ms = crate::time::now_ms();
        let generated = QueueId::generate().timestamp_ms();
        assert!(
            generated.abs_diff(now_ms) < 60_000,
            "{generated} vs {now_ms}"
        );
    }

    #[test]
    fn ids_increase_within_a_millisecond_and_when_the_clock_goes_back() {
        let mut generator = Generator::new();
        let first = generator.next(1_000, || 7);
        let same_ms = generator.next(1_000, || 0);
        let clock_back = generator.next(900, || 0);
        let later = generator.next(1_001, || 3);
        assert!(first < same_ms && same_ms < clock_back && clock_back < later);
        assert_eq!(clock_back.timestamp_ms(), 1_000);
        assert_eq!(later.timestamp_ms(), 1_001);
    }

    #[test]
    fn a_full_counter_moves_on_to_the_next_millisecond() {
        let mut generator = Generator::new();
        let first = generator.next(5, || 0);
        generator.last_counter = MAX_COUNTER;
        let overflowed = generator.next(5, || 0);
        assert!(first < overflowed);
        assert_eq!(overflowed.timestamp_ms(), 6);
    }

    #[test]
    fn ids_from_many_threads_are_unique_and_each_thread_sees_them_increase() {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    let ids: Vec<QueueId> = (0..5_000).map(|_| QueueId::generate()).collect();
                    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
                    ids
                })
            })
            .collect();
        let mut all = HashSet::new();
        for thread in threads {
            for id in thread.join().expect("generator thread") {
                assert!(all.insert(id), "duplicate id {id}");
            }
        }
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn serializes_as_its_text() {
        let id = QueueId::generate();
        let json = serde_json::to_string(&id).expect("serialize");
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<QueueId>(&json).expect("parse"), id);
        assert!(serde_json::from_str::<QueueId>("\"nope\"").is_err());
    }
}
