//! `moat user add|passwd|remove|list`: the submission accounts in the users file
//! (`[submission] users_file`, by default `users.toml` in the data directory). A running
//! server picks every change up at the next login; no restart, no reload.

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use anyhow::Context as _;

use super::ConfigArgs;
use crate::auth::password;
use crate::auth::users::{Account, UsersFile, is_address, is_domain};
use crate::cli::output::say;
/// `moat user` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Add an account: it logs in as ADDRESS and may send as ADDRESS (and what
    /// --may-send-as adds).
    Add {
        /// The account's address, which is also its login name.
        address: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        /// Further addresses (`sales@example.org`) or whole domains (`example.net`) the
        /// account may send as.
        #[arg(long, value_name = "ADDR_OR_DOMAIN", num_args = 1..)]
        may_send_as: Vec<String>,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Set an account's password.
    Passwd {
        /// The account.
        address: String,
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Remove an account.
    Remove {
        /// The account.
        address: String,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List the accounts and what each may send as (never the password hashes).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// Config and data dir.
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// Runs a `moat user` command.
pub(super) fn run(command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Add {
            address,
            password_stdin,
            may_send_as,
            config,
        } => {
            if !is_address(&address) {
                anyhow::bail!("`{address}` is not an address (local@domain)");
            }
            if let Some(bad) = may_send_as
                .iter()
                .find(|e| !is_address(e) && !is_domain(e.trim_start_matches('@')))
            {
                anyhow::bail!("--may-send-as `{bad}` is neither an address nor a domain");
            }
            let path = users_path(&config)?;
            let hash = password::hash(&read_password(password_stdin)?)?;
            let account = Account {
                address: address.clone(),
                password: hash,
                may_send_as,
            };
            UsersFile::edit(&path, |file| file.add(account))?;
            say!("added {address} to {}", path.display());
        }
        UserCommand::Passwd {
            address,
            password_stdin,
            config,
        } => {
            let path = users_path(&config)?;
            if UsersFile::load(&path)?.find(&address).is_none() {
                anyhow::bail!("there is no account {address} in {}", path.display());
            }
            let hash = password::hash(&read_password(password_stdin)?)?;
            UsersFile::edit(&path, |file| {
                file.get_mut(&address)?.password = hash;
                Ok(())
            })?;
            say!("changed the password of {address}");
        }
        UserCommand::Remove { address, config } => {
            let path = users_path(&config)?;
            let removed = UsersFile::edit(&path, |file| file.remove(&address))?;
            say!("removed {} from {}", removed.address, path.display());
        }
        UserCommand::List { json, config } => {
            let path = users_path(&config)?;
            for account in UsersFile::load(&path)?.user {
                if json {
                    say!(
                        "{}",
                        serde_json::json!({
                            "address": account.address,
                            "may_send_as": account.may_send_as,
                        })
                    );
                } else if account.may_send_as.is_empty() {
                    say!("{}", account.address);
                } else {
                    say!(
                        "{}  may also send as: {}",
                        account.address,
                        account.may_send_as.join(", ")
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The users file of the configuration `config` names.
fn users_path(config: &ConfigArgs) -> anyhow::Result<std::path::PathBuf> {
    let config = config.load()?;
    Ok(config.submission.users_path(&config.server.data_dir))
}

/// The password: the first line of standard input, or asked twice on the terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            anyhow::bail!("no password on standard input");
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to ask for the password on: give it with --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Again: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}
