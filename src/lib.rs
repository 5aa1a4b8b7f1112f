//! cortex-status: a status page for one small server, built as a static-site generator.
//!
//! The flow of data (see DESIGN.md): [`host`] and [`probe`] feed a [`snapshot::Snapshot`] each
//! cycle; [`render`] turns it into the page and `status.json`, [`atom`], [`metrics`] and
//! [`badges`] into the outputs for machines; [`publish`] writes them atomically into `out_dir`.
//! [`daemon`] runs that on a timer beside [`server`], the HTTP listener.
#![forbid(unsafe_code)]

pub mod atom;
pub mod badges;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod feeds;
pub mod generator;
pub mod history;
pub mod hook;
pub mod host;
pub mod init;
pub mod instance;
pub mod metrics;
pub mod preview;
pub mod probe;
pub mod publish;
pub mod redact;
pub mod reload;
pub mod render;
pub mod secret_env;
pub mod server;
pub mod snapshot;
pub mod tasks;
pub mod templates;
pub mod trust;
pub mod xml;

use cli::{Cli, Command};
use config::Config;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

/// Runs a parsed command line and maps the outcome to an exit code: 0 done, 1 failed.
pub fn main(cli: Cli) -> ExitCode {
    // First, while there is one thread: may re-exec this binary without the secrets in its
    // environment (see secret_env), so nothing before it may have effects but reading the
    // config file, whose `${NAME}` references name more variables to move.
    let config_text = std::fs::read_to_string(
        cli.config
            .as_deref()
            .unwrap_or(std::path::Path::new(config::DEFAULT_FILE)),
    )
    .ok();
    let scrub_problem = secret_env::scrub(config_text.as_deref());
    init_logging();
    if let Some(problem) = scrub_problem {
        tracing::warn!("{problem}");
    }
    let env = config::process_env();
    match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            let report = check::run(cli.config.as_deref(), &env);
            for p in &report.problems {
                eprintln!("{p}");
            }
            for w in &report.warnings {
                eprintln!("{w}");
            }
            if report.problems.is_empty() {
                println!("ok: {}", report.summary);
                ExitCode::SUCCESS
            } else {
                eprintln!("{} problem(s) found", report.problems.len());
                ExitCode::FAILURE
            }
        }
        Command::Init => match init::run(cli.config.as_deref()) {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        command => {
            let config = match Config::load(cli.config.as_deref(), &env) {
                Ok(config) => config,
                // Every problem on its own line, as `check` prints them.
                Err(errors) => {
                    for e in errors.iter() {
                        eprintln!("error: {e}");
                    }
                    return ExitCode::FAILURE;
                }
            };
            match run(command, Arc::new(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn run(command: Command, config: Arc<Config>) -> anyhow::Result<()> {
    // Both `run` and `build` write the history: one process per state_dir. Another instance is
    // a refusal; a state_dir we cannot lock at all (read-only) is not, since the history then
    // lives in memory and its save errors are on the page already.
    let lock = match instance::lock(&config.state_dir) {
        Ok(lock) => Some(lock),
        Err(held @ instance::LockError::Held { .. }) => return Err(held.into()),
        Err(e) => {
            tracing::warn!("{e}; going on without the lock");
            None
        }
    };
    // Without the lock, a temporary file might be another live instance's: leave them.
    if lock.is_some() {
        instance::remove_leftovers(&config.out_dir, &config.state_dir);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Host sampling, publishing and DNS run here; a few threads are plenty, and each one
        // costs memory.
        .max_blocking_threads(4)
        .build()?;
    let result = runtime.block_on(async {
        match command {
            Command::Build => {
                let snapshot = daemon::build(Arc::clone(&config)).await?;
                println!(
                    "published status.json and pages to {}: overall {}, {} services, {} errors",
                    config.out_dir.display(),
                    snapshot.overall,
                    snapshot.services.len(),
                    snapshot.errors.len()
                );
                Ok(())
            }
            _ => daemon::run(config, daemon::signals()?).await,
        }
    });
    // Tasks still running (probes in flight) are dropped; a blocking call that does not return
    // (a DNS lookup) is not waited for beyond this.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    drop(lock);
    result
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}
