//! The incidents' own pages: `history.html` (every incident by month, written and automatic)
//! and `incidents/<slug>.html` (one written incident with all its updates).
//!
//! Unlike `index.html` nothing on them moves by itself, so they are rendered only when what they
//! show changes (an incident file, a status change, the templates: the cycle keeps a [`key`]),
//! not every cycle. Written with the rest of the site, each atomically; the page of an incident
//! whose file was removed is removed too ([`prune`]).

use super::Site;
use crate::snapshot::{Incident, Snapshot, Status, WrittenIncident, format_time};
use serde::Serialize;
use std::path::Path;

/// A month of `history.html`.
#[derive(Debug, Serialize)]
pub struct Month {
    /// "November 2026".
    pub label: String,
    /// Newest start first.
    pub entries: Vec<Entry>,
}

/// One incident in `history.html`.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub title: String,
    /// A severity for a written incident; the status (`down`, `degraded`) for an automatic one.
    pub severity: &'static str,
    /// Names of the services concerned.
    pub services: Vec<String>,
    pub start: String,
    pub end: Option<String>,
    pub duration_seconds: u64,
    /// The written incident's slug (its page is `incidents/<slug>.html`: relative, as the
    /// pages link, so a preview never sends a reader to production); `None` for an automatic
    /// one.
    pub slug: Option<String>,
    #[serde(skip)]
    at: chrono::DateTime<chrono::Utc>,
}

/// Every incident by month, newest first. Automatic ones are the periods a service was down or
/// degraded, from the snapshot's `incidents` (the history's recent log).
/// `automatic` is the history's whole incident log (the snapshot carries only the newest).
pub fn months(
    snapshot: &Snapshot,
    written: &[WrittenIncident],
    automatic: &[Incident],
) -> Vec<Month> {
    // One map, not a scan of the services per incident (up to 1,000 of them).
    let names: std::collections::HashMap<&str, &str> = snapshot
        .services
        .iter()
        .map(|s| (s.slug.as_str(), s.name.as_str()))
        .collect();
    let name = |slug: &str| names.get(slug).map_or(slug, |n| n).to_string();
    let mut entries: Vec<Entry> = written
        .iter()
        .map(|i| Entry {
            title: i.title.clone(),
            severity: i.severity.as_str(),
            services: i.services.iter().map(|s| name(s)).collect(),
            start: format_time(&i.started),
            end: i.resolved.as_ref().map(format_time),
            duration_seconds: i.duration_seconds,
            slug: Some(i.slug.clone()),
            at: i.started,
        })
        .collect();
    entries.extend(
        automatic
            .iter()
            .filter(|i| matches!(i.to, Status::Down | Status::Degraded))
            .map(|i| {
                let who = i.name.clone().unwrap_or_else(|| i.service.clone());
                Entry {
                    title: format!("{who} {}", i.to),
                    severity: i.to.as_str(),
                    services: Vec::new(),
                    start: format_time(&i.at),
                    end: i.end.as_ref().map(format_time),
                    duration_seconds: if i.end.is_some() {
                        i.duration_seconds
                    } else {
                        0
                    },
                    slug: None,
                    at: i.at,
                }
            }),
    );
    entries.sort_by_key(|e| std::cmp::Reverse(e.at));
    let mut months: Vec<Month> = Vec::new();
    for e in entries {
        let label = e.at.format("%B %Y").to_string();
        match months.last_mut() {
            Some(m) if m.label == label => m.entries.push(e),
            _ => months.push(Month {
                label,
                entries: vec![e],
            }),
        }
    }
    months
}

