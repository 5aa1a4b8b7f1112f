//! Watching the config file, `templates_dir` and `incidents_dir` so an edit is live without a
//! restart.
//!
//! notify (inotify on Linux) reports file events on its own thread; they are sorted into
//! [`Change`]s and handed to the daemon's loop through a channel. The loop debounces them: an
//! editor's save is several events (write, rename, chmod), and a `git checkout` of the templates
//! is dozens, but both should cost one re-render.
//!
//! The debounce state (what has been seen, and when it goes quiet) lives in the [`Watch`], not
//! in the future [`Watch::next`] returns: the loop polls that future beside its ticker, and a
//! tick that wins drops the future. Kept in the future, an edit seen but not yet quiet was lost
//! with it, at every tick that landed inside the debounce.
//!
//! The config file's *directory* is watched, not the file: editors and config managers replace a
//! file by renaming a new one over it, and a watch on the old inode would go quiet after the
//! first save.

use notify::{EventKind, RecursiveMode, Watcher as _};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long the loop waits for more events after the first before acting.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// What changed, after debouncing: any of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    pub config: bool,
    pub templates: bool,
    /// A file in `incidents_dir` was written, added or removed.
    pub incidents: bool,
}

impl Change {
    fn merge(&mut self, other: Change) {
        self.config |= other.config;
        self.templates |= other.templates;
        self.incidents |= other.incidents;
    }
}

/// The watches; dropping it stops them.
pub struct Watch {
    _watcher: Option<notify::RecommendedWatcher>,
    rx: UnboundedReceiver<Change>,
    config_file: Option<PathBuf>,
    templates_dir: Option<PathBuf>,
    /// `incidents_dir`, and whether it existed (so was watched) when the watch started: one
    /// made later is watched from the change that shows it (see [`Watch::covers`]).
    incidents_dir: Option<(PathBuf, bool)>,
    /// Seen, not yet handed out: the change so far and when it counts as quiet.
    pending: Option<(Change, tokio::time::Instant)>,
}

impl Watch {
    /// Watches `config_file` (if any), `templates_dir` (if any) and `incidents_dir` (if any;
    /// while it does not exist, its parent, to see it made). A watch that cannot be set up is
    /// logged and skipped: the daemon works without hot reload, just as before.
    pub fn start(
        config_file: Option<&Path>,
        templates_dir: Option<&Path>,
        incidents_dir: Option<&Path>,
    ) -> Watch {
        let (tx, rx) = unbounded_channel();
        let config_file = config_file.map(absolute);
        let templates_dir = templates_dir.map(absolute);
        let incidents_dir = incidents_dir.map(|d| {
            let d = absolute(d);
            let exists = d.is_dir();
            (d, exists)
        });
        let watcher = watcher(
            config_file.clone(),
            templates_dir.clone(),
            incidents_dir.clone(),
            tx,
        )
        .inspect_err(|e| tracing::warn!("hot reload is off: {e}"))
        .ok();
        Watch {
            _watcher: watcher,
            rx,
            config_file,
            templates_dir,
            incidents_dir,
            pending: None,
        }
    }

    /// Replaces this watch by `fresh` (after a reload moved what is watched), keeping a change
    /// seen here but not handed out yet.
    pub fn hand_over(&mut self, mut fresh: Watch) -> Watch {
        if let Some((change, quiet_at)) = self.pending.take() {
            fresh.pending = Some((change, quiet_at));
        }
        fresh
    }

    /// Whether this watch covers these paths (after a config reload moved `templates_dir`, or
    /// `incidents_dir` was made since the watch started, the daemon starts a new one).
    pub fn covers(
        &self,
        config_file: Option<&Path>,
        templates_dir: Option<&Path>,
        incidents_dir: Option<&Path>,
    ) -> bool {
        let incidents = incidents_dir.map(|d| {
            let d = absolute(d);
            let exists = d.is_dir();
            (d, exists)
        });
        self.config_file == config_file.map(absolute)
            && self.templates_dir == templates_dir.map(absolute)
            && self.incidents_dir == incidents
    }

    /// The next change, once no more events have come for [`DEBOUNCE`]. Pending forever when
    /// nothing is watched. Cancel-safe: dropped before it resolves, it loses nothing.
    pub async fn next(&mut self) -> Change {
        loop {
            let Some((_, quiet_at)) = self.pending else {
                let Some(change) = self.rx.recv().await else {
                    return std::future::pending().await;
                };
                self.pending = Some((change, tokio::time::Instant::now() + DEBOUNCE));
                continue;
            };
            tokio::select! {
                more = self.rx.recv() => match (more, self.pending.as_mut()) {
                    (Some(more), Some((change, quiet_at))) => {
                        change.merge(more);
                        *quiet_at = tokio::time::Instant::now() + DEBOUNCE;
                    }
                    // The watcher is gone: nothing more will come, so this is quiet.
                    _ => return self.take_pending(),
                },
                () = tokio::time::sleep_until(quiet_at) => return self.take_pending(),
            }
        }
    }

