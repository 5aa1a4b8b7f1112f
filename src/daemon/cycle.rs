//! One cycle of the generator: probe the services, sample the host, make the snapshot, render
//! it, publish it.
//!
//! The generator owns everything that lives from cycle to cycle: the prober (with its keep-alive
//! connections and in-flight probes), the host sampler, the compiled templates, the history. The
//! loop that calls it, and when, is `daemon`'s business.

use crate::alert::Alerts;
use crate::config::Config;
use crate::daemon::backlog::{self, Backlog, Job};
use crate::history::History;
use crate::output::site::{Site, SiteInfo};
use crate::publish::Publisher;
use crate::publish::hook::Hook;
use crate::sense::host::HostSampler;
use crate::sense::incidents::Written;
use crate::sense::probe::{Outcome, Prober};
use crate::snapshot::{
    Details, Host, Incident, MaintenanceWindow, SCHEMA, Service, Snapshot, Status, WrittenIncident,
    millis,
};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::time::Instant;

/// What a cycle produced: the snapshot as published, and whether every output was written.
pub struct CycleReport {
    /// Shared with the generator, which keeps it for a re-render: a copy of thousands of
    /// services each cycle was measurable in both CPU and peak memory.
    pub snapshot: Arc<Snapshot>,
    /// False when a page failed to render or a file failed to write (the old file stays).
    pub published: bool,
    /// The first reason `published` is false, for `/api/health`.
    pub failure: Option<String>,
}

pub struct Generator {
    config: Arc<Config>,
    prober: Prober,
    host: Option<HostSampler>,
    /// The last templates that compiled; `None` only if they never have.
    site: Option<Arc<Site>>,
    /// Why the templates on disk are not the ones in use (file:line each); empty when they are.
    template_problems: Vec<String>,
    /// Why the config file on disk is not the one in use; `None` when it is.
    config_problem: Option<String>,
    site_info: SiteInfo,
    /// The last snapshot and how many of its errors came from before rendering: what a
    /// re-render after a template edit starts from.
    last: Option<(Arc<Snapshot>, usize)>,
    assets_published: bool,
    /// This cycle's problems as last logged: a problem that persists is logged once, not every
    /// cycle (it stays in `errors` and on the page meanwhile).
    logged_errors: Vec<String>,
    /// `None` only while a cycle's blocking task or a save has it.
    history: Option<History>,
    /// A save running beside the loop, not inside a cycle (or the first load, beside the
    /// first probes): it hands the history back when done, and the next cycle (or the stop)
    /// waits for that before touching the history.
    saving: Option<tokio::task::JoinHandle<History>>,
    /// Journal lines being appended beside the loop while the history stays with the cycles
    /// (`History::take_append`): the next cycle does not wait for their fsync.
    appending: Option<tokio::task::JoinHandle<crate::history::Appended>>,
    /// The services changed while a save had the history: forget the removed ones when it
    /// comes back.
    retain_due: bool,
    /// The `on_publish` command, run after each publish; its failure goes into `errors`.
    hook: Option<Hook>,
    /// Finds steps of the wall clock between cycles, for the history to report.
    clock: crate::history::ClockWatch,
    /// The fingerprints of what was published and the gzip compressor, shared with the
    /// blocking task that writes each cycle.
    publisher: Arc<Publisher>,
    /// The alert stage; `None` for a one-shot `build`, which must not page anyone (and would
    /// exit before a message went out).
    alerts: Option<Alerts>,
    /// Where the daemon's `/api/health` reads the failing alert channels. Set in the same step
    /// as this cycle's `errors`, so health never says less than the feed already published.
    alerts_health: Option<Arc<crate::serve::Health>>,
    /// The incident files as last read (at start, on an edit in `incidents_dir`, on SIGHUP).
    written: Arc<Written>,
    /// What the incident pages and the services' feeds were last rendered from (see
    /// `output::site::incidents::key`): they are rendered again only when it changes.
    pages_key: Option<String>,
    /// The files per service (pages, badges, feeds), written beside the loop.
    backlog: Backlog,
    /// What the outputs keep from cycle to cycle: the settled parts of `status.json` (each
    /// service's past days and quarter hours; `output::Kept`).
    kept: Arc<crate::output::Kept>,
    /// A one-shot `build`: each cycle waits for all its files, so the hook and the exit status
    /// see them.
    one_shot: bool,
}

