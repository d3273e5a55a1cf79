//! Key encodings of the queue's keyspaces, chosen so fjall's byte order is the order the
//! queue needs.
//!
//! * `queue.messages` and `queue.envelopes`: the [`QueueId`]'s 16 bytes, so keys sort by
//!   acceptance time.
//! * `queue.due`: the next-attempt time in unix milliseconds as a big-endian `u64`, then the
//!   id's 16 bytes (24 bytes in all). Big-endian makes byte order numeric order, so read from
//!   the first key it yields the messages due soonest first, ties in acceptance order.
//!
//! Pure functions only; the keyspaces themselves are opened in the parent module.

use super::id::QueueId;

/// The length of a key of the due index.
pub(super) const DUE_KEY_LEN: usize = 8 + QueueId::LEN;

/// The key the start-up write check removes from `queue.envelopes`: never a record's key
/// (it is not 16 bytes long), so its removal changes nothing a reader sees.
pub(super) const WRITE_PROBE_KEY: &[u8] = b"write-check";

/// The key of the message or envelope of `id`.
pub(super) fn id_key(id: &QueueId) -> [u8; QueueId::LEN] {
    *id.as_bytes()
}

/// The due-index key saying that `id` is next to be tried at `next_attempt_ms`.
pub(super) fn due_key(next_attempt_ms: u64, id: &QueueId) -> [u8; DUE_KEY_LEN] {
    let mut key = [0_u8; DUE_KEY_LEN];
    key[..8].copy_from_slice(&next_attempt_ms.to_be_bytes());
    key[8..].copy_from_slice(id.as_bytes());
    key
}

/// The time and id of a due-index key, or `None` if `key` is not 24 bytes.
pub(super) fn parse_due_key(key: &[u8]) -> Option<(u64, QueueId)> {
    let (time, id) = key.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*time), QueueId::from_slice(id)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> QueueId {
        let mut bytes = [0_u8; QueueId::LEN];
        bytes[0] = n;
        bytes[QueueId::LEN - 1] = n.wrapping_mul(7);
        QueueId::from_bytes(bytes)
    }

    #[test]
    fn due_keys_sort_by_time_then_by_id() {
        let times = [
            0,
            1,
            255,
            256,
            65_535,
            65_536,
            1_700_000_000_000,
            1_700_000_000_001,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            u64::MAX - 1,
            u64::MAX,
        ];
        let ids = [id(0), id(1), id(2), id(128), id(255)];
        let mut tuples = Vec::new();
        for &time in &times {
            for id in ids {
                tuples.push((time, id));
            }
        }
        let mut by_key: Vec<_> = tuples.iter().map(|(t, i)| due_key(*t, i)).collect();
        by_key.sort();
        tuples.sort();
        let decoded: Vec<_> = by_key
            .iter()
            .map(|key| parse_due_key(key).expect("24-byte key"))
            .collect();
        assert_eq!(decoded, tuples);
    }

    #[test]
    fn an_earlier_time_sorts_first_whatever_the_ids() {
        let late_small_id = due_key(1_000, &QueueId::from_bytes([0; 16]));
        let early_big_id = due_key(999, &QueueId::from_bytes([0xff; 16]));
        assert!(early_big_id < late_small_id);
    }

    #[test]
    fn due_keys_round_trip_and_other_lengths_are_refused() {
        let id = QueueId::generate();
        let key = due_key(42, &id);
        assert_eq!(key.len(), DUE_KEY_LEN);
        assert_eq!(&key[..8], &42_u64.to_be_bytes());
        assert_eq!(parse_due_key(&key), Some((42, id)));
        assert_eq!(parse_due_key(&key[..23]), None);
        assert_eq!(parse_due_key(&[key.as_slice(), &[0]].concat()), None);
        assert_eq!(id_key(&id), *id.as_bytes());
    }
}
