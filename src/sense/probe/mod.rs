//! Checking services: one probe per service, each bounded by its own timeout, at most
//! [`Budget::probes_in_flight`](crate::net::fdlimit::Budget) of them at once.
//!
//! A probe's result is *data*: a service that is down, slow or answers garbage yields an
//! [`Outcome`] saying so, never an `Err` that stops the loop.
//!
//! Timing rules, which the loop relies on:
//! - a cycle's probes are spread over the first half of its interval, and the next cycle
//!   publishes their results (a service's first check is waited for): see [`Prober::cycle`];
//! - probes take turns for a socket: at most
//!   `probes_in_flight` hold one at once, and at most `probe_pool` connections are kept alive
//!   between cycles ([`crate::net::fdlimit`]). So the descriptors open never depend on the
//!   number of services, and the latency a probe measures is the service's, not that of a
//!   thousand others answered on the same thread. A probe's timeout starts with its turn; a slow
//!   one delays the others only while it holds its turn, never past its timeout;
//! - a probe that cannot get a socket at all (the descriptor limit is reached anyway, by the
//!   listener or the hook) reports its service `unknown` with the reason, not `down`: the
//!   service was not looked at, and the cycle still publishes;
//! - a cycle waits for its probes only until its deadline (one interval). A probe still running
//!   then (its timeout is longer than the interval) keeps running in the background; the
//!   service shows its previous result, and no second probe of it is started until the first
//!   ends. So probes never stack, and a slow service never delays the next cycle.
//!
//! Text rules: whatever a probe reports comes partly from outside (a server's reason phrase, a
//! peer's service names, a JSON body). Every error passes [`redact::text`] (no userinfo or
//! query string of any URL in it) and [`clip`] (no control characters, at most
//! [`MAX_ERROR_CHARS`]) on its way out of [`probe`], so no target can put a secret, a forged log
//! line or a megabyte of text on our page, feed or log. Numbers from outside are checked before
//! any arithmetic: `Duration` arithmetic panics on overflow, in release builds too.

mod content;
mod dns;
mod feed;
pub mod heartbeat;
mod http;
mod ping;
mod systemd;
mod tcp;
mod tls;

use crate::config::{Check, ServiceConfig};
use crate::net::client;
use crate::redact;
use crate::snapshot::{Status, millis};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;

/// The share of the interval over which a cycle's probes are spread: the rest leaves their
/// answers time to come in before the next cycle collects them.
pub const SPREAD: f64 = 0.5;

/// How many probes start together at one moment of the spread. Each moment costs the runtime a
/// timer wake-up (an epoll return and two context switches) whatever starts then, so probes
/// start in small groups rather than one by one: measured with `scripts/bench-cycle --services
/// 100 --interval 1s --history-days 365`, the probing thread's CPU per cycle fell from 10.2 ms
/// one by one to 6.9 ms in fours (5.0 ms in eights). A group is kept small because its
/// requests reach their services at once: neighbours in the config are often endpoints of one
/// application, which then answers them in turn, and the latency measured would be its queue's.
/// In fours the median reported latency of the benchmark's peers (one Python process) went
/// from 0.20 to 0.45 ms; in eights to 0.70 ms.
pub const GROUP: usize = 4;

/// The longest error a probe reports: a sentence or two, whatever the target sent.
pub const MAX_ERROR_CHARS: usize = 512;

pub(crate) use crate::redact::clip;

/// The result of one check of one service.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub latency: Option<Duration>,
    pub checked_at: DateTime<Utc>,
    pub error: Option<String>,
    pub details: Map<String, Value>,
}

impl Outcome {
    fn new(status: Status, latency: Option<Duration>, error: Option<String>) -> Outcome {
        Outcome {
            status,
            latency,
            checked_at: Utc::now(),
            error,
            details: Map::new(),
        }
    }

    fn down(error: impl Into<String>) -> Outcome {
        Outcome::new(Status::Down, None, Some(error.into()))
    }
}