impl Generator {
    /// Must be called on the runtime: the history loads on its blocking pool.
    pub fn new(config: Arc<Config>) -> Generator {
        // Template problems are reported by the first cycle, in `errors` and the log.
        let (site, template_problems) = match Site::load(&config) {
            Ok(site) => (Some(Arc::new(site)), Vec::new()),
            Err(problems) => (None, problems),
        };
        if let Some(problem) = crate::serve::heartbeat::configure(&config) {
            tracing::warn!("{problem}");
        }
        Generator {
            prober: Prober::new(config.services.clone()),
            host: HostSampler::new(config.host.clone())
                .inspect_err(|e| tracing::warn!("host figures are not available: {e}"))
                .ok(),
            site,
            template_problems,
            config_problem: None,
            site_info: SiteInfo::new(&config),
            last: None,
            assets_published: false,
            logged_errors: Vec::new(),
            // Read beside the first probes, not before them: at 5,000 services with a year
            // of history the file takes 0.7 s to load, and the first cycle only needs it once
            // its probes are done (`history_back` waits for it there).
            history: None,
            saving: Some(load_aside(&config)),
            appending: None,
            retain_due: false,
            hook: Hook::from_config(&config),
            clock: Default::default(),
            publisher: Arc::default(),
            alerts: None,
            alerts_health: None,
            written: Arc::new(load_written(&config)),
            pages_key: None,
            backlog: Backlog::default(),
            kept: Arc::default(),
            one_shot: false,
            config,
        }
    }

    /// Starts alerting (the daemon does; `build` does not), with failing channels reported to
    /// `health` as well as in `errors`. Must run on the runtime.
    pub fn start_alerts(&mut self, health: Arc<crate::serve::Health>) {
        self.alerts = Some(Alerts::start(&self.config));
        self.alerts_health = Some(health);
    }

