//! The long-running process: the snapshot loop and the HTTP listener, until a signal.
//!
//! The loop never stacks cycles: a cycle runs to its end before the next tick is awaited, and a
//! cycle that overran skips the ticks it missed rather than queueing them. A shutdown signal is
//! noticed between cycles, so the cycle in flight finishes and publishes whole files.

use crate::config::Config;
use crate::generator::Generator;
use crate::server::{Health, Server};
use crate::tasks::TaskApi;
use std::future::Future;
use std::sync::Arc;
use tokio::time::{Instant, MissedTickBehavior};

/// Runs until `shutdown` resolves. Shutdown is an argument so tests (and `build`) can drive it.
pub async fn run(config: Arc<Config>, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let health = Arc::new(Health::default());
    let public_dir = config.api.serve_public.then(|| config.out_dir.clone());
    let task_api = Arc::new(TaskApi::new(&config, tokio::runtime::Handle::current()));
    let server = Server::start(config.api.listen, public_dir, Arc::clone(&health), task_api)?;
    tracing::info!(
        "serving http://{}/ (config: {}, output: {})",
        server.addr,
        config.source(),
        config.out_dir.display()
    );
    let mut generator = Generator::new(Arc::clone(&config));
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            // A signal that came during the last cycle wins over a tick that is also due.
            biased;
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        let started = Instant::now();
        let report = generator.cycle(started + config.interval).await;
        let took = started.elapsed();
        health.record(report.snapshot.generated_at, report.published, took);
        tracing::debug!(
            "cycle done in {:.2} ms: overall {}, {} errors",
            took.as_secs_f64() * 1000.0,
            report.snapshot.overall,
            report.snapshot.errors.len()
        );
    }
    tracing::info!("shutting down");
    generator.flush();
    server.stop();
    Ok(())
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
    if !report.published {
        anyhow::bail!(
            "some outputs in {} could not be written: {}",
            config.out_dir.display(),
            report.snapshot.errors.join("; ")
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
