//! The alert stage: after each cycle's snapshot, decide per alert and service whether a
//! message is due ([`policy`]), and hand it to that alert's delivery task ([`deliver`]) without
//! waiting. It owns the alert state ([`state`], in `state_dir`) and the channels ([`channel`],
//! one file each); [`message`] says what every message says.
//!
//! It must cost nothing when nothing changes: one pass over (alert × service) with a few
//! comparisons, no allocation, no write (`scripts/bench-alerts` measures it). It never sends
//! from the cycle, never waits for a channel, and reads no clock of its own.

pub mod channel;
pub mod deliver;
pub mod message;
pub mod policy;
pub mod state;

use crate::config::{AlertConfig, Config};
use crate::snapshot::Service;
use chrono::{DateTime, Utc};
use deliver::Outbox;
use message::Event;
use policy::{Policy, Seen, Track};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One alert at run time: its config, policy, the services it watches and their tracks.
struct Running {
    config: Arc<AlertConfig>,
    policy: Policy,
    /// (index in `config.services`, slug, track), in config order.
    tracks: Vec<(usize, String, Track)>,
    outbox: Outbox,
}

pub struct Alerts {
    alerts: Vec<Running>,
    state_dir: PathBuf,
    page_url: Option<String>,
    /// Something changed since the state was last written.
    dirty: bool,
    /// Sequence of the state handed to the writer; the writer skips a stale one.
    seq: u64,
    written: Arc<Mutex<(u64, Option<String>)>>,
    /// Why the state file on disk was not used at start; shown until the state is saved.
    load_problem: Option<String>,
    ctx: channel::Ctx,
}

impl Alerts {
    /// Loads the state and starts one delivery task per alert. Must run on the runtime.
    pub fn start(config: &Config) -> Alerts {
        let (saved, load_problem) = if config.alerts.is_empty() {
            (state::Tracks::new(), None)
        } else {
            state::load(&config.state_dir, limit(config))
        };
        if let Some(p) = &load_problem {
            tracing::error!("{p}");
        }
        let ctx = channel::Ctx::new(config);
        let mut alerts = Alerts {
            alerts: Vec::new(),
            state_dir: config.state_dir.clone(),
            page_url: None,
            dirty: false,
            seq: 0,
            written: Arc::default(),
            load_problem,
            ctx,
        };
        alerts.build(config, saved);
        alerts
    }

    /// Takes a new config: alerts and services still configured keep their tracks.
    pub fn reconfigure(&mut self, config: &Config) {
        // Alerts added to a config that had none: what an earlier run saved still counts.
        let saved = if self.alerts.is_empty() && !config.alerts.is_empty() {
            let (saved, problem) = state::load(&config.state_dir, limit(config));
            self.load_problem = problem;
            saved
        } else {
            self.tracks()
        };
        self.ctx.secrets = Arc::new(
            config
                .secrets
                .values()
                .into_iter()
                .map(String::from)
                .collect(),
        );
        self.build(config, saved);
        self.dirty = true;
    }

    fn build(&mut self, config: &Config, mut saved: state::Tracks) {
        self.page_url = config.public_url.as_ref().map(|u| u.to_string());
        self.alerts = config
            .alerts
            .iter()
            .map(|a| {
                let mut old = saved.remove(&a.name).unwrap_or_default();
                // With `[host] warn`/`critical` the snapshot's services start with the `host`
                // entry (see `sense::thresholds`), so it is watched like a service and the
                // configured ones come one place later.
                let host = config.host.warn.is_some() || config.host.critical.is_some();
                let host_slug = crate::snapshot::HOST_SLUG;
                let host_track = (host && a.covers(host_slug)).then(|| {
                    let track = old.remove(host_slug).unwrap_or_default();
                    (0, host_slug.to_string(), track)
                });
                let shift = usize::from(host);
                let tracks = host_track
                    .into_iter()
                    .chain(
                        config
                            .services
                            .iter()
                            .enumerate()
                            .filter(|(_, s)| a.covers(&s.slug))
                            .map(|(i, s)| {
                                let track = old.remove(&s.slug).unwrap_or_default();
                                (i + shift, s.slug.clone(), track)
                            }),
                    )
                    .collect();
                let config = Arc::new(a.clone());
                Running {
                    policy: Policy::of(a),
                    outbox: Outbox::start(Arc::clone(&config), self.ctx.clone()),
                    config,
                    tracks,
                }
            })
            .collect();
    }

