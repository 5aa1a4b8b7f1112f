//! Stage 4, outputs: the snapshot turned into everything a reader or a machine fetches.
//!
//! It owns the site ([`site`]: templates, pages, charts, `status.json`), the Atom feed
//! ([`atom`]), the Prometheus text ([`metrics`]), the SVG badges ([`badges`]) and their shared
//! XML escaping ([`xml`]). It takes a finished `Snapshot` (and the few settings a page needs,
//! [`site::SiteInfo`]) and hands bytes to `publish`. It must not probe, read the history or
//! change what the snapshot says: if a figure is shown, it is a field of the snapshot. A failure
//! to render or write one file goes into `snapshot.errors` and leaves the old file in place.
//!
//! Publishing the outputs for machines: `feed.xml` and `metrics` with each cycle ([`write`]),
//! the badges and the services' feeds beside it ([`write_per_service`], from the daemon's
//! backlog job).
//!
//! Each is printed from the snapshot by its own module ([`atom`], [`badges`], [`metrics`]) and
//! written here, the feed and the badges with their gzip sidecars. The feed and the badges change
//! rarely and are written only when their bytes change (a badge is not even made while what it
//! says is unchanged: [`badges::Kept`]). `metrics` carries the snapshot's time and changes every
//! cycle; it has no sidecar: one scraper reads it, not every visitor, so a gzip each cycle (and
//! a second file created and renamed each cycle, the dearer part on ext4) would be paid for
//! nobody. A `metrics.gz` left by an earlier version is removed on the first publish, or Caddy
//! would go on serving it to scrapers that accept gzip. `metrics` goes last, so that its error
//! count includes a failure to write the others.
//!
//! [`atom`]: crate::output::atom
//! [`badges`]: crate::output::badges
//! [`metrics`]: crate::output::metrics

pub mod atom;
pub mod badges;
pub mod metrics;
pub mod site;
pub mod status_json;
pub mod xml;

use crate::output::site::SiteInfo;
use crate::publish::Publisher;
use crate::snapshot::Snapshot;
use anyhow::Context as _;
use std::path::Path;

/// What the cycle's outputs keep from one cycle to the next, so that a cycle does only the work
/// of what changed (issue 14). Owned by the cycle (`daemon::cycle::Generator`).
#[derive(Default)]
pub struct Kept {
    /// The settled parts of `status.json`.
    pub status_json: status_json::StatusJson,
}

/// Writes `feed.xml` and `metrics` into `out_dir`; a failure goes into the snapshot's `errors`
/// and the old file stays. Returns whether everything was written. The files per service
/// (badges, the services' feeds) are [`write_per_service`]'s. `first`: the first publish (or
/// new templates), which also removes a `metrics.gz` left by an earlier version.
pub fn write(
    publisher: &Publisher,
    out_dir: &Path,
    site: &SiteInfo,
    snapshot: &mut Snapshot,
    first: bool,
) -> bool {
    let mut errors = Vec::new();
    let feed = atom::feed(snapshot, site);
    if let Err(e) = publisher.write_if_changed_with_gz(out_dir, "feed.xml", feed.as_bytes()) {
        errors.push(format!("{e:#}"));
    }
    if first {
        let stale = out_dir.join("metrics.gz");
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                errors.push(format!("cannot remove {}: {e}", stale.display()));
            }
            _ => {}
        }
    }
    let ok = errors.is_empty();
    snapshot.errors.extend(errors);
    let text = metrics::metrics(snapshot, site);
    // Unchanged when the snapshot is (a re-render after a template edit): left alone then. No
    // sidecar (see the module's note).
    match publisher.write_if_changed(out_dir, "metrics", text.as_bytes()) {
        Ok(_) => ok,
        Err(e) => {
            snapshot.errors.push(format!("{e:#}"));
            false
        }
    }
}

/// Writes each service's badges and, with `feeds`, each service's `feeds/<slug>.xml`, removing
/// those of services no longer configured (`feeds` is asked for only when an incident, a
/// maintenance window or the services changed: with many services they cost more than
/// everything else here). Returns what failed; the old files stay.
pub fn write_per_service(
    publisher: &Publisher,
    kept: &badges::Kept,
    out_dir: &Path,
    site: &SiteInfo,
    snapshot: &Snapshot,
    feeds: bool,
) -> Vec<String> {
    let mut errors = Vec::new();
    if feeds {
        for s in &snapshot.services {
            let xml = atom::service_feed(snapshot, site, s);
            let name = format!("feeds/{}.xml", s.slug);
            if let Err(e) = publisher.write_if_changed_with_gz(out_dir, &name, xml.as_bytes()) {
                errors.push(format!("{e:#}"));
            }
        }
        let slugs = snapshot.slugs();
        let keep = |stem: &str| slugs.contains(stem);
        if let Err(e) = site::incidents::prune(out_dir, "feeds", ".xml", keep) {
            errors.push(e);
        }
    }
    // Only the badges whose inputs changed (or were last looked at a minute ago).
    for (s, key, files) in kept.due(snapshot, out_dir) {
        let mut ok = true;
        for (name, bytes) in files {
            if let Err(e) = publisher.write_if_changed_with_gz(out_dir, &name, &bytes) {
                errors.push(format!("{e:#}"));
                ok = false;
            }
        }
        if ok {
            kept.written(&s.slug, key);
        }
    }
    if feeds && let Err(e) = badges::prune(out_dir, snapshot).context("stale badges") {
        errors.push(format!("{e:#}"));
    }
    errors
}