    fn take_pending(&mut self) -> Change {
        self.pending.take().map(|(c, _)| c).unwrap_or_default()
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn watcher(
    config_file: Option<PathBuf>,
    templates_dir: Option<PathBuf>,
    incidents_dir: Option<(PathBuf, bool)>,
    tx: UnboundedSender<Change>,
) -> notify::Result<notify::RecommendedWatcher> {
    let (file, dir) = (config_file.clone(), templates_dir.clone());
    let incidents = incidents_dir.as_ref().map(|(d, _)| d.clone());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // Reads and opens change nothing; a finished write (close-write) is reported as access.
        if matches!(event.kind, EventKind::Access(a) if a != notify::event::AccessKind::Close(notify::event::AccessMode::Write))
        {
            return;
        }
        let mut change = Change::default();
        for path in &event.paths {
            if file.as_deref() == Some(path.as_path()) {
                change.config = true;
            } else if let Some(incidents) = &incidents
                && path.starts_with(incidents)
                && !is_scratch(path)
            {
                change.incidents = true;
            } else if let Some(dir) = &dir
                && path.starts_with(dir)
                && !is_scratch(path)
            {
                change.templates = true;
            }
        }
        if change != Change::default() {
            let _ = tx.send(change);
        }
    })?;
    if let Some(parent) = config_file.as_deref().and_then(Path::parent) {
        watcher.watch(parent, RecursiveMode::NonRecursive)?;
    }
    if let Some(dir) = &templates_dir {
        watcher.watch(dir, RecursiveMode::Recursive)?;
    }
    match &incidents_dir {
        Some((dir, true)) => watcher.watch(dir, RecursiveMode::NonRecursive)?,
        // Not there yet: its parent tells when it is made (already watched when it is the
        // config file's directory; watching it twice is harmless).
        Some((dir, false)) => {
            if let Some(parent) = dir.parent().filter(|p| p.is_dir()) {
                watcher.watch(parent, RecursiveMode::NonRecursive)?;
            }
        }
        None => {}
    }
    Ok(watcher)
}

/// Editor droppings (`.index.html.swp`, `index.html~`, `4913`) that are not templates; a
/// template set ignores them anyway, this only saves a re-render.
fn is_scratch(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with('~') || name.ends_with(".swp") || name == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_edit_of_either_is_one_change_after_the_burst() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cortex-status.toml");
        let templates = dir.path().join("templates");
        std::fs::create_dir(&templates).unwrap();
        std::fs::write(&config, "title = \"a\"\n").unwrap();
        let mut watch = Watch::start(Some(&config), Some(&templates), None);
        assert!(watch.covers(Some(&config), Some(&templates), None));

        // A save by rename, as editors do, then a burst of template writes.
        std::fs::write(dir.path().join("new.toml"), "title = \"b\"\n").unwrap();
        std::fs::rename(dir.path().join("new.toml"), &config).unwrap();
        for i in 0..5 {
            std::fs::write(templates.join("index.html"), format!("{i}")).unwrap();
        }
        let change = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("a change");
        assert_eq!(
            change,
            Change {
                config: true,
                templates: true,
                incidents: false,
            }
        );
        // The burst was one change: nothing more is waiting.
        assert!(
            tokio::time::timeout(Duration::from_millis(500), watch.next())
                .await
                .is_err()
        );

        // A swap file alone, or another file beside the config, is no change.
        std::fs::write(templates.join(".index.html.swp"), "x").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(500), watch.next())
                .await
                .is_err()
        );
    }

    /// A tick that wins the loop's select drops `next`'s future: an edit it had seen must still
    /// come out of the next call.
    #[tokio::test]
    async fn a_dropped_next_loses_no_edit() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cortex-status.toml");
        std::fs::write(&config, "title = \"a\"\n").unwrap();
        let mut watch = Watch::start(Some(&config), None, None);
        std::fs::write(&config, "title = \"b\"\n").unwrap();
        // Poll `next` in slices shorter than the debounce, as a 100 ms ticker would.
        let mut got = None;
        for _ in 0..100 {
            if let Ok(change) = tokio::time::timeout(Duration::from_millis(50), watch.next()).await
            {
                got = Some(change);
                break;
            }
        }
        assert_eq!(
            got,
            Some(Change {
                config: true,
                templates: false,
                incidents: false,
            })
        );
    }
}
