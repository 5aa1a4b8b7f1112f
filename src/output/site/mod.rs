//! Turning a snapshot into the bytes of each output file.
//!
//! The page's context is the snapshot itself, serialised (so the page and `status.json` cannot
//! disagree), plus `site`: the few settings a template needs that are not status (title, links,
//! version, custom pages, the assets' version). Formatting for people (bytes, percentages,
//! durations, status icons, the day strip and the sparkline) lives in tera filters here and in
//! [`charts`], not in the snapshot, so the feed keeps raw numbers; and not in the browser's
//! script either: `live.js` swaps in HTML rendered here, so every figure is formatted once.

pub mod changes;
mod charts;
pub mod filters;
pub mod fragments;
pub mod incidents;
mod load;
pub mod services;
pub mod templates;
#[cfg(test)]
mod tests;

pub use load::{Output, Site};

use crate::snapshot::{Service, Snapshot, Status};
use serde::Serialize;
use tera::{Context, Tera};

/// Templates that become files in `out_dir`; the rest are partials (layouts, macros). Custom
/// pages (`pages/NAME.html` in templates_dir) are added to these by the loaded site.
pub const PAGES: &[&str] = &["index.html", "tasks.html"];

/// What templates see as `site`, from the config.
#[derive(Debug, Clone, Serialize)]
pub struct SiteInfo {
    pub title: String,
    /// With a trailing `/`, or empty when `public_url` is not set. For absolute links (feeds,
    /// badges); the pages themselves link relatively, so a preview never calls production.
    pub public_url: String,
    pub version: &'static str,
    /// Task statuses after which the task form stops polling.
    pub terminal_statuses: Vec<String>,
    /// What the task form lacks to work, each with where to set it (no value, only names):
    /// empty when tasks are configured. While it is not, tasks.html says so instead of showing
    /// a form whose every submission would be answered 503.
    pub tasks_missing: Vec<String>,
}

impl SiteInfo {
    pub fn new(config: &crate::config::Config) -> SiteInfo {
        SiteInfo {
            title: config.title.clone(),
            public_url: config
                .public_url
                .as_ref()
                .map(|u| {
                    let s = u.to_string();
                    if s.ends_with('/') { s } else { format!("{s}/") }
                })
                .unwrap_or_default(),
            version: env!("CARGO_PKG_VERSION"),
            terminal_statuses: config.tasks.terminal_statuses.clone(),
            tasks_missing: tasks_missing(config),
        }
    }
}

/// What the task endpoint needs and this config does not give, as `tasks.html` explains it.
fn tasks_missing(config: &crate::config::Config) -> Vec<String> {
    let mut missing = Vec::new();
    if config.secrets.task_password.is_none() {
        missing.push(
            "a password: set STATUS_TASK_PASSWORD (or STATUS_TASK_PASSWORD_FILE, a file holding \
             it) in the daemon's environment"
                .to_string(),
        );
    }
    if config.tasks.symbiont_url.is_none() {
        missing.push(
            "Symbiont's address: set symbiont_url under [tasks] in the config file, or \
             SYMBIONT_URL in the environment"
                .to_string(),
        );
    }
    missing
}

/// What templates see in `site` from the loaded templates themselves, computed once when they
/// load: the custom pages for the navigation, and the assets' version for their URLs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteFiles {
    pub pages: Vec<PageLink>,
    /// A short hash of every asset's bytes: `assets/style.css?v=…`, so a browser that cached an
    /// asset for long fetches it again once it changes.
    pub assets_version: String,
}

/// A custom page in the navigation: `NAME.html`, shown as its title or else its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageLink {
    pub name: String,
    pub title: Option<String>,
}

/// `site` as templates see it: the config's part and the templates' part side by side.
#[derive(Serialize)]
struct SiteView<'a> {
    #[serde(flatten)]
    info: &'a SiteInfo,
    #[serde(flatten)]
    files: &'a SiteFiles,
}

/// The context every page is rendered with. `fragments` keeps each service's charts from one
/// cycle to the next (see [`fragments`]); the page takes them as `fragments[s.slug]`, while it
/// lists services in full (below [`services::COMPACT_FROM`]; an empty map past it). Past that
/// size `services` holds [`Row`]s, not whole services. The snapshot is borrowed mutably only to
/// take its services out for a moment (they are serialised apart then); it is left as it was.
pub fn context(
    snapshot: &mut Snapshot,
    info: &SiteInfo,
    files: &SiteFiles,
    fragments: &fragments::Fragments,
    (tera, changes): (&tera::Tera, &changes::Changes),
) -> tera::Result<Context> {
    let compact = snapshot.services.len() >= services::COMPACT_FROM;
    let mut ctx = if compact {
        let services = std::mem::take(&mut snapshot.services);
        let made = Context::from_serialize(&*snapshot);
        snapshot.services = services;
        let mut ctx = made?;
        let rows: Vec<Row<'_>> = snapshot.services.iter().map(Row::of).collect();
        ctx.insert("services", &rows);
        ctx
    } else {
        Context::from_serialize(&*snapshot)?
    };
    let snapshot = &*snapshot;
    ctx.insert("changes", &changes.for_page(tera, &snapshot.incidents)?);
    if compact {
        ctx.insert("fragments", &serde_json::Map::new());
    } else {
        ctx.insert("fragments", &fragments.for_page(snapshot)?);
    }
    ctx.insert("site", &SiteView { info, files });
    // The page shows a configured disk that is not mounted in the disks card, once; its line in
    // `errors` (kept there for status.json and the errors metric) would repeat it as a problem.
    let missing: Vec<String> = snapshot
        .host
        .disks_missing
        .iter()
        .map(|m| crate::snapshot::missing_disk_error(m))
        .collect();
    let page_errors: Vec<&String> = snapshot
        .errors
        .iter()
        .filter(|e| !missing.contains(e))
        .collect();
    ctx.insert("page_errors", &page_errors);
    // Pages one folder down (incidents/) set it to "../"; links to the site's files start with
    // it. Ours, never outside text: templates print it `| safe` (tera would escape the `/`).
    ctx.insert("root", "");
    ctx.insert("groups", &groups(&snapshot.services));
    // Past so many services the status page lists each in a line and links to its page.
    ctx.insert("compact", &compact);
    Ok(ctx)
}

