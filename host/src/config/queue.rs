//! `[queue]`: the room the queue keeps free on the data dir's disk.

use serde::{Deserialize, Serialize};

use super::error::Problem;
use super::units::ByteSize;

/// `[queue]`: how full the data dir's file system may get before new mail is refused.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// `min_free = "256MiB"`: the room kept free on the data dir's file system (Postfix's
    /// `queue_minfree`). With less available, MAIL and DATA are answered `452 4.3.1` (MAIL
    /// also when its SIZE would not leave this much); a message is not written if it
    /// would leave less than half of it; delivery goes on (it frees space) down to a
    /// quarter of it, where the outcome of an attempt might no longer be writable. A
    /// failed write stops the queue's database until a restart (and delivery with it),
    /// so this reserve is what keeps a full disk from stopping the gateway. At least
    /// 1MiB; `"0"` turns the reserve off.
    #[serde(default = "default_min_free")]
    pub min_free: ByteSize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            min_free: default_min_free(),
        }
    }
}

/// The default reserve: room for a full fjall memtable (64 MiB) to be flushed while new
/// mail is still written (a quarter of it is what delivery keeps for itself), and for
/// several sessions' messages of the default largest size (25 MiB) at once.
fn default_min_free() -> ByteSize {
    ByteSize(256 << 20)
}

/// The smallest reserve that is not "off".
const MIN_RESERVE: u64 = 1 << 20;

impl QueueConfig {
    pub(super) fn problems(&self) -> Vec<Problem> {
        let min_free = self.min_free.0;
        if min_free == 0 || min_free >= MIN_RESERVE {
            return Vec::new();
        }
        vec![Problem {
            key: "queue.min_free".into(),
            reason: format!(
                "must be at least {} (or \"0\" for no reserve), not {}",
                ByteSize(MIN_RESERVE),
                self.min_free
            ),
        }]
    }
}
