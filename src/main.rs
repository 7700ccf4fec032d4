//! The `ovh-cti` binary: parse the command line, set up logging, run. Everything else lives in
//! the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match ovh_cti::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version on standard output; a mistake whole on standard error, with
        // clap's suggestion ("a similar argument exists: '--token'") and the usage line; and
        // `ovh-cti` alone, the commands.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("ovh_cti=info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ovh_cti::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
