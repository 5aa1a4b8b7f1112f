//! Stage 1, sense: the incidents people write, one markdown file each in `incidents_dir`.
//!
//! It owns reading and checking those files: TOML front matter between `+++` lines (title,
//! severity, services, started, resolved), then the updates, newest first, each a level-2
//! heading `## 2026-11-24 10:05 UTC · Identified` and its markdown ([`markdown`] renders it with
//! raw HTML escaped). It hands on [`Written`]: every incident that parsed and one line per
//! problem (`file:line: what`), so one broken file is reported while the others publish. It is
//! read at start and again when the directory changes (hot reload, SIGHUP), not every cycle.
//!
//! **Bounded.** At most [`MAX_FILES`] files are read (by name), each at most [`MAX_FILE_BYTES`],
//! with at most [`MAX_UPDATES`] updates of at most [`MAX_TEXT_CHARS`] characters, and at most
//! [`MAX_OPEN`] open and [`RECENT`] recent ones go into the snapshot: a runaway file costs a
//! problem line, never the page's size or the cycle's time.

pub mod markdown;
#[cfg(test)]
mod tests;

use crate::snapshot::{IncidentUpdate, Severity, UpdateKind, WrittenIncident};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Incident files read; more are reported and left out.
pub const MAX_FILES: usize = 200;
/// The largest incident file read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;
/// Updates per incident.
pub const MAX_UPDATES: usize = 100;
/// Characters of markdown per update.
pub const MAX_TEXT_CHARS: usize = 8_000;
/// Characters of a title.
pub const MAX_TITLE_CHARS: usize = 200;
/// Services one incident names.
pub const MAX_SERVICES: usize = 100;
/// Open incidents shown (the newest); more are reported. Each carries its updates' text and
/// HTML into `status.json`, which browsers poll: this keeps it bounded.
pub const MAX_OPEN: usize = 20;
/// Resolved incidents kept in `status.json`'s `incidents_recent` (the pages list them all).
pub const RECENT: usize = 10;
/// How long a resolved incident stays in `incidents_recent`.
pub const RECENT_DAYS: i64 = 14;

/// What the directory held at the last read.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Every incident that parsed, newest start first.
    pub incidents: Vec<WrittenIncident>,
    /// One line per problem: `incident file PATH:LINE: what`.
    pub problems: Vec<String>,
    /// Different at each read (of this process): what was read may have changed.
    pub generation: u64,
}

/// Counts the reads, for [`Written::generation`].
static READS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl Written {
    /// Open incidents (newest first) and recently resolved ones (newest resolution first), their
    /// durations brought up to `now`.
    pub fn at(&self, now: DateTime<Utc>) -> (Vec<WrittenIncident>, Vec<WrittenIncident>) {
        let mut open = Vec::new();
        let mut recent = Vec::new();
        // Cloned only when shown: the old ones, most of the files, cost nothing per cycle.
        for i in &self.incidents {
            match i.resolved {
                None if open.len() < MAX_OPEN => {
                    let mut i = i.clone();
                    i.duration_seconds = seconds(i.started, now);
                    open.push(i);
                }
                None => {}
                Some(end) if now - end <= chrono::Duration::days(RECENT_DAYS) => {
                    recent.push(i.clone())
                }
                Some(_) => {}
            }
        }
        recent.sort_by_key(|i| std::cmp::Reverse(i.resolved));
        recent.truncate(RECENT);
        (open, recent)
    }
}