    /// Runs one cycle; probes still running at `deadline` are left to finish in the background.
    /// When `stop` resolves first (the daemon is shutting down), the probes are not waited for
    /// either: the cycle publishes what it has, and the probes are dropped with the prober.
    ///
    /// The probes run on the async thread; then one blocking task samples the host, assembles
    /// the snapshot, renders and publishes it. One hand-off to the blocking pool per cycle, not
    /// one per step: each hand-off is two thread wake-ups, and the budget is 1 ms a cycle.
    pub async fn cycle(
        &mut self,
        deadline: Instant,
        stop: impl std::future::Future<Output = ()>,
    ) -> CycleReport {
        // Cancelling the wait is safe: a probe's slot stays marked in flight until its result
        // comes through the prober's channel.
        tokio::select! {
            () = self.prober.cycle(deadline) => {}
            () = stop => {}
        }
        // Usually ended long ago: a save is a small append, and a cycle is an interval apart.
        self.history_back().await;
        let now = Utc::now();
        let mut services = self.services(now);
        // Deliveries that keep failing, for this cycle's `errors`; the statuses themselves are
        // given to the alerts once the snapshot is made (below), host entry included.
        let alert_problems = match self.alerts.as_ref() {
            Some(alerts) => {
                // Read once for both, so `/api/health` agrees with the `errors` about to be
                // published (a script may read one right after seeing the other).
                let failing = alerts.failing();
                let problems = alerts.problems_of(&failing);
                if let Some(health) = &self.alerts_health {
                    health.set_alerts_failing(failing);
                }
                problems
            }
            None => Vec::new(),
        };
        let maintenance = self.maintenance(now);
        let mut history = self
            .history
            .take()
            .unwrap_or_else(|| load_history(&self.config));
        self.clock.check(&mut history, now);
        let sampler = self.host.take();
        let site = self.site.clone();
        let template_problems = self.template_problems.clone();
        let config_problem = self.config_problem.clone();
        let site_info = self.site_info.clone();
        let out_dir = self.config.out_dir.clone();
        let interval = self.config.interval;
        let with_assets = !self.assets_published;
        let hook_failure = self.hook.as_ref().and_then(Hook::failure);
        let publisher = Arc::clone(&self.publisher);
        let written = Arc::clone(&self.written);
        let pages_key = self.pages_key.clone();
        let kept = Arc::clone(&self.kept);
        // What the last job of per-service files could not write, in this snapshot's errors.
        self.backlog.collect(std::time::Duration::ZERO).await;
        let backlog_failures = self.backlog.take_failures();
        let host_config = self.config.host.clone();
        // The last snapshot serves a re-render between cycles, never during one: let it go
        // now rather than when the new one replaces it, so its services (and the series no
        // longer shared with the history) are freed before the new ones and the page's
        // context are made, not after (unless the per-service files' job still holds it). At
        // 5,000 services that is up to 17 MB off the cycle's peak. A cycle that fails leaves no
        // last snapshot: a template edit then waits for the next cycle.
        self.last = None;
        let task = tokio::task::spawn_blocking(move || {
            let (sampler, host, mut errors) = match sampler {
                Some(mut s) => {
                    let (host, errors) = s.sample();
                    (Some(s), host, errors)
                }
                None => (
                    None,
                    Host::default(),
                    vec!["host figures are not available on this system".into()],
                ),
            };
            // The host entry goes first and counts like a service (history, overall).
            if let Some(entry) = host_entry(&host_config, &host, now) {
                services.insert(0, entry);
            }
            // Saved beside the loop once the cycle is done (`save_aside`), not here.
            let incidents = history.observe(&mut services, now);
            errors.extend(history.errors(now));
            errors.extend(hook_failure);
            errors.extend(alert_problems);
            let before_render = errors.len();
            errors.extend(config_problem);
            errors.extend(backlog_failures);
            let mut snapshot = Snapshot {
                schema: SCHEMA,
                generated_at: Utc::now(),
                interval_seconds: interval,
                overall: Status::Up,
                host,
                services,
                incidents,
                maintenance,
                incidents_open: Vec::new(),
                incidents_recent: Vec::new(),
                errors,
            };
            apply_written(&mut snapshot, &written);
            let mut pages_key = pages_key;
            let failure = write_outputs(
                &publisher,
                &out_dir,
                site.as_deref(),
                &template_problems,
                &site_info,
                Extras {
                    assets: with_assets,
                    written: &written.incidents,
                    generation: written.generation,
                    automatic: &|s: &Snapshot| history.all_incidents(&s.services, s.generated_at),
                    pages_key: &mut pages_key,
                    kept: &kept,
                },
                &mut snapshot,
            );
            (
                sampler,
                history,
                snapshot,
                before_render,
                failure,
                pages_key,
            )
        });
        match task.await {
            Ok((sampler, history, snapshot, before_render, failure, pages_key)) => {
                let published = failure.is_none();
                // Alerts see the statuses as published, maintenance applied and the host entry
                // in; they queue and return.
                if let Some(a) = self.alerts.as_mut() {
                    a.observe(&snapshot.services, now);
                }
                self.pages_key = pages_key;
                self.host = sampler;
                self.save_aside(history).await;
                let snapshot = Arc::new(snapshot);
                self.last = Some((Arc::clone(&snapshot), before_render));
                self.assets_published |= published;
                if with_assets {
                    self.backlog.afresh();
                }
                let failure = self.per_service(&snapshot, failure).await;
                self.log_errors(&snapshot.errors);
                if let Some(hook) = &mut self.hook {
                    hook.trigger();
                }
                CycleReport {
                    published: failure.is_none(),
                    snapshot,
                    failure,
                }
            }
            Err(e) => {
                // Only a panic (in sysinfo or tera) gets here. Start a fresh sampler, read the
                // history back from its file (losing at most what was not saved yet), and report
                // the cycle as failed; the loop goes on and the last good files stay.
                tracing::error!("the cycle failed: {e}");
                self.host = HostSampler::new(self.config.host.clone()).ok();
                self.history = Some(load_history(&self.config));
                CycleReport {
                    snapshot: Arc::new(Snapshot {
                        schema: SCHEMA,
                        generated_at: Utc::now(),
                        interval_seconds: interval,
                        overall: Status::Unknown,
                        host: Host::default(),
                        services: Vec::new(),
                        incidents: Vec::new(),
                        maintenance: Vec::new(),
                        incidents_open: Vec::new(),
                        incidents_recent: Vec::new(),
                        errors: vec![format!("the cycle failed: {e}")],
                    }),
                    published: false,
                    failure: Some(format!("the cycle failed: {e}")),
                }
            }
        }
    }

