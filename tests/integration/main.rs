//! Integration tests: the real `cortex-status` binary, started on port 0, against HTTP peers
//! the tests start on loopback. One test binary; a module per concern, listed here by the
//! stage of `src/` each mostly exercises (module names are kept, so test names stay stable).

#[path = "../common/mod.rs"]
mod common;

// config/ and the commands: the command line, `check`, `init`.
mod cli;
mod config_check;

// sense/: probes against live and hostile peers (bounded, redacted).
mod checks;
mod hostile;
mod probes;

// history/ and what it tells the page in the first hour.
mod first_hour;
mod history;

// output/: pages, the feeds for machines, the page in a real browser.
mod alerts;
mod browser;
mod feeds;
mod incidents;
mod pages;

// publish/: the on_publish hook.
mod hook;

// serve/: the listener's bounds, the preview, the task endpoint.
mod listener;
mod preview;
mod tasks;

// daemon/: the loop, reload, signals and restarts.
mod daemon;
mod reload;
mod restarts;

// Budgets across stages (issue 14): descriptors, rewrites, sizes.
mod lean;
// What a cycle renders again and what it keeps (issue 14).
mod render;

// Shipping: scripts/, the Debian package, the local Caddy trial.
mod deploy;
mod package;
mod trial;
