//! Submission accounts: who may log in on the submission listeners, and as whom they may
//! send.
//!
//! * `password`: argon2id hashes (PHC strings) and their verification.
//! * `users`: the users file (TOML) that `moat user` edits and the server reads.
//! * `directory`: the server's live view of that file, re-read when it changes.
//! * `failures`: failed logins per client address and per account, and the lockout.
//! * `sending`: each account's hourly allowance of messages and recipients.

pub mod directory;
pub mod failures;
pub mod password;
pub mod sending;
pub mod users;

pub use directory::UserDirectory;
pub use failures::{FailureLimiter, Locked, LoginAttempt, Refusal};
pub use sending::{Exceeded, SendingLimiter};
pub use users::{Account, UsersError, UsersFile};

/// What the submission listeners share: the accounts, the failed-login limiter and the
/// accounts' sending allowances.
pub struct Submission {
    /// The accounts, from the users file.
    pub directory: UserDirectory,
    /// Failed logins and lockouts.
    pub failures: FailureLimiter,
    /// Messages and recipients per account and hour.
    pub sending: SendingLimiter,
    /// Password checks allowed at once: argon2 costs 19 MiB and tens of milliseconds of a
    /// core, so a login flood must not start one per session.
    pub checks: tokio::sync::Semaphore,
}

impl Submission {
    /// The submission side of `config`, with its users file under `data_dir` unless
    /// `[submission] users_file` says otherwise.
    pub fn from_config(
        config: &crate::config::SubmissionConfig,
        data_dir: &std::path::Path,
    ) -> Result<Self, UsersError> {
        Ok(Self {
            directory: UserDirectory::open(config.users_path(data_dir))?,
            failures: FailureLimiter::new(
                config.max_auth_failures,
                config.auth_failure_window.0,
                config.auth_lockout.0,
            ),
            sending: SendingLimiter::new(
                config.max_messages_per_hour,
                config.max_recipients_per_hour,
            ),
            checks: tokio::sync::Semaphore::new(concurrent_checks()),
        })
    }
}

/// Password checks at once: one per core, so logins never take more than the machine.
fn concurrent_checks() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}
