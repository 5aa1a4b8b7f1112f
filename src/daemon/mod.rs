//! The driver, daemon: runs the stages, in order, on a timer, beside the listener.
//!
//! It owns the loop and its signals (this file), one cycle ([`cycle`]: sense → snapshot →
//! history → outputs → publish), reloading the config and templates ([`reload`]), the
//! one-instance lock ([`instance`]) and the `check` command ([`check`]), which runs the same
//! loaders without publishing. It is the only stage that imports every other; nothing imports
//! it but `lib.rs`. `anyhow` stops here: below, errors are typed or already text in
//! `snapshot.errors`.
//!
//! The long-running process: the snapshot loop and the HTTP listener, until a signal.
//!
//! The loop never stacks cycles: a cycle runs to its end before the next tick is awaited, and a
//! cycle that overran skips the ticks it missed rather than queueing them.
//!
//! Signals ([`signals`]): SIGHUP reloads the config and the templates now, as daemons do (and
//! as `systemctl reload` asks). Every signal we catch that would otherwise end the process
//! (SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU, SIGPWR) stops it the same
//! orderly way: probes still in flight are abandoned (a 5-minute timeout must not hold up a
//! stop), the cycle in flight publishes whole files, the history is saved, and the log ends
//! with "stopped".

pub mod backlog;
pub mod check;
pub mod cycle;
pub mod instance;
pub mod reload;

use crate::config::Config;
use crate::daemon::cycle::Generator;
use crate::daemon::reload::{Change, Watch};
use crate::serve::tasks::TaskApi;
use crate::serve::{Health, Server};
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::{Instant, MissedTickBehavior};

/// What a signal asks of the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGHUP: read the config file and the templates again, now.
    Reload,
    /// Stop in order; the name of the signal, for the log.
    Stop(&'static str),
}

type TaskSlot = Arc<std::sync::RwLock<Arc<TaskApi>>>;

/// What the loop changes as it goes: the config in use and everything built from it.
struct Running {
    config: Arc<Config>,
    generator: Generator,
    watch: Watch,
    ticker: tokio::time::Interval,
    task_api: TaskSlot,
}

impl Running {
    /// Applies an edit (or a SIGHUP): a new config restarts the probes and recompiles the
    /// templates; a template edit alone re-renders the last snapshot.
    async fn apply(&mut self, change: Change) {
        if change.config {
            match reload_config(&self.config) {
                Ok(new) => {
                    *self.task_api.write().unwrap_or_else(|e| e.into_inner()) =
                        Arc::new(TaskApi::new(&new));
                    if new.interval != self.config.interval {
                        self.ticker = new_ticker(new.interval);
                    }
                    // Recompiles the templates too, so a template edit in the same change is in.
                    self.generator.reconfigure(Arc::clone(&new));
                    self.config = new;
                    self.rewatch();
                    // New services want a probe now, not at the next tick.
                    self.ticker.reset_immediately();
                    return;
                }
                // Logged once, by the generator, when it reaches `errors`.
                Err(problem) => self.generator.config_rejected(problem),
            }
        }
        if change.templates {
            self.generator.reload_templates();
        }
        if change.incidents {
            self.generator.reload_incidents();
            // The directory may have been made (or removed) since the watch started.
            self.rewatch();
        }
        self.generator.republish().await;
    }

    /// Starts a new watch when the config moved what is watched, or `incidents_dir` appeared.
    fn rewatch(&mut self) {
        let (file, templates) = (watched_file(&self.config), &self.config.templates_dir);
        let incidents = Some(self.config.incidents_dir.as_path());
        if !self
            .watch
            .covers(file.as_deref(), templates.as_deref(), incidents)
        {
            let fresh = Watch::start(file.as_deref(), templates.as_deref(), incidents);
            // An edit already seen by the old watch but not applied yet is kept.
            self.watch = self.watch.hand_over(fresh);
        }
    }
}

