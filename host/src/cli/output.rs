//! Standard output for the commands. A reader who stops reading (`moat queue list | head`)
//! ends the command quietly, as it ends `postqueue -p` or `ls`, instead of a panic; any
//! other failure to write is a clear error.

use std::io::{self, Write};

/// The exit status a shell reports for a process that SIGPIPE ended (128 + 13), kept so
/// that `set -o pipefail` scripts see what they see with the C tools.
const STOPPED_READING: i32 = 141;

/// Writes a line to standard output, like `println!`, ending the process quietly when
/// nobody reads it any more.
macro_rules! say {
    () => {
        $crate::cli::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output without a newline, like `print!`, with `say!`'s handling of
/// a closed pipe.
macro_rules! say_part {
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(format_args!($($arg)*))
    };
}

pub(crate) use {say, say_part};

/// Writes formatted text to standard output; the macros' single implementation.
pub(crate) fn write_out(text: std::fmt::Arguments<'_>) {
    let mut stdout = io::stdout().lock();
    if let Err(error) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        end_on_write_error(&error);
    }
}

/// Whether `error` says the reader of standard output went away.
pub fn is_closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Ends the process after a failed write to standard output: quietly when the reader
/// closed the pipe, with the reason otherwise (a full disk behind a redirect).
fn end_on_write_error(error: &io::Error) -> ! {
    if error.kind() == io::ErrorKind::BrokenPipe {
        std::process::exit(STOPPED_READING);
    }
    eprintln!("moat: cannot write to standard output: {error}");
    std::process::exit(1);
}

/// The exit code for a command that stopped because its reader went away.
pub fn stopped_reading() -> std::process::ExitCode {
    std::process::ExitCode::from(STOPPED_READING as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        let closed = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the message");
        assert!(is_closed_pipe(&closed));
        let other = anyhow::Error::new(io::Error::from(io::ErrorKind::StorageFull))
            .context("writing the message");
        assert!(!is_closed_pipe(&other));
    }
}
