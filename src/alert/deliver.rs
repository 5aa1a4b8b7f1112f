//! Delivery off the cycle's path: each alert has a bounded queue and one task that sends what
//! comes through it, in order, retrying a failed attempt with backoff (4 tries over about a
//! minute: after 5 s, 15 s and 40 s). The cycle only `try_send`s: a full queue drops the
//! message and says so, it never waits. A delivery that finally failed is logged and kept as
//! the channel's failure (for `errors` and `/api/health`) until a later one succeeds.

use super::channel::{self, Ctx};
use super::message::Event;
use crate::config::AlertConfig;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting per channel; more means the channel is far behind (and failing).
const QUEUE: usize = 32;

/// The waits between tries, in units of [`backoff_unit`].
const BACKOFF: [u32; 3] = [1, 3, 8];

/// 5 s, so the tries span about a minute. `CORTEX_ALERT_BACKOFF_MS` changes it, for tests
/// only (a test cannot wait a minute for a retry); it is not documented for people.
fn backoff_unit() -> Duration {
    static UNIT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *UNIT.get_or_init(|| {
        std::env::var("CORTEX_ALERT_BACKOFF_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(Duration::from_secs(5), Duration::from_millis)
    })
}

/// How a channel is doing, shared between its task and the cycle that reports it.
#[derive(Debug, Default)]
pub struct Health {
    /// Why the last message that finally failed did; `None` once one gets through.
    pub failing: Option<String>,
    /// Messages dropped because the queue was full.
    pub dropped: u64,
}

pub struct Outbox {
    tx: mpsc::Sender<Event>,
    pub health: Arc<Mutex<Health>>,
}

impl Outbox {
    /// Starts the channel's task on the current runtime. It ends when the outbox is dropped
    /// (a reload) after sending what was queued.
    pub fn start(alert: Arc<AlertConfig>, ctx: Ctx) -> Outbox {
        let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
        let health = Arc::new(Mutex::new(Health::default()));
        let shared = Arc::clone(&health);
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                let outcome = deliver(&alert, &event, &ctx).await;
                let mut h = shared.lock().unwrap_or_else(|p| p.into_inner());
                match outcome {
                    Ok(tries) => {
                        if h.failing.take().is_some() {
                            tracing::info!("alerts to `{}` are delivered again", alert.name);
                        }
                        tracing::info!(
                            "alert `{}`: {} of {} delivered{}",
                            alert.name,
                            event.event.as_str(),
                            event.service,
                            if tries > 1 {
                                format!(" (try {tries})")
                            } else {
                                String::new()
                            }
                        );
                    }
                    Err(e) => {
                        tracing::error!(
                            "alerts to `{}` are failing: {e}; the {} message about {} was not delivered after {} tries",
                            alert.name,
                            event.event.as_str(),
                            event.service,
                            BACKOFF.len() + 1
                        );
                        h.failing = Some(e);
                    }
                }
            }
        });
        Outbox { tx, health }
    }

    /// Queues `event`, never waiting; a full queue drops it and counts it.
    pub fn push(&self, event: Event) {
        if self.tx.try_send(event).is_err() {
            let mut h = self.health.lock().unwrap_or_else(|p| p.into_inner());
            h.dropped += 1;
        }
    }

    /// The channel's problem, if it has one, in words.
    pub fn problem(&self) -> Option<String> {
        let h = self.health.lock().unwrap_or_else(|p| p.into_inner());
        match (&h.failing, h.dropped) {
            (Some(e), 0) => Some(e.clone()),
            (Some(e), n) => Some(format!("{e} ({n} messages dropped: the queue was full)")),
            (None, 0) => None,
            (None, n) => Some(format!("{n} messages dropped: the queue was full")),
        }
    }
}

/// Tries until one attempt succeeds or the tries are used up; returns the try that worked or
/// the last error.
async fn deliver(alert: &AlertConfig, event: &Event, ctx: &Ctx) -> Result<usize, String> {
    let mut last = String::new();
    for try_no in 0..=BACKOFF.len() {
        if try_no > 0 {
            tokio::time::sleep(backoff_unit() * BACKOFF[try_no - 1]).await;
        }
        match channel::send(alert, event, ctx).await {
            Ok(()) => return Ok(try_no + 1),
            Err(e) => {
                tracing::warn!("alert `{}`: try {} failed: {e}", alert.name, try_no + 1);
                last = e;
            }
        }
    }
    Err(last)
}