/// Runs until a [`Event::Stop`] comes through `events` (or `events` closes). Events are an
/// argument so tests can drive the daemon without signals.
pub async fn run(config: Arc<Config>, events: UnboundedReceiver<Event>) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    let public_dir = config.api.serve_public.then(|| config.out_dir.clone());
    let task_api = Arc::new(std::sync::RwLock::new(Arc::new(TaskApi::new(&config))));
    let server = Server::start(
        config.api.listen,
        public_dir,
        Arc::clone(&health),
        Arc::clone(&task_api),
    )?;
    // The harness (and people) read the address from this line's prefix: keep it.
    let serves = if config.api.serve_public {
        ""
    } else {
        "api/ only (serve_public = false)"
    };
    tracing::info!(
        "serving http://{}/{serves} (config: {}, output: {})",
        server.addr,
        config.source(),
        config.out_dir.display()
    );
    // A stop must reach a cycle that waits on its probes, while the loop is not listening: the
    // events pass through a task that also raises this flag.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (tx, mut events_rx) = unbounded_channel();
    let forward = tokio::spawn(async move {
        let mut events = events;
        while let Some(event) = events.recv().await {
            if matches!(event, Event::Stop(_)) {
                let _ = stop_tx.send(true);
            }
            if tx.send(event).is_err() {
                break;
            }
        }
        // `events` closed: that is a stop too (the flag's sender drops here).
    });
    let mut running = Running {
        generator: Generator::new(Arc::clone(&config)),
        watch: Watch::start(
            watched_file(&config).as_deref(),
            config.templates_dir.as_deref(),
            Some(&config.incidents_dir),
        ),
        ticker: new_ticker(config.interval),
        task_api,
        config,
    };
    running.generator.start_alerts(Arc::clone(&health));
    loop {
        tokio::select! {
            // A signal that came during the last cycle wins over a tick that is also due.
            biased;
            event = events_rx.recv() => match event {
                Some(Event::Reload) => {
                    tracing::info!("SIGHUP received: reloading the config, templates and incidents");
                    running
                        .apply(Change {
                            config: true,
                            templates: true,
                            incidents: true,
                        })
                        .await;
                    continue;
                }
                Some(Event::Stop(name)) => {
                    tracing::info!("{name} received");
                    break;
                }
                None => break,
            },
            // `next` keeps a half-debounced edit in the watch, so a tick that wins this select
            // does not lose it.
            change = running.watch.next() => {
                running.apply(change).await;
                continue;
            }
            _ = running.ticker.tick() => {}
        }
        let started = Instant::now();
        let mut stop = stop_rx.clone();
        let stopping = async move {
            // An error means the sender is gone, which is a stop as well.
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let report = running
            .generator
            .cycle(started + running.config.interval, stopping)
            .await;
        let took = started.elapsed();
        health.record(
            report.snapshot.generated_at,
            report.failure.as_deref(),
            took,
        );
        tracing::debug!(
            "cycle done in {:.2} ms: overall {}, {} errors",
            took.as_secs_f64() * 1000.0,
            report.snapshot.overall,
            report.snapshot.errors.len()
        );
    }
    tracing::info!("shutting down");
    forward.abort();
    // Probes still in flight are tasks on the runtime; its shutdown (lib.rs) drops them.
    running.generator.flush().await;
    drop(running);
    server.stop().await;
    tracing::info!("stopped");
    Ok(())
}

fn new_ticker(interval: std::time::Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker
}

/// The config file the watch follows: the one in use, or on the embedded default the
/// `cortex-status.toml` that [`Config::load`] would find in the working directory, so a file
/// written there after the start (as the README's quick start does) is picked up without a
/// restart.
fn watched_file(config: &Config) -> Option<std::path::PathBuf> {
    Some(
        config
            .file
            .clone()
            .unwrap_or_else(|| crate::config::DEFAULT_FILE.into()),
    )
}

