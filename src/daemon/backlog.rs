//! The files a publish writes per service (`services/<slug>.html`, `badges/<slug>.svg` and
//! `.json`, `feeds/<slug>.xml`), written by a job beside the loop rather than inside the cycle.
//!
//! **Why beside.** With thousands of services these are nearly all the files a publish writes:
//! up to six per service on the first publish, each a new inode, against a handful for the rest
//! of the site. Measured at 5,000 services on ext4, the first cycle took 7 to 13 s, nearly all of
//! it creating those files, and the status page waited behind them. Now the cycle publishes what
//! every visitor reads first (`index.html`, `status.json`, `metrics`, the feed, the incident
//! pages), then hands the snapshot to one job on the blocking pool, which writes the
//! per-service files that changed. The cycle waits for the job for [`WAIT`] at most: enough for
//! a small site, whose files are then written within the cycle as before; past it the cycle
//! ends and the job finishes on its own.
//!
//! **Never two at once, nothing lost.** While a job runs no other starts: a cycle that finds one
//! running skips its per-service files. Skipping loses nothing, because every job compares with
//! what was really written last, not with the cycle before: a page is rendered when its key
//! differs from the one it was written from (`output::site::services::key`), a badge when what
//! it says differs (`output::badges::Kept`) and then its bytes, the services' feeds when the incidents key differs from the one they were
//! written from ([`State`]).
//!
//! **Failures.** What a job could not write is reported by the cycle that collects the job: in
//! its `/api/health` failure when the job ended within [`WAIT`], and in the next snapshot's
//! `errors` (and so the log); the next job writes it again. At shutdown a running job is left to
//! the runtime's shutdown (every file is published atomically, so a job cut short leaves old
//! files, never half ones); `build` waits for its job and fails if the job did.

use crate::output::site::{Site, SiteInfo, incidents, services};
use crate::publish::Publisher;
use crate::snapshot::Snapshot;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a cycle waits for its job before it ends without it.
pub const WAIT: Duration = Duration::from_millis(50);

/// What the per-service files were last written from. Moved into the running job, and back.
#[derive(Default)]
struct State {
    /// The key each service's page was last written from.
    pages: HashMap<String, u64>,
    /// The incidents key (`output::site::incidents::key`) the services' feeds were last
    /// written from.
    feeds_key: Option<String>,
    /// What each service's badges were last written from.
    badges: crate::output::badges::Kept,
}

/// The per-service files of one snapshot, and where they go.
pub struct Job {
    pub snapshot: Arc<Snapshot>,
    pub site: Option<Arc<Site>>,
    pub site_info: SiteInfo,
    pub out_dir: PathBuf,
    pub publisher: Arc<Publisher>,
    /// Which read of the incident files the snapshot carries (part of the incidents key).
    pub generation: u64,
}

/// The job's state between jobs, the job running, and what the last one could not write.
pub struct Backlog {
    /// `None` while a job runs: it has the state.
    state: Option<State>,
    running: Option<JoinHandle<(State, Vec<String>)>>,
    failures: Vec<String>,
    /// The next job writes every page and every feed afresh and removes the files of services
    /// gone: the first publish, new templates.
    afresh: bool,
}

impl Default for Backlog {
    fn default() -> Self {
        Backlog {
            state: Some(State::default()),
            running: None,
            failures: Vec::new(),
            afresh: true,
        }
    }
}

impl Backlog {
    /// The next job writes everything afresh (new templates).
    pub fn afresh(&mut self) {
        self.afresh = true;
    }

    /// Starts a job for `job` unless one is running. Returns whether it started.
    pub fn start(&mut self, job: Job) -> bool {
        let Some(state) = self.state.take() else {
            return false;
        };
        let afresh = std::mem::take(&mut self.afresh);
        self.running = Some(tokio::task::spawn_blocking(move || {
            run(&job, state, afresh)
        }));
        true
    }

    /// Waits up to `wait` for the running job (none: returns at once) and takes its state back
    /// when it has ended.
    pub async fn collect(&mut self, wait: Duration) {
        let Some(handle) = self.running.as_mut() else {
            return;
        };
        let ended = if wait.is_zero() {
            if !handle.is_finished() {
                return;
            }
            handle.await
        } else {
            match tokio::time::timeout(wait, handle).await {
                Ok(ended) => ended,
                Err(_) => return,
            }
        };
        self.running = None;
        match ended {
            Ok((state, failures)) => {
                self.state = Some(state);
                self.failures.extend(failures);
            }
            Err(e) => {
                // Only a panic (in tera) gets here: start over, writing everything again.
                tracing::error!("writing the services' files failed: {e}");
                self.state = Some(State::default());
                self.afresh = true;
                self.failures
                    .push(format!("writing the services' files failed: {e}"));
            }
        }
    }

