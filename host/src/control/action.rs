//! [`QueueAction`]: what the queue commands do to the messages they name.

use crate::delivery::dsn::Bounces;
use crate::delivery::return_to_sender::return_to_sender;
use crate::queue::{OperatorAction, Queue, QueueError, QueueId};

/// The queue's own actions, and returning mail to its sender (which needs delivery's
/// bounces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueAction {
    /// Flush, hold, release or delete ([`Queue::apply`]).
    Queue(OperatorAction),
    /// Fail what is left, bounce to the sender, remove
    /// ([`crate::delivery::return_to_sender::return_to_sender`]).
    Bounce,
}

impl QueueAction {
    /// The lower-case name, as the CLI and the admin API spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Queue(action) => action.name(),
            Self::Bounce => "bounce",
        }
    }

    /// The action named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bounce" => Some(Self::Bounce),
            _ => OperatorAction::from_name(name).map(Self::Queue),
        }
    }

    /// Applies the action to `ids` at `now_ms` (`bounces` says who reports the bounces
    /// and whether spam gets one): the ids that were queued. Blocks on disk I/O.
    pub(super) fn run(
        self,
        queue: &Queue,
        bounces: &Bounces,
        ids: &[QueueId],
        now_ms: u64,
    ) -> Result<Vec<QueueId>, QueueError> {
        match self {
            Self::Queue(action) => queue.apply(action, ids, now_ms),
            Self::Bounce => return_to_sender(queue, bounces, ids, now_ms),
        }
    }
}