/// A service as the site-wide context lists it past [`services::COMPACT_FROM`]: what a one-line
/// row may show, each field as in `status.json`. Left out: `days`, `latency_24h`, `details` and
/// `uptime_coverage` (each service's page has them, from a context of its own). A template
/// value is a B-tree of 11 entries a node: with its 14 fields a service was three nodes (2 KB)
/// and its coverage and details one each (632 bytes), rebuilt every cycle; 10 fields are one.
#[derive(Serialize)]
pub struct Row<'a> {
    name: &'a str,
    slug: &'a str,
    kind: crate::snapshot::Kind,
    group: Option<&'a str>,
    status: Status,
    latency_ms: Option<f64>,
    checked_at: Option<String>,
    error: Option<&'a str>,
    uptime: crate::snapshot::Uptime,
    observed_since: Option<String>,
}

impl<'a> Row<'a> {
    pub fn of(s: &'a Service) -> Row<'a> {
        Row {
            name: &s.name,
            slug: &s.slug,
            kind: s.kind,
            group: s.group.as_deref(),
            status: s.status,
            latency_ms: s.latency_ms,
            checked_at: s.checked_at.as_ref().map(crate::snapshot::format_time),
            error: s.error.as_deref(),
            uptime: s.uptime,
            observed_since: s.observed_since.as_ref().map(crate::snapshot::format_time),
        }
    }
}

/// A run of the services list under one `group` heading (or none), and how it fares: the page
/// folds it into a `<details>`, open while a member is not up.
#[derive(Debug, Serialize)]
pub struct Group<'a> {
    /// `None` for the services without a group (listed without a heading).
    pub name: Option<&'a str>,
    /// For the element's id: `group-<id>`.
    pub id: String,
    /// The worst status in it.
    pub status: Status,
    pub up: usize,
    pub total: usize,
    /// Whether a member is not up.
    pub open: bool,
}

/// The groups in the order of their first service in the config; each service is in exactly
/// one. With no `group` set anywhere, one group without a name: the plain list.
pub fn groups(services: &[Service]) -> Vec<Group<'_>> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for s in services {
        let name = s.group.as_deref();
        let at = match groups.iter().position(|g| g.name == name) {
            Some(at) => at,
            None => {
                groups.push(Group {
                    name,
                    id: name.map(crate::snapshot::slugify).unwrap_or_default(),
                    status: Status::Up,
                    up: 0,
                    total: 0,
                    open: false,
                });
                groups.len() - 1
            }
        };
        let g = &mut groups[at];
        g.total += 1;
        g.status = g.status.max(s.status);
        if s.status == Status::Up {
            g.up += 1;
        } else {
            g.open = true;
        }
    }
    groups
}

/// A page that did not render: which template, and tera's error. Shown, it is one line naming
/// the template and every cause (tera's own text stops at the outermost one); it becomes text
/// where it enters `snapshot.errors` (the cycle) or `check`'s report.
#[derive(Debug, thiserror::Error)]
#[error("template {template}: {}", templates::chain(cause))]
pub struct RenderError {
    pub template: String,
    // Not `#[source]`: the message already holds the chain, and `{:#}` would repeat it.
    cause: tera::Error,
}

/// Renders one page.
pub fn page(tera: &Tera, name: &str, ctx: &Context) -> Result<String, RenderError> {
    tera.render(name, ctx).map_err(|cause| RenderError {
        template: name.to_string(),
        cause,
    })
}

/// `status.json`: the snapshot, compact. Browsers poll it every few seconds, so bytes count
/// (pretty printing made it a third larger and cost more to write); `jq .` makes it readable.
pub fn json(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = serde_json::to_vec(snapshot).expect("a snapshot always serialises");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod group_tests {
    use super::*;

    #[test]
    fn groups_follow_the_config_and_open_when_a_member_is_not_up() {
        let mut services = crate::snapshot::example().services;
        for (s, g) in services.iter_mut().zip(["B", "A", "B", "", "A"]) {
            s.group = (!g.is_empty()).then(|| g.to_string());
        }
        let groups = groups(&services);
        let names: Vec<_> = groups.iter().map(|g| g.name).collect();
        assert_eq!(names, [Some("B"), Some("A"), None]);
        let total: usize = groups.iter().map(|g| g.total).sum();
        assert_eq!(total, services.len());
        for g in &groups {
            let members: Vec<_> = services
                .iter()
                .filter(|s| s.group.as_deref() == g.name)
                .collect();
            assert_eq!(g.total, members.len());
            assert_eq!(
                g.up,
                members.iter().filter(|s| s.status == Status::Up).count()
            );
            assert_eq!(g.open, g.up < g.total);
            assert_eq!(g.status, members.iter().map(|s| s.status).max().unwrap());
        }
        assert_eq!(groups[0].id, "b");
    }
}
