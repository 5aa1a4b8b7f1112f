//! The `cortex-status` binary: parse the command line, hand it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    cortex_status::main(cortex_status::cli::Cli::parse())
}