    /// Takes this cycle's services (in config order, maintenance applied) and queues what is
    /// due. The only work when nothing changed: a comparison or two per alert and service.
    pub fn observe(&mut self, services: &[Service], now: DateTime<Utc>) {
        for a in &mut self.alerts {
            for (index, slug, track) in &mut a.tracks {
                // The index is where the service should be; its slug is checked, and looked
                // for if the list was laid out otherwise.
                let Some(svc) = services
                    .get(*index)
                    .filter(|s| s.slug == *slug)
                    .or_else(|| services.iter().find(|s| s.slug == *slug))
                else {
                    continue;
                };
                let seen = a.policy.seen(svc.status);
                // Maintenance (and a first check still running) silences, reminders included.
                if seen == Seen::Silent {
                    continue;
                }
                if svc.checked_at.is_some() && track.seen_at == svc.checked_at {
                    continue;
                }
                track.seen_at = svc.checked_at;
                let at = svc.checked_at.unwrap_or(now);
                let error = if seen == Seen::Up {
                    None
                } else {
                    svc.error.as_deref()
                };
                let Some(due) = track.observe(&a.policy, seen, error, at, &mut self.dirty) else {
                    continue;
                };
                let event = Event::new(
                    &a.config.name,
                    due.change,
                    &svc.name,
                    slug,
                    svc.status.as_str(),
                    due.since,
                    at,
                    due.error,
                    self.page_url.clone(),
                    due.held,
                    due.held_count,
                );
                a.outbox.push(event);
            }
        }
        if self.dirty {
            self.save_in_background();
        }
    }

    /// Every track by alert and slug, as the state file holds them.
    fn tracks(&self) -> state::Tracks {
        self.alerts
            .iter()
            .map(|a| {
                let t = a
                    .tracks
                    .iter()
                    .map(|(_, slug, t)| (slug.clone(), t.clone()))
                    .collect();
                (a.config.name.clone(), t)
            })
            .collect()
    }

    /// Writes the state on the blocking pool; a newer write that finished first wins.
    fn save_in_background(&mut self) {
        self.dirty = false;
        self.seq += 1;
        let (seq, bytes, dir) = (
            self.seq,
            state::encode(&self.tracks()),
            self.state_dir.clone(),
        );
        let written = Arc::clone(&self.written);
        tokio::task::spawn_blocking(move || {
            let mut w = written.lock().unwrap_or_else(|p| p.into_inner());
            if w.0 < seq {
                w.1 = state::write(&dir, &bytes).err();
                w.0 = seq;
            }
        });
        self.load_problem = None;
    }

    /// Writes the state now if it changed; at shutdown.
    pub fn flush(&mut self) {
        if !self.dirty || self.alerts.is_empty() {
            return;
        }
        self.dirty = false;
        self.seq += 1;
        let mut w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = state::write(&self.state_dir, &state::encode(&self.tracks())) {
            tracing::error!("{e}");
        }
        w.0 = self.seq;
    }

    /// For `errors`: each failing channel, a state file that could not be read or written.
    pub fn problems(&self) -> Vec<String> {
        self.problems_of(&self.failing())
    }

    /// [`Alerts::problems`] with the failing channels already read by [`Alerts::failing`].
    pub fn problems_of(&self, failing: &[(String, String)]) -> Vec<String> {
        let mut out: Vec<String> = failing
            .iter()
            .map(|(name, e)| format!("alerts to `{name}` are failing: {e}"))
            .collect();
        out.extend(self.load_problem.clone());
        let w = self.written.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(w.1.clone());
        out
    }

    /// Each alert whose last message finally failed, with why (for `/api/health`).
    pub fn failing(&self) -> Vec<(String, String)> {
        self.alerts
            .iter()
            .filter_map(|a| Some((a.config.name.clone(), a.outbox.problem()?)))
            .collect()
    }
}

/// The load bound of the state file for this config's alerts and services.
fn limit(config: &Config) -> u64 {
    let names = config
        .alerts
        .iter()
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0)
        + config
            .services
            .iter()
            .map(|s| s.slug.len())
            .max()
            .unwrap_or(0);
    // One more track per alert for the `host` entry of `[host] warn`/`critical`.
    state::limit(config.alerts.len(), config.services.len() + 1, names)
}