/// Reads every `*.md` file in `dir`. A missing directory is no incidents, not a problem (the
/// default `incidents/` need not exist); `known` are the configured service slugs, to catch a
/// typo; `base` is `public_url` with its trailing `/`, or empty.
pub fn load(dir: &Path, known: &[String], base: &str) -> Written {
    let mut written = Written {
        generation: READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ..Written::default()
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return written,
        Err(e) => {
            written.problems.push(format!(
                "incidents_dir {}: cannot be read: {e}",
                dir.display()
            ));
            return written;
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            // Editors' droppings (`.x.md.swp`, `x.md~`) end otherwise or start with a dot.
            name.ends_with(".md") && !name.starts_with('.')
        })
        .collect();
    files.sort();
    if files.len() > MAX_FILES {
        written.problems.push(format!(
            "incidents_dir {}: {} incident files, more than {MAX_FILES}; the last {} by name \
             are left out (move old ones elsewhere)",
            dir.display(),
            files.len(),
            files.len() - MAX_FILES
        ));
        files.truncate(MAX_FILES);
    }
    let mut slugs = std::collections::HashSet::new();
    for path in files {
        let shown = path.display().to_string();
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        let slug = crate::config::slugify(&stem);
        if slug.is_empty() || !slugs.insert(slug.clone()) {
            written.problems.push(format!(
                "incident file {shown}: its name gives no page name of its own (letters, digits \
                 and dashes; two files may not differ only in case or punctuation); it is not \
                 published"
            ));
            continue;
        }
        let text = match read_bounded(&path) {
            Ok(text) => text,
            Err(e) => {
                written
                    .problems
                    .push(format!("incident file {shown}: {e}; it is not published"));
                continue;
            }
        };
        match parse(&text, &slug, known, base) {
            Ok((incident, warnings)) => {
                written.problems.extend(
                    warnings
                        .into_iter()
                        .map(|(line, w)| format!("incident file {shown}:{line}: {w}")),
                );
                written.incidents.push(incident);
            }
            Err((line, e)) => written.problems.push(format!(
                "incident file {shown}:{line}: {e}; it is not published"
            )),
        }
    }
    written
        .incidents
        .sort_by(|a, b| b.started.cmp(&a.started).then_with(|| a.slug.cmp(&b.slug)));
    let open = written
        .incidents
        .iter()
        .filter(|i| i.resolved.is_none())
        .count();
    if open > MAX_OPEN {
        written.problems.push(format!(
            "incidents_dir {}: {open} open incidents, more than {MAX_OPEN}; the page, \
             status.json and the feeds show the newest {MAX_OPEN} (resolve the others)",
            dir.display()
        ));
    }
    written
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "larger than {} KiB; split it or shorten its updates",
            MAX_FILE_BYTES / 1024
        ));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())
}

/// The front matter's keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Front {
    title: String,
    severity: Severity,
    #[serde(default)]
    services: Vec<String>,
    started: toml::Value,
    resolved: Option<toml::Value>,
}

/// A problem and the 1-based line it is on.
type Problem = (usize, String);

/// Parses one file's text. Err: why it cannot be published. Ok: the incident and what is
/// wrong but does not stop it (a service slug that is not configured).
pub fn parse(
    text: &str,
    slug: &str,
    known: &[String],
    base: &str,
) -> Result<(WrittenIncident, Vec<Problem>), Problem> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.first().map(|l| l.trim_end()) != Some("+++") {
        return Err((
            1,
            "an incident file starts with a line `+++`, then title, severity, services and \
             started, then `+++` again"
                .into(),
        ));
    }
    let close = lines
        .iter()
        .skip(1)
        .position(|l| l.trim_end() == "+++")
        .map(|i| i + 1)
        .ok_or((1, "the front matter has no closing `+++` line".to_string()))?;
    let front_text = lines[1..close].join("\n");
    // Lines of the front matter start at file line 2.
    let front: Front = toml::from_str(&front_text).map_err(|e| {
        let line = e.span().map_or(1, |s| {
            1 + front_text.as_bytes()[..s.start.min(front_text.len())]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
        });
        // toml's message may not name the key ("unknown variant"): the line does.
        let key = lines
            .get(line)
            .and_then(|l| l.split_once('='))
            .map(|(k, _)| format!("{}: ", k.trim()))
            .unwrap_or_default();
        (
            line + 1,
            // It quotes the file, which may hold a URL with a token in it.
            format!(
                "front matter: {key}{}",
                crate::redact::text(e.message().trim())
            ),
        )
    })?;
    let key_line = |key: &str| {
        lines[1..close]
            .iter()
            .position(|l| l.trim_start().starts_with(key))
            .map_or(2, |i| i + 2)
    };
    let title = front.title.trim().to_string();
    if title.is_empty() {
        return Err((key_line("title"), "title is empty".into()));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err((
            key_line("title"),
            format!("title is longer than {MAX_TITLE_CHARS} characters"),
        ));
    }
    let started =
        time(&front.started).map_err(|e| (key_line("started"), format!("started: {e}")))?;
    let resolved = front
        .resolved
        .as_ref()
        .map(time)
        .transpose()
        .map_err(|e| (key_line("resolved"), format!("resolved: {e}")))?;
    if let Some(r) = resolved
        && r < started
    {
        return Err((key_line("resolved"), "resolved is before started".into()));
    }
    if front.services.len() > MAX_SERVICES {
        return Err((
            key_line("services"),
            format!("more than {MAX_SERVICES} services"),
        ));
    }
    let mut warnings = Vec::new();
    for s in &front.services {
        if !known.contains(s) {
            warnings.push((
                key_line("services"),
                format!(
                    "services: {} is not the slug of a configured service (a service's slug is \
                     its name in lower case with dashes, as in badges/<slug>.svg)",
                    crate::redact::text(s)
                ),
            ));
        }
    }
    let updates = updates(&lines, close + 1)?;
    let incident = WrittenIncident {
        slug: slug.to_string(),
        title,
        severity: front.severity,
        services: front.services,
        started,
        resolved,
        duration_seconds: resolved.map_or(0, |r| seconds(started, r)),
        url: format!("{base}incidents/{slug}.html"),
        updates,
    };
    Ok((incident, warnings))
}