    /// Waits for the `on_publish` runs this generator started, and says how the last one
    /// failed, if it did (its stderr is in the log). For `build`, whose exit status says it.
    pub async fn settle_hook(&mut self) -> Option<String> {
        Some(self.hook.as_mut()?.settle().await?.what)
    }

    /// Compiles the templates again after an edit. A broken edit keeps the last good templates
    /// in use; its problems go into `errors` (and the log) from the next publish on.
    pub fn reload_templates(&mut self) {
        match Site::load(&self.config) {
            Ok(site) => {
                tracing::info!("templates reloaded");
                self.site = Some(Arc::new(site));
                self.template_problems.clear();
            }
            Err(problems) => self.template_problems = problems,
        }
        // Assets may have changed too.
        self.assets_published = false;
    }

    /// Reads `incidents_dir` again after an edit there (or a SIGHUP). A file that no longer
    /// parses is reported (in `errors` and the log, from the next publish on) and left out; the
    /// others publish.
    pub fn reload_incidents(&mut self) {
        let written = load_written(&self.config);
        tracing::info!(
            "incidents reloaded: {} open, {} in all, {} problem(s)",
            written
                .incidents
                .iter()
                .filter(|i| i.resolved.is_none())
                .count(),
            written.incidents.len(),
            written.problems.len()
        );
        self.written = Arc::new(written);
    }

    /// Takes a new configuration: services, host figures, maintenance, titles, templates. The
    /// probes start afresh; the history keeps every service still configured.
    pub fn reconfigure(&mut self, config: Arc<Config>) {
        if let Some(problem) = crate::serve::heartbeat::configure(&config) {
            tracing::warn!("{problem}");
        }
        self.prober = Prober::new(config.services.clone());
        self.host = HostSampler::new(config.host.clone())
            .inspect_err(|e| tracing::warn!("host figures are not available: {e}"))
            .ok();
        self.site_info = SiteInfo::new(&config);
        match self.history.as_mut() {
            Some(h) => h.retain(&config.services),
            None => self.retain_due = true,
        }
        crate::publish::hook::reconfigure(&mut self.hook, &config);
        if let Some(a) = self.alerts.as_mut() {
            a.reconfigure(&config);
        }
        self.config = config;
        self.config_problem = None;
        self.reload_templates();
        // The slugs they name, their URLs and the directory may have changed.
        self.reload_incidents();
    }

    /// Notes that the config file on disk could not be used; the running config stays.
    pub fn config_rejected(&mut self, problem: String) {
        self.config_problem = Some(format!("{problem}; the last good config stays in use"));
    }

