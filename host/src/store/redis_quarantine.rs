//! [`RedisQuarantine`]: every gateway's quarantine seen from any gateway of a site, on the
//! Redis of the shared kv backend.
//!
//! A quarantined message stays in its gateway's own queue, fsynced before its 250, as
//! always; each gateway also publishes it here (the record as JSON and the message bytes),
//! so `moat quarantine list` on any gateway shows every gateway's, and any gateway can
//! release it (the message is queued, and delivered, by the releasing gateway). A
//! release or deletion leaves a tombstone (`gone`), from which the gateway that holds the
//! message learns to drop its own copy. Published entries and tombstones expire after
//! `[quarantine] max_age`. If Redis loses its data, the gateways publish their quarantine
//! again; nothing is lost but the view.
//!
//! Keys, under the cluster prefix `P` and one hash tag (one Redis Cluster slot), outside
//! the pattern of the plugins' namespaces (`P:{NS}:…`), so no plugin name can clash:
//! `P:q:{quarantine}:rec:ID`, `…:msg:ID`, `…:gone:ID`, `…:claim:ID` (a release in
//! progress, so that two gateways do not release one message twice), the sorted set
//! `…:ids` (score: when quarantined), and per gateway the set `…:from:NODE` of the ids it
//! published, from which it removes (with a tombstone) those it no longer holds.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::kv::KvError;
use super::redis_kv::{Pool, RedisSettings, storage};

/// How long a gateway may take to queue a message it claimed for release.
const CLAIM_SECONDS: u64 = 60;

/// How long a tombstone outlives the quarantine's max_age (or, without one, lasts): a
/// gateway offline for less still learns that its copy was released elsewhere.
const TOMBSTONE_SECONDS: u64 = 30 * 86_400;

/// How long a claim is kept once the message is queued by its releaser: until the shared
/// entry is removed, nobody else may release it.
const RELEASED_CLAIM_SECONDS: u64 = 7 * 86_400;

/// Writes a published entry unless the message is already gone. `KEYS`: rec, msg, ids,
/// gone, the publishing gateway's set; `ARGV`: id, record, message, received time (ms),
/// ttl seconds (0: none).
static PUBLISH: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('SET', KEYS[2], ARGV[3])
end
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
return 1
",
    )
});

/// Removes a published entry and leaves its tombstone. `KEYS`: rec, msg, ids, gone,
/// claim; `ARGV`: id, tombstone ttl seconds.
static REMOVE: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
redis.call('SET', KEYS[4], '1', 'EX', tonumber(ARGV[2]))
redis.call('DEL', KEYS[1], KEYS[2], KEYS[5])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
",
    )
});

/// The site's shared view of the quarantine.
#[derive(Clone)]
pub struct RedisQuarantine {
    pool: Arc<Pool>,
    tag: String,
    ttl: u64,
    /// This gateway's set of published ids.
    mine: String,
}

/// The keys of one quarantined message.
struct Keys {
    rec: String,
    msg: String,
    ids: String,
    gone: String,
    claim: String,
}

