//! One cycle of the generator: probe the services, sample the host, make the snapshot, render
//! it, publish it.
//!
//! The generator owns everything that lives from cycle to cycle: the prober (with its keep-alive
//! connections and in-flight probes), the host sampler, the compiled templates, the recent status
//! changes. The loop that calls it, and when, is `daemon`'s business.

use crate::config::Config;
use crate::host::HostSampler;
use crate::probe::{Outcome, Prober};
use crate::publish;
use crate::render::{self, SiteInfo};
use crate::snapshot::{Host, Incident, SCHEMA, Service, Snapshot, Status, Uptime, millis};
use crate::templates::TemplateSet;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tera::Tera;
use tokio::time::Instant;

/// How many status changes the page and feed show.
const RECENT_INCIDENTS: usize = 50;

/// The compiled templates and the assets to copy, shared with the blocking render task.
pub struct Site {
    tera: Tera,
    assets: Vec<(String, Vec<u8>)>,
    /// What templates see in `site` beyond the config: custom pages, the assets' version.
    files: render::SiteFiles,
    /// The pages written every cycle: the built-in ones, then the custom ones.
    outputs: Vec<Output>,
}

/// A page written every cycle.
#[derive(Debug, Clone)]
pub struct Output {
    pub template: String,
    /// Its name in out_dir; empty for a custom page whose name is refused.
    pub file: String,
    /// The template's file, to point a person at.
    pub location: String,
    /// Why it cannot be rendered (`file:line:column: message`).
    pub problem: Option<String>,
}

impl Output {
    /// What goes into `errors` every cycle while the page cannot be rendered.
    pub fn failure(&self) -> Option<String> {
        let problem = self.problem.as_ref()?;
        Some(if self.file.is_empty() {
            format!("template: {problem}")
        } else {
            format!("template: {problem}; the last good {} stays", self.file)
        })
    }
}

impl Site {
    /// Loads and compiles the templates; each problem is one line naming file and line. A
    /// custom page that does not compile is not a failure here: it becomes an [`Output`] with
    /// its problem, so the other pages are still written.
    pub fn load(config: &Config) -> Result<Site, Vec<String>> {
        let to_lines = |ps: Vec<crate::templates::Problem>| {
            ps.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let set = TemplateSet::load(config.templates_dir.as_deref()).map_err(to_lines)?;
        let mut tera = set.compile().map_err(to_lines)?;
        let custom = set.add_custom_pages(&mut tera);
        let assets: Vec<(String, Vec<u8>)> = set
            .assets()
            .map(|s| (s.name.clone(), s.text.clone().into_bytes()))
            .collect();
        let files = render::SiteFiles {
            pages: custom
                .iter()
                .filter(|p| p.problem.is_none())
                .map(|p| render::PageLink {
                    name: p.name.clone(),
                    title: p.title.clone(),
                })
                .collect(),
            assets_version: assets_version(&assets),
        };
        let location = |name: &str| {
            set.sources
                .iter()
                .find(|s| s.name == name)
                .map_or_else(|| name.to_string(), |s| s.location())
        };
        let mut outputs: Vec<Output> = render::PAGES
            .iter()
            .map(|name| Output {
                template: name.to_string(),
                file: name.to_string(),
                location: location(name),
                problem: None,
            })
            .collect();
        outputs.extend(custom.into_iter().map(|p| Output {
            problem: p.problem.map(|e| e.to_string()),
            file: p.file.unwrap_or_default(),
            template: p.template,
            location: p.location,
        }));
        Ok(Site {
            tera,
            assets,
            files,
            outputs,
        })
    }

    pub fn render(&self, name: &str, ctx: &tera::Context) -> Result<String, String> {
        render::page(&self.tera, name, ctx)
    }

    /// The context every page of this site is rendered with.
    pub fn context(&self, snapshot: &Snapshot, info: &SiteInfo) -> tera::Result<tera::Context> {
        render::context(snapshot, info, &self.files)
    }

    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }
}