    /// Renders and publishes the last snapshot again, with the current templates and problems:
    /// a template edit goes live without waiting for (or running) a probe.
    pub async fn republish(&mut self) {
        let Some((last, before_render)) = self.last.as_ref() else {
            return;
        };
        let (mut snapshot, before_render) = (Snapshot::clone(last), *before_render);
        snapshot.errors.truncate(before_render);
        snapshot.errors.extend(self.config_problem.clone());
        let written = Arc::clone(&self.written);
        apply_written(&mut snapshot, &written);
        let mut pages_key = self.pages_key.clone();
        let site = self.site.clone();
        let problems = self.template_problems.clone();
        let site_info = self.site_info.clone();
        let out_dir = self.config.out_dir.clone();
        let publisher = Arc::clone(&self.publisher);
        let automatic = self
            .history
            .as_ref()
            .map(|h| h.all_incidents(&snapshot.services, snapshot.generated_at))
            .unwrap_or_else(|| snapshot.incidents.clone());
        let kept = Arc::clone(&self.kept);
        let task = tokio::task::spawn_blocking(move || {
            let published = write_outputs(
                &publisher,
                &out_dir,
                site.as_deref(),
                &problems,
                &site_info,
                Extras {
                    assets: true,
                    written: &written.incidents,
                    generation: written.generation,
                    automatic: &|_: &Snapshot| automatic.clone(),
                    pages_key: &mut pages_key,
                    kept: &kept,
                },
                &mut snapshot,
            )
            .is_none();
            (snapshot, published, pages_key)
        });
        match task.await {
            Ok((snapshot, published, pages_key)) => {
                self.pages_key = pages_key;
                // What a cycle starts from next time: the incidents as now read.
                if let Some((last, _)) = self.last.as_mut() {
                    let last = Arc::make_mut(last);
                    last.incidents_open.clone_from(&snapshot.incidents_open);
                    last.incidents_recent.clone_from(&snapshot.incidents_recent);
                    last.overall = snapshot.overall;
                }
                self.assets_published |= published;
                self.backlog.afresh();
                if let Some((last, _)) = self.last.clone() {
                    self.per_service(&last, None).await;
                }
                self.log_errors(&snapshot.errors);
                if let Some(hook) = &mut self.hook {
                    hook.trigger();
                }
            }
            Err(e) => tracing::error!("re-rendering failed: {e}"),
        }
    }

    /// Starts the job that writes the per-service files of `snapshot` (unless one is running)
    /// and waits for it up to [`backlog::WAIT`]. Returns `failure`, or else the first thing a job
    /// that ended could not write (those also go into the next snapshot's `errors`).
    async fn per_service(
        &mut self,
        snapshot: &Arc<Snapshot>,
        failure: Option<String>,
    ) -> Option<String> {
        self.backlog.start(Job {
            snapshot: Arc::clone(snapshot),
            site: self.site.clone(),
            site_info: self.site_info.clone(),
            out_dir: self.config.out_dir.clone(),
            publisher: Arc::clone(&self.publisher),
            generation: self.written.generation,
        });
        if self.one_shot {
            self.backlog.finish().await;
        } else {
            self.backlog.collect(backlog::WAIT).await;
        }
        failure.or_else(|| self.backlog.failures().first().cloned())
    }

    /// Each cycle waits for all its files (`build`).
    pub fn one_shot(&mut self) {
        self.one_shot = true;
    }

    /// What the per-service files of the last publish could not write (`build`).
    pub fn per_service_failures(&mut self) -> Vec<String> {
        self.backlog.take_failures()
    }

    fn log_errors(&mut self, errors: &[String]) {
        if errors == self.logged_errors.as_slice() {
            return;
        }
        for e in errors.iter().filter(|e| !self.logged_errors.contains(e)) {
            tracing::error!("{e}");
        }
        if errors.is_empty() {
            tracing::info!("the problems of earlier cycles are gone");
        }
        self.logged_errors = errors.to_vec();
    }

    /// Each configured service as the feed shows it, with maintenance windows applied.
    fn services(&mut self, now: DateTime<Utc>) -> Vec<Service> {
        self.prober
            .results()
            .map(|(cfg, outcome)| {
                let mut service = match outcome {
                    Some((o, details)) => service_from(cfg, o, details),
                    None => Service {
                        error: Some("first check still running".into()),
                        ..Service::new(
                            cfg.name.clone(),
                            cfg.slug.clone(),
                            cfg.kind(),
                            cfg.group.clone(),
                            Status::Unknown,
                        )
                    },
                };
                let window = self
                    .config
                    .maintenance
                    .iter()
                    .find(|m| m.start <= now && now < m.end && m.services.contains(&cfg.slug));
                if let Some(m) = window {
                    service.status = Status::Maintenance;
                    service.error = Some(match &m.message {
                        Some(msg) => format!("maintenance: {msg}"),
                        None => "maintenance".into(),
                    });
                }
                service
            })
            .collect()
    }

