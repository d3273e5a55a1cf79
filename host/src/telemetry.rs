//! Log setup, called once from `main`: `RUST_LOG` filters (default `info`), output on
//! stderr so stdout stays for command output and the ready line; JSON lines on request;
//! colours only when stderr is a terminal (not in a log file or a journal).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber.
pub fn init(json: bool, default_level: tracing::Level) {
    let filter = EnvFilter::builder()
        .with_default_directive(
            tracing::level_filters::LevelFilter::from_level(default_level).into(),
        )
        .from_env_lossy();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
