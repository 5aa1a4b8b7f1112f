//! The command line, as the user types it, and the help a person learns the tool from. Turning
//! it into work is `lib::main`'s job.
//!
//! `-h` is the short help; `--help` adds the environment, the files written and examples.
//! `-V` and `--version` print the same: the version and what this binary was built with. A
//! bug report then carries the same lines whichever flag the person typed.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::LazyLock;

/// `-V` and `--version`: the version, then what a bug report needs to know about this build.
static LONG_VERSION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}\nstatus.json schema {}\nbuilt for {}-{} ({} build)",
        env!("CARGO_PKG_VERSION"),
        crate::snapshot::SCHEMA,
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    )
});

const LONG_ABOUT: &str = "\
A status page for one small server.

Every interval it takes a snapshot of the host (load, memory, disks) and of the services you
list (http, tcp, systemd and other cortex-status instances), and publishes it into out_dir as a
static site: status.json, the HTML page that shows it and keeps itself fresh in the browser, an
Atom feed, Prometheus metrics and badges. Any web server can serve out_dir (Caddy in
production: see /usr/share/doc/cortex-status/examples/Caddyfile where the .deb is installed, or
scripts/Caddyfile in the source). Beside it runs a small endpoint for /api/health and the task
form, which forwards tasks to the Symbiont API.

With no command it runs the daemon. With no config file it runs on the embedded default (this
host's figures, no services) and serves the page and the API at http://127.0.0.1:4000; a
cortex-status.toml written later in the working directory is picked up without a restart.";

const SHORT_AFTER: &str = "\
Run `cortex-status --help` for the environment, the files written, and examples.";

const LONG_AFTER: &str = "\
Configuration:
  A TOML file; every key is optional and an unknown key is an error. Paths in it are relative to
  the file. Precedence, lowest first: built-in defaults < the file < the environment. Run
  `cortex-status check` after every change; it lists every problem, each with its line.
  Durations are a number and a unit: \"5s\", \"250ms\", \"2 minutes\", \"1h 30m\" (ms, s, m, h, d).
  `cortex-status init` writes a commented starter file with this host's services in it.

Environment:
  PORT                        the port of [api] listen (the address stays)
  STATUS_PUBLIC_URL           public_url: absolute links, feed ids, the allowed Origin
  SYMBIONT_URL                [tasks] symbiont_url: where tasks are sent
  STATUS_TASK_PASSWORD        the task form's password; or STATUS_TASK_PASSWORD_FILE, a file
                              holding it (systemd's LoadCredential=)
  SYMBIONT_TOKEN              sent to Symbiont as `Authorization: Bearer`; or
                              SYMBIONT_TOKEN_FILE, a file holding it
  RUST_LOG                    log level or filter, to stderr (default: info)
  The two secrets live only in the environment or their files: never in the config file, the
  published files or the log. At start they are moved out of the process environment (it
  re-executes itself, same pid), so on_publish finds them neither in its environment nor in
  /proc of the daemon.

Files written:
  out_dir (default ./public; the web root), each file atomically (temporary .dot-file, then
  rename), so a reader never sees part of one:
    index.html                the status page (complete without JavaScript)
    status.json               the snapshot (schema 1), which the page re-reads to stay fresh
    tasks.html                the task form
    feed.xml                  Atom feed of status changes
    metrics                   Prometheus text exposition
    badges/SLUG.svg, .json    a badge per service, and a shields.io endpoint
    assets/                   the page's CSS, JS and icon
    *.gz                      gzip sidecars for precompressed serving
  state_dir (default ./state; never served): the history behind uptime and incidents.
  on_publish, if set, runs `sh -c COMMAND` after each publish (one at a time, killed after
  on_publish_timeout) with CORTEX_STATUS_OUT_DIR set to out_dir.

Examples:
  cortex-status                               the daemon on the embedded default, at :4000
  cortex-status init -c /etc/cortex-status/cortex-status.toml
  cortex-status check -c /etc/cortex-status/cortex-status.toml
  cortex-status build -c site.toml            one publish, for cron or CI
  STATUS_TASK_PASSWORD_FILE=/run/credentials/pw PORT=4001 cortex-status run -c site.toml
  curl -s http://127.0.0.1:4000/api/health

Exit status: 0 on success; 1 on a bad config, a problem `check` found, or a failed build.";

#[derive(Debug, Parser)]
#[command(
    name = "cortex-status",
    // Only `version`, no `long_version`: clap prints the long one for `--version` alone, and
    // two answers to "which version is this?" made people compare the wrong lines.
    version = LONG_VERSION.as_str(),
    propagate_version = true,
    long_about = LONG_ABOUT,
    after_help = SHORT_AFTER,
    after_long_help = LONG_AFTER
)]
/// A status page for a small server: host figures and service health, published as a static
/// site that any web server can serve and the browser keeps fresh.
pub struct Cli {
    /// The TOML config file [default: cortex-status.toml in the working directory if present,
    /// else the embedded default]
    #[arg(long, short = 'c', global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the daemon: snapshot, render and publish every interval, and serve the API (default)
    ///
    /// Publishes into out_dir every `interval` until SIGTERM or SIGINT; the cycle in flight
    /// then finishes, so no file is left half-written. Meanwhile it serves, on [api] listen:
    /// GET /api/health, the task endpoint (POST /api/tasks, GET /api/tasks/ID) when [tasks]
    /// and both secrets are set, and a preview of out_dir when [api] serve_public is true. A
    /// failed probe, template or write is shown on the page and in status.json's `errors`; it
    /// never stops the loop.
    Run,
    /// Take one snapshot, render and publish it, then exit (for cron, CI, a first look)
    ///
    /// Waits for every probe up to its own timeout, and for the on_publish command if there is
    /// one. Exits 1 if a file could not be written or on_publish failed.
    Build,
    /// Validate the config and every template; print each problem with file and line
    ///
    /// Loads the config as `run` would (environment included), parses and compiles every
    /// template (yours in templates_dir over the embedded ones) and renders each page against
    /// an example snapshot. Prints every problem, then exits 1; prints `ok: ...` and exits 0
    /// when there is none. Reads nothing from the network and writes nothing.
    Check,
    /// Write a commented starter config, with the services found on this host commented out
    ///
    /// Writes --config PATH (default cortex-status.toml in the working directory) and never
    /// overwrites a file that exists. It looks for known servers listening on loopback (from
    /// /proc/net/tcp and tcp6: PostgreSQL, MySQL, Redis, HTTP, ...) and for active systemd
    /// units of common servers (when systemctl works), and writes each as a [[service]] to
    /// uncomment. `cortex-status check` accepts the file as written.
    Init,
    /// Alert channels: `alert test [NAME]` sends a test message through each (or one)
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AlertAction {
    /// Send a test message through every [[alert]] (or the one named) and print each outcome
    ///
    /// One attempt per channel, no retries. Exits 1 when any failed. Needs no lock, so it can
    /// run while the daemon does.
    Test {
        /// The alert's `name`; all of them when absent
        name: Option<String>,
    },
}