/// The updates after the front matter (`from` is the 0-based index of the first body line).
fn updates(lines: &[&str], from: usize) -> Result<Vec<IncidentUpdate>, Problem> {
    let mut updates: Vec<(usize, DateTime<Utc>, UpdateKind, Vec<&str>)> = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in lines.iter().enumerate().skip(from) {
        let number = i + 1;
        let trimmed = line.trim_start();
        // A `## ` inside a fenced code block is code, not an update.
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                match fence {
                    None => fence = Some(marker),
                    Some(open) if open == marker => fence = None,
                    Some(_) => {}
                }
            }
        }
        if fence.is_none()
            && let Some(heading) = line.strip_prefix("## ")
        {
            let (at, kind) = heading_of(heading).map_err(|e| (number, e))?;
            if updates.len() == MAX_UPDATES {
                return Err((number, format!("more than {MAX_UPDATES} updates")));
            }
            updates.push((number, at, kind, Vec::new()));
            continue;
        }
        match updates.last_mut() {
            Some((_, _, _, body)) => body.push(line),
            None if line.trim().is_empty() => {}
            None => {
                return Err((
                    number,
                    "text before the first update; each update starts with a heading like \
                     `## 2026-11-24 10:05 UTC · Investigating`"
                        .into(),
                ));
            }
        }
    }
    let mut out = Vec::with_capacity(updates.len());
    for (line, at, kind, body) in updates {
        let text = body.join("\n").trim().to_string();
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err((
                line,
                format!("this update is longer than {MAX_TEXT_CHARS} characters"),
            ));
        }
        let html = markdown::to_html(&text);
        out.push(IncidentUpdate {
            at,
            kind,
            text,
            html,
        });
    }
    // Newest first, as written; a file written the other way round is put right, not refused.
    out.sort_by_key(|u| std::cmp::Reverse(u.at));
    Ok(out)
}

/// `2026-11-24 10:05 UTC · Identified` → the time and the kind.
fn heading_of(heading: &str) -> Result<(DateTime<Utc>, UpdateKind), String> {
    let example = "like `## 2026-11-24 10:05 UTC · Identified`";
    let (when, kind) = heading
        .split_once('·')
        .or_else(|| heading.split_once(" - "))
        .or_else(|| heading.split_once('—'))
        .ok_or_else(|| format!("an update heading is a time and a kind, {example}"))?;
    let when = when.trim();
    let when = when
        .strip_suffix("UTC")
        .ok_or_else(|| format!("an update's time is in UTC, {example}"))?
        .trim();
    let at = NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| {
            format!(
                "{} is not a time like 2026-11-24 10:05",
                crate::redact::text(when)
            )
        })?
        .and_utc();
    let word = kind.trim().to_ascii_lowercase();
    let kind = UpdateKind::ALL
        .into_iter()
        .find(|k| k.as_str() == word)
        .ok_or_else(|| {
            format!(
                "{} is not an update kind: investigating, identified, monitoring, update or \
                 resolved",
                crate::redact::text(kind.trim())
            )
        })?;
    Ok((at, kind))
}

/// A front matter time: a TOML date-time with an offset, or the same as a string.
fn time(value: &toml::Value) -> Result<DateTime<Utc>, String> {
    let text = match value {
        toml::Value::String(s) => s.trim().replacen(' ', "T", 1),
        toml::Value::Datetime(d) => d.to_string().replacen(' ', "T", 1),
        other => {
            return Err(format!(
                "a time like 2026-11-24T10:00:00Z, not a {}",
                other.type_str()
            ));
        }
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{} is not a time with its zone, like 2026-11-24T10:00:00Z",
                crate::redact::text(&text)
            )
        })
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_seconds()).unwrap_or(0)
}