    /// The maintenance windows still running or to come, soonest first.
    fn maintenance(&self, now: DateTime<Utc>) -> Vec<MaintenanceWindow> {
        let mut windows: Vec<MaintenanceWindow> = self
            .config
            .maintenance
            .iter()
            .filter(|m| m.end > now)
            .map(|m| MaintenanceWindow {
                services: m.services.clone(),
                start: m.start,
                end: m.end,
                message: m.message.clone(),
                active: m.start <= now,
            })
            .collect();
        windows.sort_by_key(|m| (m.start, m.end));
        windows
    }

    /// Starts saving the history beside the loop when a save is due (off the cycle's path: the
    /// fsync waits on the disk, not the cycle); otherwise keeps it. A failure is kept by the
    /// history and comes back from `errors` in the next cycle.
    ///
    /// A save that only appends takes the lines out and leaves the history with the loop
    /// (`History::take_append`): at 5,000 services a save is due every few cycles (past
    /// `history::PENDING_MAX`), and waiting at each cycle's start for its fsync, behind the
    /// per-service files being written, added 100 ms and more to those cycles. An append still
    /// running when the next save is due makes that save wait a cycle (the journal's lines go in
    /// order); a whole-file save waits for it too.
    async fn save_aside(&mut self, mut history: History) {
        if self.appending.as_ref().is_some_and(|t| t.is_finished()) {
            self.appended(&mut history).await;
        }
        if !history.save_due() || self.appending.is_some() {
            self.history = Some(history);
        } else if let Some(append) = history.take_append() {
            self.appending = Some(tokio::task::spawn_blocking(move || append.run()));
            self.history = Some(history);
        } else {
            self.saving = Some(tokio::task::spawn_blocking(move || {
                let _ = history.save();
                history
            }));
        }
    }

    /// Waits for the append running beside the loop, if any, and gives its outcome to the
    /// history.
    async fn appended(&mut self, history: &mut History) {
        if let Some(task) = self.appending.take() {
            let done = task.await.unwrap_or_else(|e| {
                crate::history::Append::lost(format!("the append did not finish: {e}"))
            });
            history.append_done(done);
        }
    }

    /// Takes the history back from a save that ran beside the loop.
    async fn history_back(&mut self) {
        if let Some(task) = self.saving.take() {
            let history = match task.await {
                Ok(history) => history,
                Err(e) => {
                    // Only a panic gets here: read it back, losing at most what was unsaved.
                    tracing::error!("saving the history failed: {e}");
                    load_history(&self.config)
                }
            };
            self.history = Some(history);
        }
        if self.retain_due
            && let Some(h) = self.history.as_mut()
        {
            h.retain(&self.config.services);
            self.retain_due = false;
        }
    }

    /// Saves the history and the alert state if anything is unsaved; called at shutdown and
    /// after `build`.
    pub async fn flush(&mut self) {
        if let Some(a) = self.alerts.as_mut() {
            a.flush();
        }
        self.history_back().await;
        if let Some(mut h) = self.history.take() {
            self.appended(&mut h).await;
            self.history = Some(h);
        }
        if let Some(h) = self.history.as_mut()
            && h.needs_flush()
        {
            // The whole file, with the journal folded in. No cycle comes after this one to log
            // the failure from `errors`.
            if let Err(message) = h.save_whole() {
                tracing::error!("{message}");
            }
        }
    }
}

/// The incident files of this config: each checked against its service slugs, each page URL
/// under `public_url` when it is set.
fn load_written(config: &Config) -> Written {
    let slugs: Vec<String> = config.services.iter().map(|s| s.slug.clone()).collect();
    let base = SiteInfo::new(config).public_url;
    crate::sense::incidents::load(&config.incidents_dir, &slugs, &base)
}