impl std::fmt::Debug for RedisQuarantine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQuarantine")
            .field("tag", &self.tag)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RedisQuarantine {
    /// The shared quarantine on the Redis of `settings`, its entries kept `max_age` (none:
    /// until released or deleted), published by the gateway `node` (a name of its own in
    /// the site). It does not connect yet.
    pub fn new(
        settings: &RedisSettings,
        max_age: Option<Duration>,
        node: &str,
    ) -> Result<Self, KvError> {
        let tag = format!("{}:q:{{quarantine}}", settings.prefix);
        Ok(Self {
            pool: Arc::new(Pool::new(settings)?),
            mine: format!("{tag}:from:{node}"),
            tag,
            ttl: max_age.map_or(0, |age| age.as_secs().max(1)),
        })
    }

    fn tombstone_ttl(&self) -> u64 {
        self.ttl.saturating_add(TOMBSTONE_SECONDS)
    }

    fn keys(&self, id: &str) -> Keys {
        let key = |kind: &str| format!("{}:{kind}:{id}", self.tag);
        Keys {
            rec: key("rec"),
            msg: key("msg"),
            ids: format!("{}:ids", self.tag),
            gone: key("gone"),
            claim: key("claim"),
        }
    }

    fn run<T>(
        &self,
        operation: &'static str,
        call: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, KvError> {
        self.pool
            .with(call)
            .map_err(|e| storage("quarantine", operation, e))
    }

    /// Publishes a quarantined message (`record`: its JSON), unless it is gone (released
    /// or deleted elsewhere) or older than `max_age`; whether it was written. It expires
    /// `max_age` after it was received, as the local copy does, however late it is
    /// published.
    pub fn publish(
        &self,
        id: &str,
        record: &str,
        message: &[u8],
        received_at_ms: u64,
    ) -> Result<bool, KvError> {
        let Some(ttl) = remaining_ttl(self.ttl, received_at_ms, crate::time::now_ms()) else {
            return Ok(false);
        };
        let keys = self.keys(id);
        let wrote: i64 = self.run("publish", |c| {
            PUBLISH
                .key(&keys.rec)
                .key(&keys.msg)
                .key(&keys.ids)
                .key(&keys.gone)
                .key(&self.mine)
                .arg(id)
                .arg(record)
                .arg(message)
                .arg(received_at_ms)
                .arg(ttl)
                .invoke(c)
        })?;
        Ok(wrote == 1)
    }

    /// For each of `ids`: (published, gone).
    pub fn states(&self, ids: &[String]) -> Result<Vec<(bool, bool)>, KvError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let index = format!("{}:ids", self.tag);
        let gone: Vec<String> = ids.iter().map(|id| self.keys(id).gone).collect();
        self.run("read", |c| {
            let (scores, tombstones): (Vec<Option<f64>>, Vec<Option<String>>) = redis::pipe()
                .cmd("ZMSCORE")
                .arg(&index)
                .arg(ids)
                .cmd("MGET")
                .arg(&gone)
                .query(c)?;
            Ok(scores
                .iter()
                .zip(&tombstones)
                .map(|(score, tomb)| (score.is_some(), tomb.is_some()))
                .collect())
        })
    }

    /// Every published record (JSON), oldest first; entries that expired meanwhile are
    /// dropped from the index.
    pub fn records(&self) -> Result<Vec<(String, String)>, KvError> {
        let index = format!("{}:ids", self.tag);
        let ids: Vec<String> = self.run("list", |c| {
            redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1).query(c)
        })?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let recs: Vec<String> = ids.iter().map(|id| self.keys(id).rec).collect();
        let values: Vec<Option<String>> =
            self.run("list", |c| redis::cmd("MGET").arg(&recs).query(c))?;
        let mut found = Vec::new();
        for (id, value) in ids.into_iter().zip(values) {
            match value {
                Some(record) => found.push((id, record)),
                None => self.run("list", |c| {
                    redis::cmd("ZREM").arg(&index).arg(&id).query::<()>(c)
                })?,
            }
        }
        Ok(found)
    }

    /// The record (JSON) and bytes of `id`, if published.
    pub fn entry(&self, id: &str) -> Result<Option<(String, Vec<u8>)>, KvError> {
        let keys = self.keys(id);
        let (record, message): (Option<String>, Option<Vec<u8>>) = self.run("read", |c| {
            redis::pipe().get(&keys.rec).get(&keys.msg).query(c)
        })?;
        Ok(record.zip(message))
    }

    /// Claims `id` for release by this gateway: false if another is releasing it.
    pub fn claim(&self, id: &str) -> Result<bool, KvError> {
        let claim = self.keys(id).claim;
        let set: Option<String> = self.run("claim", |c| {
            redis::cmd("SET")
                .arg(&claim)
                .arg("1")
                .arg("NX")
                .arg("EX")
                .arg(CLAIM_SECONDS)
                .query(c)
        })?;
        Ok(set.is_some())
    }

    /// Keeps the claim on `id` once this gateway queued it, so that nobody releases it
    /// again before its shared entry is removed.
    pub fn hold_claim(&self, id: &str) -> Result<(), KvError> {
        let claim = self.keys(id).claim;
        self.run("claim", |c| {
            redis::cmd("SET")
                .arg(&claim)
                .arg("1")
                .arg("EX")
                .arg(RELEASED_CLAIM_SECONDS)
                .query::<()>(c)
        })
    }

    /// The ids this gateway published.
    pub fn published_here(&self) -> Result<Vec<String>, KvError> {
        self.run("list", |c| redis::cmd("SMEMBERS").arg(&self.mine).query(c))
    }

    /// Forgets that this gateway published `id` (it no longer holds it).
    pub fn forget_published(&self, id: &str) -> Result<(), KvError> {
        self.run("list", |c| {
            redis::cmd("SREM").arg(&self.mine).arg(id).query(c)
        })
    }

    /// Whether `id` is published.
    pub fn exists(&self, id: &str) -> Result<bool, KvError> {
        let rec = self.keys(id).rec;
        self.run("read", |c| redis::cmd("EXISTS").arg(&rec).query(c))
    }

    /// Gives up a claim (the release failed).
    pub fn unclaim(&self, id: &str) -> Result<(), KvError> {
        let claim = self.keys(id).claim;
        self.run("claim", |c| redis::cmd("DEL").arg(&claim).query(c))
    }

    /// Removes `id` (released or deleted) and leaves its tombstone, so that the gateway
    /// holding it drops its copy.
    pub fn remove(&self, id: &str) -> Result<(), KvError> {
        let keys = self.keys(id);
        self.run("remove", |c| {
            REMOVE
                .key(&keys.rec)
                .key(&keys.msg)
                .key(&keys.ids)
                .key(&keys.gone)
                .key(&keys.claim)
                .arg(id)
                .arg(self.tombstone_ttl())
                .invoke::<i64>(c)
                .map(drop)
        })
    }
}

/// What is left of `ttl` seconds (0: forever) counted from `received_at_ms`, at
/// `now_ms`: `None` once it has run out; at least a second otherwise.
fn remaining_ttl(ttl: u64, received_at_ms: u64, now_ms: u64) -> Option<u64> {
    if ttl == 0 {
        return Some(0);
    }
    let age = now_ms.saturating_sub(received_at_ms) / 1000;
    (age < ttl).then(|| (ttl - age).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_entry_expires_max_age_after_it_was_received() {
        assert_eq!(remaining_ttl(0, 5_000, 900_000), Some(0), "forever");
        assert_eq!(remaining_ttl(3_600, 1_000_000, 1_000_000), Some(3_600));
        assert_eq!(
            remaining_ttl(3_600, 1_000_000, 1_000_000 + 600_000),
            Some(3_000)
        );
        assert_eq!(
            remaining_ttl(3_600, 1_000_000, 1_000_000 + 3_599_500),
            Some(1)
        );
        assert_eq!(remaining_ttl(3_600, 1_000_000, 1_000_000 + 3_600_000), None);
        assert_eq!(
            remaining_ttl(3_600, 2_000_000, 1_000_000),
            Some(3_600),
            "clock skew"
        );
    }
}
