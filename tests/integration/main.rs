//! Integration tests: the real `cortex-status` binary, started on port 0, against HTTP peers
//! the tests start on loopback. One test binary; modules by concern.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod cli;
mod config_check;
mod daemon;
mod deploy;
mod feeds;
mod first_hour;
mod history;
mod hook;
mod hostile;
mod listener;
mod package;
mod pages;
mod preview;
mod probes;
mod reload;
mod restarts;
mod tasks;
mod trial;