/// A short hash of every asset's name and bytes (FNV-1a, 64 bits, 8 hex digits shown): stable
/// across builds and platforms, unlike std's hasher, and plenty for telling versions apart.
fn assets_version(assets: &[(String, Vec<u8>)]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in assets {
        for b in name.bytes().chain([0]).chain(bytes.iter().copied()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{:08x}", hash >> 32)
}

/// What a cycle produced: the snapshot as published, and whether every output was written.
pub struct CycleReport {
    pub snapshot: Snapshot,
    /// False when a page failed to render or a file failed to write (the old file stays).
    pub published: bool,
}

pub struct Generator {
    config: Arc<Config>,
    prober: Prober,
    host: Option<HostSampler>,
    site: Result<Arc<Site>, Vec<String>>,
    site_info: SiteInfo,
    assets_published: bool,
    /// This cycle's problems as last logged: a problem that persists is logged once, not every
    /// cycle (it stays in `errors` and on the page meanwhile).
    logged_errors: Vec<String>,
    last_status: HashMap<String, Status>,
    incidents: VecDeque<Incident>,
}

impl Generator {
    pub fn new(config: Arc<Config>) -> Generator {
        // Template problems are reported by the first cycle, in `errors` and the log.
        let site = Site::load(&config).map(Arc::new);
        Generator {
            prober: Prober::new(config.services.clone()),
            host: HostSampler::new(config.host.clone())
                .inspect_err(|e| tracing::warn!("host figures are not available: {e}"))
                .ok(),
            site,
            site_info: SiteInfo::new(&config),
            assets_published: false,
            logged_errors: Vec::new(),
            last_status: HashMap::new(),
            incidents: VecDeque::new(),
            config,
        }
    }

    /// Runs one cycle; probes still running at `deadline` are left to finish in the background.
    ///
    /// The probes run on the async thread; then one blocking task samples the host, assembles
    /// the snapshot, renders and publishes it. One hand-off to the blocking pool per cycle, not
    /// one per step: each hand-off is two thread wake-ups, and the budget is 1 ms a cycle.
    pub async fn cycle(&mut self, deadline: Instant) -> CycleReport {
        self.prober.cycle(deadline).await;
        let now = Utc::now();
        let services = self.services(now);
        self.note_changes(&services, now);
        let incidents: Vec<Incident> = self.incidents.iter().cloned().collect();
        let sampler = self.host.take();
        let site = self.site.clone();
        let site_info = self.site_info.clone();
        let out_dir = self.config.out_dir.clone();
        let interval = self.config.interval;
        let with_assets = !self.assets_published;
        let task = tokio::task::spawn_blocking(move || {
            let (sampler, host, errors) = match sampler {
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
            let mut snapshot = Snapshot {
                schema: SCHEMA,
                generated_at: Utc::now(),
                interval_seconds: interval,
                overall: Snapshot::overall_of(&services),
                host,
                services,
                incidents,
                maintenance: Vec::new(),
                errors,
            };
            let published = write_outputs(&out_dir, site, &site_info, with_assets, &mut snapshot);
            (sampler, snapshot, published)
        });
        match task.await {
            Ok((sampler, snapshot, published)) => {
                self.host = sampler;
                self.assets_published |= published;
                self.log_errors(&snapshot.errors);
                CycleReport {
                    snapshot,
                    published,
                }
            }
            Err(e) => {
                // Only a panic (in sysinfo or tera) gets here. Start a fresh sampler and report
                // the cycle as failed; the loop goes on and the last good files stay.
                tracing::error!("the cycle failed: {e}");
                self.host = HostSampler::new(self.config.host.clone()).ok();
                CycleReport {
                    snapshot: Snapshot {
                        schema: SCHEMA,
                        generated_at: Utc::now(),
                        interval_seconds: interval,
                        overall: Status::Unknown,
                        host: Host::default(),
                        services: Vec::new(),
                        incidents: Vec::new(),
                        maintenance: Vec::new(),
                        errors: vec![format!("the cycle failed: {e}")],
                    },
                    published: false,
                }
            }
        }
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
    fn services(&self, now: DateTime<Utc>) -> Vec<Service> {
        self.prober
            .results()
            .map(|(cfg, outcome)| {
                let mut service = match outcome {
                    Some(o) => service_from(cfg, o),
                    None => Service {
                        name: cfg.name.clone(),
                        slug: cfg.slug.clone(),
                        kind: cfg.kind(),
                        status: Status::Unknown,
                        latency_ms: None,
                        checked_at: None,
                        error: Some("first check still running".into()),
                        uptime: Uptime::default(),
                        details: Default::default(),
                        days: Vec::new(),
                        latency_24h: Vec::new(),
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

    /// Records each service's change of status (after its first real check) as an incident.
    fn note_changes(&mut self, services: &[Service], now: DateTime<Utc>) {
        for s in services {
            if s.checked_at.is_none() {
                continue;
            }
            let previous = self.last_status.insert(s.slug.clone(), s.status);
            match previous {
                Some(from) if from != s.status => {
                    tracing::info!(
                        "{}: {from} → {}{}",
                        s.slug,
                        s.status,
                        s.error
                            .as_deref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                    self.incidents.push_front(Incident {
                        service: s.slug.clone(),
                        from,
                        to: s.status,
                        at: now,
                        error: s.error.clone(),
                        end: None,
                        duration_seconds: 0,
                    });
                    self.incidents.truncate(RECENT_INCIDENTS);
                }
                _ => {}
            }
        }
    }
}

fn service_from(cfg: &crate::config::ServiceConfig, o: &Outcome) -> Service {
    Service {
        name: cfg.name.clone(),
        slug: cfg.slug.clone(),
        kind: cfg.kind(),
        status: o.status,
        latency_ms: o.latency.map(millis),
        checked_at: Some(o.checked_at),
        error: o.error.clone(),
        uptime: Uptime::default(),
        details: o.details.clone(),
        days: Vec::new(),
        latency_24h: Vec::new(),
    }
}

/// Writes assets (once), every page and then `status.json`. A page that fails to render keeps
/// its last good file; the failure goes into `errors`. Returns whether everything was written.
fn write_outputs(
    out_dir: &std::path::Path,
    site: Result<Arc<Site>, Vec<String>>,
    site_info: &SiteInfo,
    with_assets: bool,
    snapshot: &mut Snapshot,
) -> bool {
    let mut ok = true;
    let mut fail = |snapshot: &mut Snapshot, message: String| {
        snapshot.errors.push(message);
        ok = false;
    };
    match site {
        Err(problems) => {
            for p in problems {
                fail(snapshot, format!("template: {p}; the last good page stays"));
            }
        }
        Ok(site) => {
            if with_assets {
                for (name, bytes) in &site.assets {
                    if let Err(e) = publish::write_if_changed(out_dir, name, bytes) {
                        fail(snapshot, format!("{e:#}"));
                    }
                }
            }
            match site.context(snapshot, site_info) {
                Err(e) => fail(snapshot, format!("template context: {e}")),
                Ok(ctx) => {
                    // Written only when their bytes change: the status page changes every cycle,
                    // the form page hardly ever, and an unchanged file is not worth a new inode.
                    for page in site.outputs() {
                        let name = &page.file;
                        let written = match page.failure() {
                            Some(failure) => Err(failure),
                            None => site
                                .render(&page.template, &ctx)
                                .and_then(|html| {
                                    publish::write_if_changed(out_dir, name, html.as_bytes())
                                        .map(drop)
                                        .map_err(|e| format!("{e:#}"))
                                })
                                .map_err(|e| format!("{e}; the last good {name} stays")),
                        };
                        if let Err(e) = written {
                            fail(snapshot, e);
                        }
                    }
                }
            }
        }
    }
    let json = render::json(snapshot);
    if let Err(e) = publish::write(out_dir, "status.json", &json).context("status.json") {
        snapshot.errors.push(format!("{e:#}"));
        ok = false;
    }
    ok
}