/// `up` turns `degraded` when the answer came slower than `degraded_after`; other statuses
/// stand as they are.
fn degrade_if_slow(
    status: Status,
    error: Option<String>,
    latency: Duration,
    degraded_after: Option<Duration>,
) -> (Status, Option<String>) {
    match degraded_after {
        Some(limit) if status == Status::Up && latency > limit => (
            Status::Degraded,
            Some(format!(
                "slow: answered in {} ms, degraded after {}",
                millis(latency),
                humantime::format_duration(limit)
            )),
        ),
        _ => (status, error),
    }
}

struct Slot {
    in_flight: bool,
    /// The cycle that waits for its probe (its first check), if one does.
    waited_by: Option<u64>,
    /// The latest outcome, its `details` moved into `details`.
    last: Option<Outcome>,
    /// The latest outcome's details, shared with the snapshots: the same facts a check later
    /// stay the same allocation, so a service's details are held once, not by this slot and
    /// again by every snapshot alive (at 5,000 HTTP services a copy was about 4 MB).
    details: crate::snapshot::Details,
    /// The kept-alive connection, between probes (a probe in flight holds it).
    conn: Option<client::Conn>,
}

/// A probe's end: the service's index, its outcome, and the connection to keep, already
/// counted in the pool (see [`Launcher::keep`]).
type Done = (usize, Outcome, Option<client::Conn>);

/// What starting a probe takes; cloned into the task that starts a cycle's probes.
#[derive(Clone)]
struct Launcher {
    services: Arc<Vec<ServiceConfig>>,
    client: client::Client,
    tx: mpsc::UnboundedSender<Done>,
    /// One permit per probe that may hold a socket at once.
    turns: Arc<Semaphore>,
    /// Kept-alive connections that exist: in a slot, with a probe in flight, or on their way
    /// back to the prober. At most `pool`.
    kept: Arc<AtomicUsize>,
    pool: usize,
}

impl Launcher {
    /// Waits for a turn, then runs the probe of service `i` on a task of its own.
    async fn launch(&self, i: usize, conn: Option<client::Conn>) {
        // The semaphore is never closed; without a permit the probe still runs.
        let turn = Arc::clone(&self.turns).acquire_owned().await.ok();
        let this = self.clone();
        tokio::spawn(async move {
            let had = conn.is_some();
            let (outcome, conn) = probe(&this.client, &this.services[i], conn).await;
            let conn = this.keep(conn, had);
            drop(turn);
            // The receiver lives as long as the prober; if it is gone we are shutting down.
            let _ = this.tx.send((i, outcome, conn));
        });
    }

    /// The connection a probe ended with, if the pool has room for it; closed here otherwise.
    /// Decided as the probe ends, not when the prober collects it: spread probes are
    /// collected by the next cycle, and a connection waiting for that must already count (it
    /// did not: with keep-alive peers the descriptors grew with the number of services again).
    fn keep(&self, conn: Option<client::Conn>, had: bool) -> Option<client::Conn> {
        if had {
            self.kept.fetch_sub(1, Ordering::SeqCst);
        }
        let conn = conn?;
        self.kept
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
                (k < self.pool).then_some(k + 1)
            })
            .ok()
            .map(|_| conn)
    }
}

/// Runs the probes of a fixed list of services and keeps each one's latest outcome.
pub struct Prober {
    services: Arc<Vec<ServiceConfig>>,
    slots: Vec<Slot>,
    rx: mpsc::UnboundedReceiver<Done>,
    launcher: Launcher,
    /// The tasks starting the probes of recent cycles; stopped with the prober, so a reload's
    /// new prober does not run beside the old one's schedule.
    schedulers: Vec<tokio::task::JoinHandle<()>>,
    /// Cycles begun.
    cycles: u64,
}

impl Prober {
    pub fn new(services: Vec<ServiceConfig>) -> Prober {
        let budget = crate::net::fdlimit::current();
        Prober::with_budget(services, budget.probes_in_flight, budget.probe_pool)
    }