/// Puts the written incidents into a snapshot made without them: the open and recent ones as
/// of its `generated_at`, `overall` raised by the open ones, and each file's problem in
/// `errors` (after those of the cycle, so a re-render can swap them).
fn apply_written(snapshot: &mut Snapshot, written: &Written) {
    let (open, recent) = written.at(snapshot.generated_at);
    snapshot.incidents_open = open;
    snapshot.incidents_recent = recent;
    snapshot.overall = snapshot.overall_with_incidents();
    snapshot.errors.extend(written.problems.iter().cloned());
}

/// [`load_history`] on the blocking pool; must be called on the runtime.
fn load_aside(config: &Arc<Config>) -> tokio::task::JoinHandle<History> {
    let config = Arc::clone(config);
    tokio::task::spawn_blocking(move || load_history(&config))
}

/// The history for this config's services, from `state_dir` (or fresh). A file larger than
/// such a history can be is not read (see `history::load_limit`).
fn load_history(config: &Config) -> History {
    let longest = config.services.iter().map(|s| s.slug.len()).max();
    let limit = crate::history::load_limit(config.services.len(), longest.unwrap_or(0));
    let mut history = History::load_within(&config.state_dir, Utc::now(), limit);
    history.retain(&config.services);
    history
}

/// The `host` entry of `[host] warn` / `critical`, judged from this cycle's figures.
fn host_entry(
    config: &crate::config::HostConfig,
    host: &Host,
    now: DateTime<Utc>,
) -> Option<Service> {
    let (status, error, details) = crate::sense::thresholds::judge(config, host)?;
    Some(Service {
        checked_at: Some(now),
        error,
        details: details.into(),
        ..Service::new(
            "Host",
            crate::snapshot::HOST_SLUG,
            crate::snapshot::Kind::Host,
            None,
            status,
        )
    })
}

/// The service a probe's outcome shows, with its `details` (shared with the prober, which keeps
/// the same ones from check to check while they are equal).
fn service_from(cfg: &crate::config::ServiceConfig, o: &Outcome, details: &Details) -> Service {
    Service {
        latency_ms: o.latency.map(millis),
        checked_at: Some(o.checked_at),
        error: o.error.clone(),
        details: Details::clone(details),
        ..Service::new(
            cfg.name.clone(),
            cfg.slug.clone(),
            cfg.kind(),
            cfg.group.clone(),
            o.status,
        )
    }
}

