//! The command line, as the user types it. Turning it into work is `lib::main`'s job.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// A status page for a small server: host metrics and service health, published as a static
/// site (index.html, status.json) that any web server can serve and the browser keeps fresh.
#[derive(Debug, Parser)]
#[command(name = "cortex-status", version, propagate_version = true)]
#[command(after_help = "\
With no command, runs the daemon. With no config file, runs on the embedded default (this host's
metrics, no services) and serves the page at http://127.0.0.1:4000.

Environment: PORT, SYMBIONT_URL, STATUS_PUBLIC_URL override the file; the secrets
STATUS_TASK_PASSWORD and SYMBIONT_TOKEN (or *_FILE naming a file) live only there.
RUST_LOG sets the log level (default: info).")]
pub struct Cli {
    /// The TOML config file [default: cortex-status.toml in the working directory if present,
    /// else the embedded default]
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum Command {
    /// Run the daemon: snapshot, render and publish every interval, and serve the API (default)
    Run,
    /// Take one snapshot, render and publish it, then exit (for cron, CI, a first look)
    Build,
    /// Validate the config and every template; print each problem with file and line
    Check,
}
