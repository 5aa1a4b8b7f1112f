//! cortex-status: a status page for one small server, built as a static-site generator.
//!
//! The design contract (the flow, the config, the files written, the `status.json` schema, the
//! endpoints, the log lines the tests read) is `docs/design.md` in the repository; keep it
//! current with each change.
//!
//! The folders are the stages, in the order the data flows each cycle:
//!
//! - [`config`]: the config file and environment → a validated [`config::Config`].
//! - [`sense`]: the host sampler and the service probes → what this cycle saw.
//! - [`snapshot`]: the one type every output is made from (serialised, it is `status.json`).
//! - [`history`]: the state file: roll-ups, the day strip, incidents → figures in the snapshot.
//! - [`output`]: snapshot → bytes: the site (templates, pages, charts), `status.json`, Atom,
//!   metrics, badges.
//! - [`publish`]: bytes → files in `out_dir` (atomic, gzip sidecars), then the `on_publish` hook.
//! - [`alert`]: status changes → messages on the operator's channels, off the cycle's path.
//! - [`serve`]: the HTTP listener on the side: health, the preview of `out_dir`, `/api/tasks`,
//!   `/api/heartbeat`.
//! - [`daemon`]: drives it all: the loop, one cycle ([`daemon::cycle`]), reload, signals, the
//!   instance lock, and the `check` command.
//!
//! Leaves used by every stage: [`redact`] (outside text made safe to show), [`net`] (the small
//! HTTP client of the probes and the task relay), [`secret_env`] (secrets out of the
//! environment), [`arena`] (one malloc arena for big sites), [`process_name`] (the name `ps`
//! shows after those two re-exec the binary), [`cli`] and [`init`] (the command line and `init`).
//!
//! **The layering rule.** An import goes from a later stage to an earlier one (outputs read the
//! snapshot; the snapshot knows nothing of outputs), or from `daemon` (and this file) down into
//! any stage; no two modules import each other. As built:
//!
//! - `snapshot`, `redact`, `secret_env`, `arena` and `process_name` import no other module; `net` only `redact`;
//! - `config` imports only those leaves (the snapshot's `Kind` and `slugify`);
//! - `sense` (config, net), `history` (config, snapshot) and `publish` (config) import only
//!   what is above them in this list; `publish` knows nothing of what its bytes mean;
//! - `output` imports `config`, `snapshot` and `publish` (to write), never `sense` or
//!   `history`: what it shows of them is already in the snapshot;
//! - `alert` imports `config`, `snapshot`, `net` and `redact`: it is handed each cycle's
//!   services by the daemon and never reaches into the probes or the history;
//! - `serve` imports only `config`, `snapshot`, `net` and `redact`: what it shows of a cycle
//!   arrives through the [`serve::Health`] the daemon updates. One exception: the heartbeat
//!   route records a ping in the store of `sense::probe::heartbeat`, the one place both the
//!   route and the heartbeat check read (a ping is an input, like a probe's answer);
//! - `daemon` imports every stage; nothing but this file imports `daemon`.
#![forbid(unsafe_code)]

pub mod alert;
pub mod arena;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod history;
pub mod init;
pub mod net;
pub mod output;
pub mod process_name;
pub mod publish;
pub mod redact;
pub mod secret_env;
pub mod sense;
pub mod serve;
pub mod snapshot;

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
    // Before the secrets move, for the same reason: a long-running command with many services
    // runs with one malloc arena (see `arena`); this may re-exec the binary.
    let arena_problem = matches!(cli.command, None | Some(Command::Run | Command::Build))
        .then(|| arena::one(config_text.as_deref()))
        .flatten();
    let scrub_problem = secret_env::scrub(config_text.as_deref());
    // Past both re-execs: the name the kernel gave the last one is `exe`.
    process_name::restore();
    init_logging();
    if let Some(problem) = scrub_problem {
        tracing::warn!("{problem}");
    }
    if let Some(e) = arena_problem {
        tracing::warn!(
            "could not re-execute with {}=1 ({e}): running with the C library's default \
             memory arenas, which holds more memory",
            arena::VAR
        );
    }
    let env = config::process_env();
    match cli.command.unwrap_or(Command::Run) {
        Command::Check => {
            let report = daemon::check::run(cli.config.as_deref(), &env);
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
            if let Command::Alert {
                action: cli::AlertAction::Test { name },
            } = &command
            {
                return alert_test(&config, name.as_deref());
            }
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
    let lock = match daemon::instance::lock(&config.state_dir) {
        Ok(lock) => Some(lock),
        Err(held @ daemon::instance::LockError::Held { .. }) => return Err(held.into()),
        Err(e) => {
            tracing::warn!("{e}; going on without the lock");
            None
        }
    };
    // Without the lock, a temporary file might be another live instance's: leave them.
    if lock.is_some() {
        daemon::instance::remove_leftovers(&config.out_dir, &config.state_dir);
    }
    // Before any socket or file is opened: every later share of descriptors follows from it.
    net::fdlimit::raise();
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

/// `cortex-status alert test [NAME]`: one test message through each alert, each outcome on its
/// own line; 1 when any failed. Needs no lock: it may run beside the daemon.
fn alert_test(config: &Config, name: Option<&str>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(alert::test(config, name)) {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Ok(outcomes) => {
            let mut failed = false;
            for (name, outcome) in outcomes {
                match outcome {
                    Ok(()) => println!("{name}: sent"),
                    Err(e) => {
                        failed = true;
                        println!("{name}: failed: {e}");
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
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
