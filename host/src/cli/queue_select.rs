//! `--from` / `--to`: which queued messages a `moat queue` command acts on besides the
//! ids given. The matching itself is the queue's ([`Selection`]), done by the server when
//! one runs, so a cleanup of many messages does not ship the whole queue to the CLI.

use crate::queue::Selection;

/// `--from` / `--to`: the messages of one sender or for one recipient.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    /// Only messages from this sender: an address, `@domain`, or `<>` for bounces.
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// Only messages with a recipient at this address, or at `@domain`.
    #[arg(long, value_name = "ADDRESS")]
    pub to: Option<String>,
}

impl Filter {
    /// The queue's selection these options describe.
    pub fn selection(&self) -> Selection {
        Selection {
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
}
