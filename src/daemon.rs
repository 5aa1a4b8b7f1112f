//! The long-running process: the snapshot loop and the HTTP listener, until a signal.
//!
//! The loop never stacks cycles: a cycle runs to its end before the next tick is awaited, and a
//! cycle that overran skips the ticks it missed rather than queueing them. A shutdown signal is
//! noticed between cycles, so the cycle in flight finishes and publishes whole files.

use crate::config::Config;
use crate::generator::Generator;
use crate::reload::Watch;
use crate::server::{Health, Server};
use crate::tasks::TaskApi;
use std::future::Future;
use std::sync::Arc;
use tokio::time::{Instant, MissedTickBehavior};

/// Runs until `shutdown` resolves. Shutdown is an argument so tests (and `build`) can drive it.
pub async fn run(config: Arc<Config>, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    let public_dir = config.api.serve_public.then(|| config.out_dir.clone());
    let task_api = Arc::new(std::sync::RwLock::new(Arc::new(TaskApi::new(&config))));
    let server = Server::start(
        config.api.listen,
        public_dir,
        Arc::clone(&health),
        Arc::clone(&task_api),
    )?;
    tracing::info!(
        "serving http://{}/ (config: {}, output: {})",
        server.addr,
        config.source(),
        config.out_dir.display()
    );
    let mut generator = Generator::new(Arc::clone(&config));
    let mut watch = Watch::start(config.file.as_deref(), config.templates_dir.as_deref());
    let mut config = config;
    let mut ticker = new_ticker(config.interval);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            // A signal that came during the last cycle wins over a tick that is also due.
            biased;
            () = &mut shutdown => break,
            change = watch.next() => {
                if change.config {
                    match reload_config(&config) {
                        Ok(new) => {
                            *task_api.write().unwrap_or_else(|e| e.into_inner()) =
                                Arc::new(TaskApi::new(&new));
                            if new.interval != config.interval {
                                ticker = new_ticker(new.interval);
                            }
                            generator.reconfigure(Arc::clone(&new));
                            if !watch.covers(new.file.as_deref(), new.templates_dir.as_deref()) {
                                watch = Watch::start(new.file.as_deref(), new.templates_dir.as_deref());
                            }
                            config = new;
                            // New services want a probe now, not at the next tick.
                            ticker.reset_immediately();
                            continue;
                        }
                        Err(problem) => generator.config_rejected(problem),
                    }
                } else if change.templates {
                    generator.reload_templates();
                }
                generator.republish().await;
                continue;
            }
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let report = generator.cycle(started + config.interval).await;
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
    generator.flush();
    server.stop().await;
    Ok(())
}

fn new_ticker(interval: std::time::Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticker
}

/// Reads the config file again. Settings the running process cannot change (where it listens,
/// what it serves, where it writes) keep their old values, with a warning to restart.
fn reload_config(old: &Config) -> Result<Arc<Config>, String> {
    let mut new =
        Config::load(old.file.as_deref(), &crate::config::process_env()).map_err(|e| {
            tracing::error!("config not reloaded: {e}");
            format!("config: {e}")
        })?;
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
    let longest = config
        .services
        .iter()
        .map(|s| s.timeout)
        .max()
        .unwrap_or_default();
    let report = generator.cycle(Instant::now() + longest).await;
    // The sync is part of a build: a cron job's exit status says whether it happened.
    let hook_failure = generator.settle_hook().await;
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
    Ok(report.snapshot)
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed now, not at the first poll, so a
/// signal that arrives during the first cycle is not lost.
pub fn signals() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