/// Reads the config file again. Settings the running process cannot change (where it listens,
/// what it serves, where it writes) keep their old values, with a warning to restart.
fn reload_config(old: &Config) -> Result<Arc<Config>, String> {
    let mut new = Config::load(old.file.as_deref(), &crate::config::process_env())
        .map_err(|e| format!("config: {e}"))?;
    let warn_restart = |key: &str, changed: bool| {
        if changed {
            tracing::warn!("config: {key} changed; restart cortex-status to apply it");
        }
    };
    warn_restart("api.listen", new.api.listen != old.api.listen);
    warn_restart(
        "api.serve_public",
        new.api.serve_public != old.api.serve_public,
    );
    warn_restart("out_dir", new.out_dir != old.out_dir);
    warn_restart("state_dir", new.state_dir != old.state_dir);
    new.api.listen = old.api.listen;
    new.api.serve_public = old.api.serve_public;
    new.out_dir = old.out_dir.clone();
    new.state_dir = old.state_dir.clone();
    tracing::info!("config reloaded from {}", new.source());
    Ok(Arc::new(new))
}

/// One cycle for `cortex-status build`: waits for every probe up to its own timeout.
pub async fn build(config: Arc<Config>) -> anyhow::Result<crate::snapshot::Snapshot> {
    let mut generator = Generator::new(Arc::clone(&config));
    generator.one_shot();
    let longest = config
        .services
        .iter()
        .map(|s| s.timeout)
        .max()
        .unwrap_or_default();
    let report = generator
        .cycle(Instant::now() + longest, std::future::pending())
        .await;
    // The history is saved beside the cycle; a build waits for it.
    let per_service = generator.per_service_failures();
    generator.flush().await;
    // The sync is part of a build: a cron job's exit status says whether it happened.
    let hook_failure = generator.settle_hook().await;
    if !per_service.is_empty() {
        anyhow::bail!(
            "some outputs in {} could not be written: {}",
            config.out_dir.display(),
            per_service.join("; ")
        );
    }
    if !report.published {
        anyhow::bail!(
            "some outputs in {} could not be written: {}",
            config.out_dir.display(),
            report.snapshot.errors.join("; ")
        );
    }
    if let Some(what) = hook_failure {
        anyhow::bail!(
            "published to {}, but the on_publish command {what}",
            config.out_dir.display()
        );
    }
    Ok(Arc::unwrap_or_clone(report.snapshot))
}

/// The signals that would end the process if nobody caught them, and which we catch to stop
/// in order instead. SIGPIPE is ignored by Rust already; SIGPROF and SIGVTALRM are left to
/// profilers; SIGKILL and SIGSTOP cannot be caught.
const STOP_SIGNALS: &[(rustix::process::Signal, &str)] = {
    use rustix::process::Signal;
    &[
        (Signal::TERM, "SIGTERM"),
        (Signal::INT, "SIGINT"),
        (Signal::QUIT, "SIGQUIT"),
        (Signal::USR1, "SIGUSR1"),
        (Signal::USR2, "SIGUSR2"),
        (Signal::ALARM, "SIGALRM"),
        (Signal::XCPU, "SIGXCPU"),
        (Signal::POWER, "SIGPWR"),
    ]
};

/// The signals as [`Event`]s. The handlers are installed now, not at the first poll, so a
/// signal that arrives during the first cycle is not lost. Must be called on the runtime.
pub fn signals() -> anyhow::Result<UnboundedReceiver<Event>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut stops = STOP_SIGNALS
        .iter()
        .map(|&(sig, name)| Ok((signal(SignalKind::from_raw(sig.as_raw()))?, name)))
        .collect::<std::io::Result<Vec<_>>>()?;
    let (tx, rx) = unbounded_channel();
    tokio::spawn(async move {
        loop {
            let stop = std::future::poll_fn(|cx| {
                for (sig, name) in &mut stops {
                    if sig.poll_recv(cx).is_ready() {
                        return std::task::Poll::Ready(*name);
                    }
                }
                std::task::Poll::Pending
            });
            let event = tokio::select! {
                _ = hup.recv() => Event::Reload,
                name = stop => Event::Stop(name),
            };
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
