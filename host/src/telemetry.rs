//! Log setup, called once from `main`: `RUST_LOG` filters (default `info`), output on
//! stderr so stdout stays for command output and the ready line; JSON lines on request.

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
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
