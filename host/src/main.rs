//! The `moat` binary: parse the command line, set up logging, run the command.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before any thread starts: nothing Moat writes (mail, plugin state, keys, tokens) is
    // readable by other users.
    moat::os::private::restrict_umask();
    let cli = moat::cli::Cli::parse();
    moat::telemetry::init(cli.log_json, cli.default_log_level());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("moat: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(moat::cli::run(cli)) {
        Ok(code) => code,
        Err(error) if moat::cli::output::is_closed_pipe(&error) => {
            moat::cli::output::stopped_reading()
        }
        Err(error) => {
            eprintln!("moat: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