/// `cortex-status alert test [NAME]`: one test message through each alert (or the one named),
/// one attempt each, and each outcome. `Err` when `name` names no alert.
pub async fn test(
    config: &Config,
    name: Option<&str>,
) -> Result<Vec<(String, Result<(), String>)>, String> {
    let chosen: Vec<&AlertConfig> = config
        .alerts
        .iter()
        .filter(|a| name.is_none_or(|n| a.name == n))
        .collect();
    if chosen.is_empty() {
        return Err(match name {
            Some(n) => format!(
                "no alert is named {n:?}; the alerts are: {}",
                config
                    .alerts
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{} has no [[alert]]", config.source()),
        });
    }
    let ctx = channel::Ctx::new(config);
    let page = config.public_url.as_ref().map(|u| u.to_string());
    let mut out = Vec::new();
    for a in chosen {
        let event = Event::test(&a.name, page.clone());
        out.push((a.name.clone(), channel::send(a, &event, &ctx).await));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Status;

    fn config(alerts: usize, services: usize, state: &std::path::Path) -> Config {
        let mut text = format!("state_dir = \"{}\"\n", state.display());
        for i in 0..services {
            text.push_str(&format!(
                "[[service]]\nname = \"svc {i}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n"
            ));
        }
        for i in 0..alerts {
            text.push_str(&format!(
                "[[alert]]\nname = \"a{i}\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\n"
            ));
        }
        Config::parse(
            &text,
            std::path::Path::new("bench.toml"),
            &Default::default(),
        )
        .unwrap()
    }

    fn services(config: &Config, status: Status, at: DateTime<Utc>) -> Vec<Service> {
        config
            .services
            .iter()
            .map(|s| {
                let mut v = Service::new(
                    s.name.clone(),
                    s.slug.clone(),
                    s.kind(),
                    s.group.clone(),
                    status,
                );
                v.checked_at = Some(at);
                v
            })
            .collect()
    }

    /// With host thresholds the snapshot starts with the `host` entry: it is watched like a
    /// service (a full disk is an alert), and the configured services still match their tracks.
    #[tokio::test]
    async fn the_host_entry_of_thresholds_is_watched_and_the_services_keep_their_tracks() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(1, 2, dir.path());
        config.host.warn = Some(Default::default());
        let mut alerts = Alerts::start(&config);
        let t0 = Utc::now();
        for i in 0..3 {
            let at = t0 + chrono::Duration::seconds(i);
            let mut list = services(&config, Status::Up, at);
            let mut host = list[0].clone();
            host.slug = crate::snapshot::HOST_SLUG.into();
            host.name = "Host".into();
            host.status = Status::Down;
            host.error = Some("disk /data 96 % full".into());
            list.insert(0, host);
            // The second service goes down too: found at its shifted place.
            list[2].status = Status::Down;
            alerts.observe(&list, at);
        }
        let tracks = alerts.tracks();
        let a0 = &tracks["a0"];
        assert!(a0["host"].open.is_some(), "{:?}", a0.keys());
        assert!(a0["svc-1"].open.is_some());
        assert!(a0["svc-0"].open.is_none());
    }

    /// The cost per cycle when nothing changes (every service up, counts saturated), with
    /// 3 alerts over 10 and over 1000 services. Run:
    /// `cargo test --release --lib alert::tests::steady_cost -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore]
    async fn steady_cost() {
        for n in [10, 1000] {
            let dir = tempfile::tempdir().unwrap();
            let config = config(3, n, dir.path());
            let mut alerts = Alerts::start(&config);
            let t0 = Utc::now();
            // Saturate the counts.
            for i in 0..5 {
                alerts.observe(
                    &services(&config, Status::Up, t0 + chrono::Duration::seconds(i)),
                    t0,
                );
            }
            let cycles = 2000;
            let mut snaps: Vec<Vec<Service>> = (0..cycles)
                .map(|i| services(&config, Status::Up, t0 + chrono::Duration::seconds(10 + i)))
                .collect();
            let start = std::time::Instant::now();
            for s in &mut snaps {
                alerts.observe(s, t0);
                std::hint::black_box(alerts.problems());
            }
            let per = start.elapsed() / cycles as u32;
            assert!(!alerts.dirty);
            println!("3 alerts x {n} services, nothing changes: {per:?} per cycle");
        }
    }
}
