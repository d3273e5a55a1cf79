//! `scan` for the Redis backend: pages through a namespace's sorted set of keys
//! (`ZRANGEBYLEX`, byte order) and reads the values of each page (`MGET`), stopping at the
//! scan's entry and byte bounds. A key deleted between the two reads is passed over.

use super::kv::{KvError, ScanLimit};

/// Keys read per round trip.
const PAGE: usize = 512;

/// What a scan needs of a namespace.
pub(super) trait Pages {
    /// Up to `count` keys between the `ZRANGEBYLEX` bounds `min` and `max`, in order.
    fn keys_between(&self, min: &[u8], max: &[u8], count: usize) -> Result<Vec<String>, KvError>;
    /// The values under `keys` (`None`: gone).
    fn values_of(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, KvError>;
}

/// [`KvNamespace::scan`](super::KvNamespace::scan) over `pages`.
pub(super) fn scan(
    pages: &impl Pages,
    prefix: &str,
    start_after: Option<&str>,
    limit: ScanLimit,
) -> Result<Vec<(String, Vec<u8>)>, KvError> {
    let mut entries = Vec::new();
    let mut held = 0usize;
    let (mut min, max) = bounds(prefix, start_after);
    while entries.len() < limit.entries {
        let count = (limit.entries - entries.len()).min(PAGE);
        let keys = pages.keys_between(&min, &max, count)?;
        let Some(last) = keys.last() else {
            break;
        };
        min = exclusive(last);
        let values = pages.values_of(&keys)?;
        let page_was_full = keys.len() == count;
        for (key, value) in keys.into_iter().zip(values) {
            let Some(value) = value else { continue };
            let size = key.len() + value.len();
            if !limit.has_room(entries.len(), held, size) {
                return Ok(entries);
            }
            held += size;
            entries.push((key, value));
        }
        if !page_was_full {
            break;
        }
    }
    Ok(entries)
}

/// The `ZRANGEBYLEX` bounds of the keys starting with `prefix`, after `start_after`.
fn bounds(prefix: &str, start_after: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let min = match start_after {
        Some(after) if after >= prefix => exclusive(after),
        _ if prefix.is_empty() => b"-".to_vec(),
        _ => [b"[", prefix.as_bytes()].concat(),
    };
    // 0xFF never occurs in UTF-8, so it sorts after every key with the prefix.
    let max = if prefix.is_empty() {
        b"+".to_vec()
    } else {
        [b"[", prefix.as_bytes(), &[0xFF]].concat()
    };
    (min, max)
}

fn exclusive(key: &str) -> Vec<u8> {
    [b"(", key.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_start_at_the_prefix_or_after_the_last_key_seen() {
        assert_eq!(bounds("", None), (b"-".to_vec(), b"+".to_vec()));
        assert_eq!(bounds("t:", None), (b"[t:".to_vec(), b"[t:\xFF".to_vec()));
        assert_eq!(bounds("t:", Some("t:b")).0, b"(t:b".to_vec());
        assert_eq!(
            bounds("t:", Some("a")).0,
            b"[t:".to_vec(),
            "before the prefix"
        );
    }
}