    /// A prober that runs at most `in_flight` probes at once and keeps at most `pool`
    /// connections alive between cycles.
    pub fn with_budget(services: Vec<ServiceConfig>, in_flight: usize, pool: usize) -> Prober {
        let (tx, rx) = mpsc::unbounded_channel();
        let slots = services
            .iter()
            .map(|_| Slot {
                in_flight: false,
                waited_by: None,
                last: None,
                details: Default::default(),
                conn: None,
            })
            .collect();
        let services = Arc::new(services);
        Prober {
            launcher: Launcher {
                services: Arc::clone(&services),
                client: client::Client::new(),
                tx,
                turns: Arc::new(Semaphore::new(in_flight.max(1))),
                kept: Arc::default(),
                pool,
            },
            services,
            slots,
            rx,
            schedulers: Vec::new(),
            cycles: 0,
        }
    }

    pub fn services(&self) -> &[ServiceConfig] {
        &self.services
    }

    /// Starts this cycle's probes and collects what has ended.
    ///
    /// A service never checked yet (the first cycle, a service added by a reload, `build`) is
    /// probed now, and the cycle waits for it until `deadline`, so a first page has every
    /// service. Every other service's probe starts at its own moment of the interval ahead
    /// ([`Prober::offset`]): in groups of [`GROUP`], group `g` of `G` at `g / G` of [`SPREAD`] of it. The cycle does
    /// not wait for those: their results are the next cycle's. So a check is at most one
    /// interval old when it is published, the cycle's own time is the time to make the page,
    /// and, since only a few probes are in flight at any moment, the latency a probe measures is
    /// the service's, not that of the hundreds of others started with it (measured with
    /// `scripts/bench-cycle --services 1000`: the median reported latency of a loopback service
    /// fell from 5.3 ms, all started at once, to the service's own).
    pub async fn cycle(&mut self, deadline: Instant) {
        // Results of the probes spread over the last interval, and of any that outlived it.
        while let Ok(done) = self.rx.try_recv() {
            self.store(done);
        }
        self.cycles += 1;
        let now = Instant::now();
        let interval = deadline.saturating_duration_since(now);
        let n = self.services.len();
        let (mut first, mut later) = (Vec::new(), Vec::new());
        for i in 0..n {
            let slot = &mut self.slots[i];
            if slot.in_flight {
                continue;
            }
            slot.in_flight = true;
            let conn = slot.conn.take();
            if slot.last.is_none() {
                slot.waited_by = Some(self.cycles);
                first.push((i, conn));
            } else {
                later.push((i, conn));
            }
        }
        let mut pending = first.len();
        if !first.is_empty() || !later.is_empty() {
            // One task starts them all, each when its moment and a turn have come: so only
            // the probes in flight are tasks (a few KB each), not every service's.
            let launcher = self.launcher.clone();
            self.schedulers.retain(|h| !h.is_finished());
            self.schedulers.push(tokio::spawn(async move {
                for (i, conn) in first {
                    launcher.launch(i, conn).await;
                }
                let mut moment = None;
                for (i, conn) in later {
                    // One timer per group: the rest of a group starts without another wait.
                    let at = now + Prober::offset(i, n, interval);
                    if moment != Some(at) {
                        tokio::time::sleep_until(at).await;
                        moment = Some(at);
                    }
                    launcher.launch(i, conn).await;
                }
            }));
        }
        while pending > 0 {
            tokio::select! {
                received = self.rx.recv() => {
                    let Some(done) = received else { break };
                    if self.slots[done.0].waited_by == Some(self.cycles) {
                        pending -= 1;
                    }
                    self.store(done);
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }

    /// When service `i` of `n` is probed within an interval: in groups of [`GROUP`] in turn,
    /// the groups evenly over its first [`SPREAD`], so the probes of one interval end before
    /// the next one starts.
    fn offset(i: usize, n: usize, interval: Duration) -> Duration {
        let spread = interval.mul_f64(SPREAD);
        let groups = n.div_ceil(GROUP).max(1);
        // `i / GROUP < groups`, so the product fits a u128 and the result is below `spread`.
        let nanos = spread.as_nanos() * (i / GROUP) as u128 / groups as u128;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn store(&mut self, (i, mut outcome, conn): Done) {
        let slot = &mut self.slots[i];
        slot.in_flight = false;
        slot.waited_by = None;
        let details = std::mem::take(&mut outcome.details);
        if *slot.details != details {
            slot.details = crate::snapshot::Details::new(details);
        }
        slot.last = Some(outcome);
        slot.conn = conn;
    }

    /// Kept-alive connections that exist now (in a slot or with a probe in flight).
    pub fn kept(&self) -> usize {
        self.launcher.kept.load(Ordering::SeqCst)
    }

    /// Each service with its latest outcome and that outcome's details (the outcome's own
    /// `details` are empty: see [`Slot::details`]); `None` until its first check has ended.
    pub fn results(
        &self,
    ) -> impl Iterator<
        Item = (
            &ServiceConfig,
            Option<(&Outcome, &crate::snapshot::Details)>,
        ),
    > {
        self.services
            .iter()
            .zip(&self.slots)
            .map(|(s, slot)| (s, slot.last.as_ref().map(|o| (o, &slot.details))))
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        for scheduler in &self.schedulers {
            scheduler.abort();
        }
    }
}

/// One check of one service, bounded by its timeout. The kept connection goes in and, when it
/// can be used again, comes back out; a timed-out probe drops it.
async fn probe(
    client: &client::Client,
    service: &ServiceConfig,
    mut conn: Option<client::Conn>,
) -> (Outcome, Option<client::Conn>) {
    let check = async {
        match &service.check {
            Check::Http {
                url,
                expect_status,
                expect_text,
                expect_json,
                on_mismatch,
                cert_warn,
            } => {
                let want = http::Want {
                    expect_status,
                    expect_text: expect_text.as_deref(),
                    expect_json,
                    on_mismatch: *on_mismatch,
                    cert_warn: *cert_warn,
                };
                http::check(client, &mut conn, url, &want, service.degraded_after).await
            }
            Check::Tcp { address } => tcp::check(address, service.degraded_after).await,
            Check::Systemd { unit } => systemd::check(unit).await,
            Check::Feed { url } => {
                feed::check(client, &mut conn, url, service.degraded_after).await
            }
            Check::Tls {
                address,
                server_name,
                cert_warn,
            } => {
                tls::check(
                    address,
                    server_name.as_deref(),
                    *cert_warn,
                    service.degraded_after,
                )
                .await
            }
            Check::Dns {
                query,
                record,
                resolver,
                expect,
            } => {
                dns::check(
                    query,
                    *record,
                    *resolver,
                    expect,
                    service.timeout,
                    service.degraded_after,
                )
                .await
            }
            Check::Ping { host } => ping::check(host, service.degraded_after).await,
            Check::Heartbeat {
                period,
                grace,
                path,
                ..
            } => heartbeat::check(&service.slug, *period, *grace, path.as_deref()).await,
        }
    };
    let (mut outcome, conn) = match tokio::time::timeout(service.timeout, check).await {
        Ok(outcome) => (outcome, conn),
        Err(_) => (
            Outcome::down(format!(
                "timed out after {}",
                humantime::format_duration(service.timeout)
            )),
            None,
        ),
    };
    if outcome.error.as_deref().is_some_and(out_of_descriptors) {
        outcome.status = Status::Unknown;
        outcome.latency = None;
        outcome.error = outcome.error.map(|e| {
            format!("not checked: the process has no file descriptor free ({e}); checked again next cycle")
        });
    }
    outcome.error = outcome.error.map(|e| shown_error(&e));
    (outcome, conn)
}

/// Whether an error says the process (EMFILE) or the system (ENFILE) ran out of descriptors:
/// then nothing was learnt about the service. Matched on the words every kind's error carries
/// (`std::io::Error`'s display), so no kind needs to know about it.
fn out_of_descriptors(error: &str) -> bool {
    error.contains("os error 24") || error.contains("os error 23")
}

/// An error as the page, the feed and the log may show it: URLs redacted, then clipped.
fn shown_error(error: &str) -> String {
    clip(&redact::text(error), MAX_ERROR_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's details are held once: moved out of the outcome into the slot, and the same
    /// facts a check later are the same allocation, which every snapshot alive shares; other
    /// facts are a new one, and an older snapshot keeps its own.
    #[test]
    fn a_services_details_are_held_once_and_shared_from_check_to_check_while_the_same() {
        let config = crate::config::Config::parse(
            "[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"http://127.0.0.1:9/\"\n",
            std::path::Path::new("cortex-status.toml"),
            &Default::default(),
        )
        .unwrap();
        let mut prober = Prober::with_budget(config.services.clone(), 1, 1);
        let outcome = |version: &str| Outcome {
            details: serde_json::json!({"version": version, "tasks": 3})
                .as_object()
                .cloned()
                .unwrap(),
            ..Outcome::new(Status::Up, None, None)
        };
        let latest = |prober: &Prober| {
            let (_, last) = prober.results().next().unwrap();
            let (o, details) = last.unwrap();
            assert!(o.details.is_empty(), "the outcome holds a copy");
            crate::snapshot::Details::clone(details)
        };
        prober.store((0, outcome("1.2"), None));
        let first = latest(&prober);
        prober.store((0, outcome("1.2"), None));
        let second = latest(&prober);
        assert!(Arc::ptr_eq(&first, &second));
        prober.store((0, outcome("1.3"), None));
        let third = latest(&prober);
        assert!(!Arc::ptr_eq(&second, &third));
        assert_eq!(second["version"], "1.2");
        assert_eq!(third["version"], "1.3");
    }

    #[test]
    fn probes_start_in_groups_spread_evenly_over_the_first_half_of_the_interval() {
        let interval = Duration::from_secs(1);
        for n in [1, 3, GROUP, GROUP + 1, 10, 100, 1_000, 5_001] {
            let moments: Vec<Duration> = (0..n).map(|i| Prober::offset(i, n, interval)).collect();
            // In service order, never backwards, and all within the spread.
            assert!(moments.windows(2).all(|w| w[0] <= w[1]), "n={n}");
            assert!(
                moments.iter().all(|m| *m < interval.mul_f64(SPREAD)),
                "n={n}"
            );
            assert_eq!(moments[0], Duration::ZERO);
            // One moment (one timer) per group of GROUP, not per service.
            let mut distinct = moments.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), n.div_ceil(GROUP), "n={n}");
            for (g, chunk) in moments.chunks(GROUP).enumerate() {
                assert!(chunk.iter().all(|m| *m == chunk[0]), "n={n} group {g}");
            }
            // Evenly: the gaps between groups differ by at most a nanosecond of rounding.
            let gaps: Vec<u128> = distinct
                .windows(2)
                .map(|w| (w[1] - w[0]).as_nanos())
                .collect();
            if let (Some(lo), Some(hi)) = (gaps.iter().min(), gaps.iter().max()) {
                assert!(hi - lo <= 1, "n={n}: {lo}..{hi}");
            }
        }
    }

    #[test]
    fn errors_leave_probe_redacted_and_bounded() {
        let e = shown_error(&format!(
            "HTTP 500 see http://admin:pw@db.local/x?token=abc {}",
            "x".repeat(100_000)
        ));
        assert!(!e.contains("pw") && !e.contains("token=abc"), "{e}");
        assert!(e.starts_with("HTTP 500 see http://db.local/x?…"), "{e}");
        assert_eq!(e.chars().count(), MAX_ERROR_CHARS);
    }

    #[test]
    fn slow_up_is_degraded_and_says_why() {
        let limit = Some(Duration::from_secs(1));
        let (s, e) = degrade_if_slow(Status::Up, None, Duration::from_millis(1500), limit);
        assert_eq!(s, Status::Degraded);
        assert_eq!(e.unwrap(), "slow: answered in 1500 ms, degraded after 1s");
        let (s, e) = degrade_if_slow(Status::Up, None, Duration::from_millis(999), limit);
        assert_eq!((s, e), (Status::Up, None));
        // Down stays down, whatever its speed.
        let (s, _) = degrade_if_slow(
            Status::Down,
            Some("x".into()),
            Duration::from_secs(9),
            limit,
        );
        assert_eq!(s, Status::Down);
        let (s, _) = degrade_if_slow(Status::Up, None, Duration::from_secs(9), None);
        assert_eq!(s, Status::Up);
    }
}