/// Writes assets (once), every page, the outputs for machines and then `status.json`, each with
/// its gzip sidecar. A page that fails to render keeps its last good file; the failure goes into
/// `errors`. Returns the first problem, or `None` when everything was written.
fn write_outputs(
    publisher: &Publisher,
    out_dir: &std::path::Path,
    site: Option<&Site>,
    template_problems: &[String],
    site_info: &SiteInfo,
    extras: Extras<'_>,
    snapshot: &mut Snapshot,
) -> Option<String> {
    let Extras {
        assets: with_assets,
        written,
        generation,
        automatic,
        pages_key,
        kept,
    } = extras;
    let mut first: Option<String> = None;
    // The incident pages and the services' feeds: only when what they show changed (or
    // everything is being written afresh).
    let key = crate::output::site::incidents::key(snapshot, generation);
    let due = with_assets || pages_key.as_deref() != Some(key.as_str());
    let errors_before = snapshot.errors.len();
    let mut fail = |snapshot: &mut Snapshot, message: String| {
        first.get_or_insert_with(|| message.clone());
        snapshot.errors.push(message);
    };
    // Problems first, so the page rendered below shows them. After a broken edit the last
    // templates that compiled go on rendering; with none yet, the pages on disk stay as they are.
    let stays = if site.is_some() {
        "the last good templates stay in use"
    } else {
        "the last good page stays"
    };
    for p in template_problems {
        fail(snapshot, format!("template: {p}; {stays}"));
    }
    match site {
        None => {}
        Some(site) => {
            if with_assets {
                for (name, bytes) in site.assets() {
                    if let Err(e) = publisher.write_once_with_gz(out_dir, name, bytes) {
                        fail(snapshot, format!("{e:#}"));
                    }
                }
            }
            // Past COMPACT_FROM services the context lists rows, not whole services.
            let made = site.context(snapshot, site_info);
            match made {
                Err(e) => fail(
                    snapshot,
                    format!("template context: {e}; the last good pages stay"),
                ),
                Ok(mut ctx) => {
                    // Written only when their bytes change: the status page changes every cycle,
                    // the form page hardly ever, and an unchanged file is not worth a new inode.
                    for page in site.outputs() {
                        let name = &page.file;
                        let written = match page.failure() {
                            Some(failure) => Err(failure),
                            None => site
                                .render(&page.template, &ctx)
                                .map_err(|e| e.to_string())
                                .and_then(|html| {
                                    publisher
                                        .write_if_changed_with_gz(out_dir, name, html.as_bytes())
                                        .map(drop)
                                        .map_err(|e| format!("{e:#}"))
                                })
                                .map_err(|e| format!("{e}; the last good {name} stays")),
                        };
                        if let Err(e) = written {
                            fail(snapshot, e);
                        }
                    }
                    if due {
                        let automatic = automatic(snapshot);
                        write_incident_pages(
                            publisher, out_dir, site, &mut ctx, snapshot, written, &automatic,
                        )
                        .into_iter()
                        .for_each(|e| fail(snapshot, e));
                    }
                }
            }
        }
    }
    // feed.xml and metrics (the first publish also removes a metrics.gz of an earlier version).
    let before = snapshot.errors.len();
    if !crate::output::write(publisher, out_dir, site_info, snapshot, with_assets) {
        let theirs = snapshot.errors.get(before).cloned();
        first = first
            .or(theirs)
            .or_else(|| Some("an output could not be written".into()));
    }
    let json = kept.status_json.render(snapshot);
    // Written only when its bytes change, like every other output: a re-render of the same
    // snapshot (a template edit) then rewrites no file at all.
    if let Err(e) = publisher
        .write_if_changed_with_gz(out_dir, "status.json", &json)
        .context("status.json")
    {
        let message = format!("{e:#}");
        first.get_or_insert_with(|| message.clone());
        snapshot.errors.push(message);
    }
    // A failure anywhere is tried again next cycle: the key is kept only after a clean write.
    if due && snapshot.errors.len() == errors_before && first.is_none() {
        *pages_key = Some(key);
    }
    first
}

/// What a publish writes besides the pages of every cycle.
struct Extras<'a> {
    /// The assets: on the first publish and after the templates changed. Everything below is
    /// written then too.
    assets: bool,
    /// Every written incident, for their pages and `history.html`.
    written: &'a [WrittenIncident],
    /// Which read of the incident files that is ([`Written::generation`]).
    generation: u64,
    /// The history's whole incident log for `history.html`, asked for only when the pages
    /// are written (the snapshot carries only the newest).
    automatic: &'a dyn Fn(&Snapshot) -> Vec<Incident>,
    /// What the incident pages and the services' feeds were last written from; they are
    /// written when it differs, and it is updated after a clean publish.
    pages_key: &'a mut Option<String>,
    /// What the outputs keep from cycle to cycle.
    kept: &'a crate::output::Kept,
}

/// `history.html` and each `incidents/<slug>.html`, and the pages of incidents whose files are
/// gone removed. Returns what failed; the last good file of each stays.
fn write_incident_pages(
    publisher: &Publisher,
    out_dir: &std::path::Path,
    site: &Site,
    ctx: &mut tera::Context,
    snapshot: &Snapshot,
    written: &[WrittenIncident],
    automatic: &[Incident],
) -> Vec<String> {
    use crate::output::site::incidents;
    let mut failures = Vec::new();
    for (name, html) in incidents::render(site, ctx, snapshot, written, automatic) {
        let done = html.and_then(|html| {
            publisher
                .write_if_changed_with_gz(out_dir, &name, html.as_bytes())
                .map(drop)
                .map_err(|e| format!("{e:#}"))
        });
        if let Err(e) = done {
            failures.push(format!("{e}; the last good {name} stays"));
        }
    }
    let keep = |stem: &str| written.iter().any(|i| i.slug == stem);
    if let Err(e) = incidents::prune(out_dir, "incidents", ".html", keep) {
        failures.push(e);
    }
    failures
}