/// What the pages and the services' feeds depend on beyond the templates: when it is the same
/// as at the last render, they are not rendered again. `written` is the generation of the
/// incident files as read (a new one at each read: comparing their contents every cycle would
/// cost more than the pages). Durations of what is still open are left out (the pages do not
/// show them), so a long outage does not re-render them every cycle.
pub fn key(snapshot: &Snapshot, written: u64) -> String {
    let mut key =
        String::with_capacity(64 * (4 + snapshot.services.len() + snapshot.incidents.len()));
    key.push_str(&written.to_string());
    key.push('\u{1e}');
    // Which written incidents are recent moves with the clock.
    for i in snapshot
        .incidents_open
        .iter()
        .chain(&snapshot.incidents_recent)
    {
        key.push_str(&i.slug);
        key.push('\u{1f}');
    }
    key.push('\u{1e}');
    for m in &snapshot.maintenance {
        key.push_str(&format_time(&m.start));
        key.push_str(&format_time(&m.end));
        key.push_str(if m.active { "+" } else { "-" });
        key.push_str(&m.services.join(","));
        key.push_str(m.message.as_deref().unwrap_or(""));
        key.push('\u{1e}');
    }
    for s in &snapshot.services {
        key.push_str(&s.slug);
        key.push('\u{1f}');
        key.push_str(&s.name);
        key.push('\u{1e}');
    }
    for i in &snapshot.incidents {
        key.push_str(&i.service);
        key.push_str(&format_time(&i.at));
        key.push_str(i.to.as_str());
        if let Some(end) = &i.end {
            key.push_str(&format_time(end));
        }
        key.push('\u{1e}');
    }
    key
}

/// Renders `history.html` and each `incidents/<slug>.html`: (file name in out_dir, html or why
/// not).
pub fn render(
    site: &Site,
    ctx: &tera::Context,
    snapshot: &Snapshot,
    written: &[WrittenIncident],
    automatic: &[Incident],
) -> Vec<(String, Result<String, String>)> {
    let mut pages = Vec::with_capacity(1 + written.len());
    let mut history = ctx.clone();
    history.insert("months", &months(snapshot, written, automatic));
    pages.push((
        "history.html".to_string(),
        site.render("history.html", &history)
            .map_err(|e| e.to_string()),
    ));
    let mut page = ctx.clone();
    page.insert("root", "../");
    for i in written {
        page.insert("incident", i);
        pages.push((
            format!("incidents/{}.html", i.slug),
            site.render("incident.html", &page)
                .map_err(|e| e.to_string()),
        ));
    }
    pages
}

/// Removes the files in `out_dir/sub` that end in `ending` (or `ending.gz`) and whose stem
/// `keep` does not want: the page of an incident whose file is gone, the feed of a service no
/// longer configured. A publish in flight (a dot file) is left alone. Returns how many went.
pub fn prune(
    out_dir: &Path,
    sub: &str,
    ending: &str,
    keep: impl Fn(&str) -> bool,
) -> Result<usize, String> {
    let dir = out_dir.join(sub);
    let entries = match std::fs::read_dir(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
        Ok(entries) => entries,
    };
    let gz = format!("{ending}.gz");
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(stem) = name
            .strip_suffix(gz.as_str())
            .or_else(|| name.strip_suffix(ending))
        else {
            continue;
        };
        if name.starts_with('.') || keep(stem) {
            continue;
        }
        let path = entry.path();
        std::fs::remove_file(&path)
            .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `history.html` lists every outage the history keeps, not only the newest the snapshot
    /// carries (50): the page is where a visitor looks for last spring's.
    #[test]
    fn history_lists_every_automatic_outage_the_log_keeps() {
        let snapshot = crate::snapshot::example();
        let start = chrono::Utc::now() - chrono::Duration::days(200);
        let automatic: Vec<Incident> = (0..120)
            .map(|i| Incident {
                service: "web".into(),
                name: Some("Web".into()),
                from: Status::Up,
                to: if i % 2 == 0 { Status::Down } else { Status::Up },
                at: start + chrono::Duration::hours(i),
                error: None,
                end: Some(start + chrono::Duration::hours(i + 1)),
                duration_seconds: 3600,
            })
            .collect();
        let months = months(&snapshot, &[], &automatic);
        let outages: usize = months.iter().map(|m| m.entries.len()).sum();
        assert_eq!(outages, 60, "every down of the 120 changes, well past 50");
    }
}