    /// What the jobs collected since the last [`Backlog::take_failures`] could not write.
    pub fn failures(&self) -> &[String] {
        &self.failures
    }

    /// What the jobs collected since the last call could not write.
    pub fn take_failures(&mut self) -> Vec<String> {
        std::mem::take(&mut self.failures)
    }

    /// Waits for the running job, however long it takes (`build`).
    pub async fn finish(&mut self) {
        while self.running.is_some() {
            self.collect(Duration::from_secs(3600)).await;
        }
    }
}

/// Writes the per-service files of `job` that differ from what `state` says was written.
fn run(job: &Job, mut state: State, afresh: bool) -> (State, Vec<String>) {
    let snapshot = &job.snapshot;
    let key = incidents::key(snapshot, job.generation);
    // The incidents key holds the services too: when it moves, services may have gone.
    let feeds = afresh || state.feeds_key.as_deref() != Some(key.as_str());
    let mut failures = Vec::new();
    if let Some(site) = job.site.as_deref() {
        if afresh {
            state.pages.clear();
        }
        failures.extend(write_service_pages(
            &job.publisher,
            &job.out_dir,
            site,
            &job.site_info,
            snapshot,
            &mut state.pages,
            feeds,
        ));
    }
    let before = failures.len();
    failures.extend(crate::output::write_per_service(
        &job.publisher,
        &state.badges,
        &job.out_dir,
        &job.site_info,
        snapshot,
        feeds,
    ));
    if feeds && failures.len() == before {
        state.feeds_key = Some(key);
    }
    (state, failures)
}

/// Each service's `services/<slug>.html` whose key changed, and, with `prune`, the pages of
/// services gone removed. Returns what failed; the last good file stays and its key is not
/// kept, so it is tried again.
fn write_service_pages(
    publisher: &Publisher,
    out_dir: &Path,
    site: &Site,
    site_info: &SiteInfo,
    snapshot: &Snapshot,
    known: &mut HashMap<String, u64>,
    prune: bool,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (s, key) in services::due(snapshot, 0, known) {
        let name = services::file(&s.slug);
        let ctx = services::context(snapshot, site_info, site.files(), s);
        let done = site
            .render("service.html", &ctx)
            .map_err(|e| e.to_string())
            .and_then(|html| {
                publisher
                    .write_if_changed_with_gz(out_dir, &name, html.as_bytes())
                    .map(drop)
                    .map_err(|e| format!("{e:#}"))
            });
        match done {
            Ok(()) => {
                known.insert(s.slug.clone(), key);
            }
            Err(e) => failures.push(format!("{e}; the last good {name} stays")),
        }
    }
    if prune {
        let slugs = snapshot.slugs();
        let keep = |stem: &str| slugs.contains(stem);
        if let Err(e) = incidents::prune(out_dir, "services", ".html", keep) {
            failures.push(e);
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(out_dir: &Path) -> Job {
        Job {
            snapshot: Arc::new(crate::snapshot::example()),
            site: None,
            site_info: SiteInfo {
                title: "t".into(),
                public_url: String::new(),
                version: "0",
                terminal_statuses: Vec::new(),
                tasks_missing: Vec::new(),
            },
            out_dir: out_dir.to_path_buf(),
            publisher: Arc::default(),
            generation: 0,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_job_at_a_time_and_what_it_could_not_write_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut backlog = Backlog::default();
        assert!(backlog.start(job(dir.path())));
        // Running (or ended, not collected): a second one does not start.
        assert!(!backlog.start(job(dir.path())));
        backlog.finish().await;
        assert!(backlog.failures().is_empty(), "{:?}", backlog.failures());
        let badges = std::fs::read_dir(dir.path().join("badges"))
            .unwrap()
            .count();
        assert!(badges >= 2, "{badges} badge files");

        // A file where the badges' directory should be: nothing can be written under it.
        let blocked = tempfile::tempdir().unwrap();
        std::fs::write(blocked.path().join("badges"), "not a directory").unwrap();
        assert!(backlog.start(job(blocked.path())));
        backlog.finish().await;
        let failures = backlog.take_failures();
        assert!(
            failures.iter().any(|f| f.contains("badges")),
            "{failures:?}"
        );
        assert!(backlog.take_failures().is_empty(), "reported once");
        // The next job writes them again (nothing is taken as written that was not).
        std::fs::remove_file(blocked.path().join("badges")).unwrap();
        assert!(backlog.start(job(blocked.path())));
        backlog.finish().await;
        assert!(backlog.failures().is_empty(), "{:?}", backlog.failures());
        assert!(blocked.path().join("badges").is_dir());
    }
}
