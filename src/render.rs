//! Turning a snapshot into the bytes of each output file.
//!
//! The page's context is the snapshot itself, serialised (so the page and `status.json` cannot
//! disagree), plus `site`: the few settings a template needs that are not status (title, links,
//! version, custom pages, the assets' version). Formatting for people (bytes, percentages,
//! durations, status icons, the day strip and the sparkline) lives in tera filters here and in
//! [`charts`], not in the snapshot, so the feed keeps raw numbers; and not in the browser's
//! script either: `live.js` swaps in HTML rendered here, so every figure is formatted once.

mod charts;

use crate::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
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

/// The context every page is rendered with.
pub fn context(snapshot: &Snapshot, info: &SiteInfo, files: &SiteFiles) -> tera::Result<Context> {
    let mut ctx = Context::from_serialize(snapshot)?;
    ctx.insert("site", &SiteView { info, files });
    // The page shows a configured disk that is not mounted in the disks card, once; its line in
    // `errors` (kept there for status.json and the errors metric) would repeat it as a problem.
    let missing: Vec<String> = snapshot
        .host
        .disks_missing
        .iter()
        .map(|m| crate::host::missing_disk_error(m))
        .collect();
    let page_errors: Vec<&String> = snapshot
        .errors
        .iter()
        .filter(|e| !missing.contains(e))
        .collect();
    ctx.insert("page_errors", &page_errors);
    Ok(ctx)
}

/// Renders one page; the error is one line naming the template and every cause.
pub fn page(tera: &Tera, name: &str, ctx: &Context) -> Result<String, String> {
    tera.render(name, ctx)
        .map_err(|e| format!("template {name}: {}", crate::templates::chain(&e)))
}

/// `status.json`: the snapshot, compact. Browsers poll it every few seconds, so bytes count
/// (pretty printing made it a third larger and cost more to write); `jq .` makes it readable.
pub fn json(snapshot: &Snapshot) -> Vec<u8> {
    let mut out = serde_json::to_vec(snapshot).expect("a snapshot always serialises");
    out.push(b'\n');
    out
}

pub fn register_filters(tera: &mut Tera) {
    tera.register_filter("bytes", bytes);
    tera.register_filter("percent", percent);
    tera.register_filter("duration", duration);
    tera.register_filter("icon", icon);
    tera.register_filter("datetime", datetime);
    tera.register_filter("clock", clock);
    tera.register_filter("availability", availability);
    tera.register_filter("timespan", timespan);
    tera.register_filter("day_strip", charts::DayStrip::default());
    tera.register_filter("sparkline", charts::Markup(charts::sparkline));
    tera.register_filter("uptimes", charts::Markup(charts::uptimes));
    tera.register_filter("details", charts::Markup(details));
}

/// How many of a service's details the page shows, and how many characters of each value:
/// the page stays compact whatever a service answers; `status.json` has them all.
pub const PAGE_DETAILS: usize = 12;
pub const PAGE_DETAIL_CHARS: usize = 120;

/// `{{ s.details | details(id=s.slug) }}`: what a service's check found beyond its status
/// (Symbiont's `version` and `queue_depth`, the message of a 500's JSON body, a feed's
/// services), as a collapsed `<details>` list. Escaped here (the markup is marked safe), URLs
/// redacted, each value cut to [`PAGE_DETAIL_CHARS`], at most [`PAGE_DETAILS`] of them, nested
/// values as compact JSON. Nothing for no details.
fn details(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        return Ok(Value::String(String::new()));
    };
    let esc = |t: &str| tera::escape_html(&crate::redact::text(t));
    let cut = |t: String| match t.char_indices().nth(PAGE_DETAIL_CHARS) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t,
    };
    let mut out = String::with_capacity(200 + 60 * map.len().min(PAGE_DETAILS));
    out.push_str("<details class=\"facts\"");
    if let Some(id) = args.get("id").and_then(Value::as_str) {
        out.push_str(" id=\"details-");
        out.push_str(&esc(id));
        out.push('"');
    }
    out.push_str("><summary>Details <span class=\"muted\">(");
    out.push_str(&map.len().to_string());
    out.push_str(")</span></summary><dl>");
    for (key, v) in map.iter().take(PAGE_DETAILS) {
        let text = match v {
            Value::String(t) => t.clone(),
            Value::Null => "–".into(),
            other => other.to_string(),
        };
        out.push_str("<dt>");
        out.push_str(&esc(&cut(key.clone())));
        out.push_str("</dt><dd>");
        out.push_str(&esc(&cut(text)));
        out.push_str("</dd>");
    }
    out.push_str("</dl>");
    if map.len() > PAGE_DETAILS {
        out.push_str("<p class=\"muted\">");
        out.push_str(&(map.len() - PAGE_DETAILS).to_string());
        out.push_str(" more in <a href=\"status.json\">status.json</a></p>");
    }
    out.push_str("</details>");
    Ok(Value::String(out))
}

fn number(value: &Value, filter: &str) -> tera::Result<f64> {
    value
        .as_f64()
        .ok_or_else(|| tera::Error::msg(format!("filter `{filter}` needs a number, got {value}")))
}

/// 1536 → "1.5 KiB".
fn bytes(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let mut n = number(value, "bytes")?;
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut unit = 0;
    while n >= 1024.0 && unit + 1 < units.len() {
        n /= 1024.0;
        unit += 1;
    }
    let text = if unit == 0 {
        format!("{n} B")
    } else if n < 10.0 {
        format!("{n:.1} {}", units[unit])
    } else {
        format!("{n:.0} {}", units[unit])
    };
    Ok(Value::String(text))
}

/// 0.4213 → "42.1%".
fn percent(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let n = number(value, "percent")? * 100.0;
    Ok(Value::String(format!("{n:.1}%")))
}

/// Seconds → the two largest units: 93784 → "1d 2h".
fn duration(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let s = number(value, "duration")?.max(0.0) as u64;
    Ok(Value::String(duration_words(s)))
}

/// The `duration` filter's words, for outputs that are not templates (the Atom feed).
pub fn duration_words(s: u64) -> String {
    let parts = [
        (s / 86_400, "d"),
        (s / 3_600 % 24, "h"),
        (s / 60 % 60, "m"),
        (s % 60, "s"),
    ];
    let first = parts.iter().position(|(n, _)| *n > 0).unwrap_or(3);
    parts[first..]
        .iter()
        .take(2)
        .filter(|(n, _)| *n > 0 || first == 3)
        .map(|(n, u)| format!("{n}{u}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn text<'a>(value: &'a Value, filter: &str) -> tera::Result<&'a str> {
    value.as_str().ok_or_else(|| {
        tera::Error::msg(format!(
            "filter `{filter}` needs a time as text, got {value}"
        ))
    })
}

/// "2026-11-24T10:00:00Z" → "2026-11-24 10:00:00 UTC".
fn datetime(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = text(value, "datetime")?;
    Ok(Value::String(match t.strip_suffix('Z') {
        Some(t) => format!("{} UTC", t.replacen('T', " ", 1)),
        None => t.replacen('T', " ", 1),
    }))
}

/// "2026-11-24T10:00:00Z" → "10:00:00" (the time of day, UTC).
fn clock(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let t = text(value, "clock")?;
    let time = t.split_once('T').map_or(t, |(_, time)| time);
    Ok(Value::String(time.trim_end_matches('Z').to_string()))
}

/// An availability share → "99.95%" (rounded down: only a perfect record is "100%"); `null`,
/// a window with no counted check, → "–".
fn availability(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(match value {
        Value::Null => "–".into(),
        v => charts::percent_down(number(v, "availability")?),
    }))
}

/// `{{ start | timespan(end=end) }}` → "2026-12-01 02:00–03:00 UTC", or with both dates when
/// the span crosses midnight: "2026-12-01 23:00 – 2026-12-02 01:00 UTC".
fn timespan(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let start = text(value, "timespan")?;
    let end = args.get("end").map_or(Ok(""), |e| text(e, "timespan"))?;
    let minutes = |t: &str| t.get(11..16).unwrap_or("").to_string();
    let (start_day, end_day) = (
        start.get(..10).unwrap_or(start),
        end.get(..10).unwrap_or(end),
    );
    Ok(Value::String(if start_day == end_day {
        format!("{start_day} {}–{} UTC", minutes(start), minutes(end))
    } else {
        format!(
            "{start_day} {} – {end_day} {} UTC",
            minutes(start),
            minutes(end)
        )
    }))
}

/// A status word → a symbol that differs in shape, not only colour.
fn icon(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let symbol = match value.as_str() {
        Some("up") => "✓",
        Some("degraded") => "▲",
        Some("down") => "✕",
        Some("maintenance") => "◆",
        _ => "?",
    };
    Ok(Value::String(symbol.into()))
}

/// A snapshot with one of everything (each status, every host figure, an incident, an error),
/// for `check` to render every template against and for tests.
pub fn example_snapshot() -> Snapshot {
    use crate::snapshot::*;
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let service = |name: &str, status: Status, latency: Option<f64>, error: Option<&str>| Service {
        name: name.into(),
        slug: crate::config::slugify(name),
        kind: Kind::Http,
        status,
        latency_ms: latency,
        checked_at: Some(at),
        error: error.map(Into::into),
        uptime: Uptime {
            day: Some(1.0),
            week: Some(0.999),
            month: Some(0.998),
            quarter: Some(0.9975),
            year: None,
        },
        // Watched for 60 days (the strip's first 30 days have no data): the 90- and 365-day
        // windows are partial.
        observed_since: Some(at - chrono::Duration::days(59) - chrono::Duration::hours(10)),
        uptime_coverage: Coverage {
            day: 1.0,
            week: 1.0,
            month: 1.0,
            quarter: 0.665921,
            year: 0.164155,
        },
        details: match name {
            "Symbiont API" => serde_json::json!({
                "version": "1.4.2",
                "queue_depth": 3,
                "note": "<b>escaped</b> https://user:pw@example.net/x?token=abc",
            })
            .as_object()
            .cloned()
            .unwrap_or_default(),
            _ => serde_json::Map::new(),
        },
        // A strip with every kind of day: no data yet, perfect, a bad day, one in between.
        days: (0..DAYS)
            .map(|i| match i {
                0..30 => None,
                60 => Some(0.75),
                70 => Some(0.9991),
                _ => Some(1.0),
            })
            .collect(),
        latency_24h: (0..LATENCY_SLOTS)
            .map(|i| (i % 10 != 3).then_some(2.0 + (i % 7) as f64 * 0.5))
            .collect(),
    };
    let services = vec![
        service("Symbiont API", Status::Up, Some(3.2), None),
        service(
            "Web <shop>",
            Status::Degraded,
            Some(1500.0),
            Some("slow: answered in 1500 ms, degraded after 1s"),
        ),
        service(
            "Database",
            Status::Down,
            None,
            Some("cannot connect: Connection refused (os error 111)"),
        ),
        service(
            "Mail",
            Status::Maintenance,
            Some(1.0),
            Some("maintenance: upgrade"),
        ),
        service("Units", Status::Unknown, None, Some("systemctl not found")),
    ];
    Snapshot {
        schema: SCHEMA,
        generated_at: at,
        interval_seconds: std::time::Duration::from_secs(5),
        overall: Snapshot::overall_of(&services),
        host: Host {
            hostname: "cortex".into(),
            uptime_seconds: 123_456,
            cpu_count: 2,
            load: Some(Load {
                one: 0.12,
                five: 0.1,
                fifteen: 0.05,
            }),
            cpu_load_normalized: Some(0.06),
            memory: Some(Memory {
                total_bytes: 24 << 30,
                used_bytes: 3 << 30,
                used_ratio: 0.125,
            }),
            disks: Some(vec![Disk {
                mount: "/".into(),
                total_bytes: 250 << 30,
                used_bytes: 25 << 30,
                used_ratio: 0.1,
            }]),
            disks_missing: vec!["/data".into()],
        },
        services,
        incidents: vec![
            Incident {
                service: "database".into(),
                name: Some("Database".into()),
                from: Status::Up,
                to: Status::Down,
                at,
                error: Some("cannot connect".into()),
                end: None,
                duration_seconds: 0,
            },
            Incident {
                service: "web-shop".into(),
                name: Some("Web <shop>".into()),
                from: Status::Down,
                to: Status::Up,
                at: at - chrono::Duration::hours(3),
                error: None,
                end: Some(at - chrono::Duration::hours(2)),
                duration_seconds: 3_600,
            },
        ],
        maintenance: vec![
            MaintenanceWindow {
                services: vec!["mail".into()],
                start: at - chrono::Duration::minutes(30),
                end: at + chrono::Duration::minutes(30),
                message: Some("upgrade".into()),
                active: true,
            },
            MaintenanceWindow {
                services: vec!["symbiont-api".into(), "database".into()],
                start: at + chrono::Duration::days(7),
                end: at + chrono::Duration::days(7) + chrono::Duration::hours(1),
                message: Some("Database <upgrade>".into()),
                active: false,
            },
        ],
        errors: vec![
            crate::host::missing_disk_error("/data"),
            "on_publish: exited with status 1".into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::TemplateSet;

    fn site_info() -> SiteInfo {
        SiteInfo {
            title: "Cortex <Status>".into(),
            public_url: String::new(),
            version: "0",
            terminal_statuses: vec!["completed".into(), "failed".into()],
            tasks_missing: Vec::new(),
        }
    }

    fn files() -> SiteFiles {
        SiteFiles {
            pages: vec![
                PageLink {
                    name: "disks".into(),
                    title: Some("Disk <usage>".into()),
                },
                PageLink {
                    name: "backups".into(),
                    title: None,
                },
            ],
            assets_version: "0a1b2c3d".into(),
        }
    }

    fn render(name: &str, snapshot: &Snapshot) -> String {
        let tera = TemplateSet::load(None).unwrap().compile().unwrap();
        page(
            &tera,
            name,
            &context(snapshot, &site_info(), &files()).unwrap(),
        )
        .unwrap()
    }

    fn render_index(snapshot: &Snapshot) -> String {
        render("index.html", snapshot)
    }

    #[test]
    fn each_service_has_its_day_strip_sparkline_and_uptimes() {
        let html = render_index(&example_snapshot());
        assert_eq!(html.matches("<div class=\"days\" role=\"img\"").count(), 5);
        assert_eq!(html.matches("<svg class=\"spark\"").count(), 5);
        // Today is the UTC date of generated_at; the example's last day is perfect.
        assert!(html.contains("<i class=\"ok\" title=\"2026-11-24: 100% available\"></i></div>"));
        assert!(
            html.contains("title=\"2026-08-27: no data\""),
            "the first day is 89 days before"
        );
        assert!(html.contains("<title>latency over 24 h: 2.0–5.0 ms, no answer in"));
        assert!(html.contains("<dt>30 days</dt><dd>99.8%</dd>"));
        // Watched for 60 days: the 90- and 365-day windows are one entry that says since when.
        assert!(html.contains(
            "<div class=\"partial\" title=\"90 and 365 days are not watched in full yet: this \
             figure covers every check since 2026-09-26 00:00 UTC\"><dt>since 26 Sep</dt><dd>99.75%</dd></div>"
        ));
        assert!(!html.contains("<dt>90 days</dt>") && !html.contains("<dt>365 days</dt>"));
        assert!(html.contains("<span>90 days ago</span>"));
        assert!(html.contains("last 90 days: watched since 2026-09-26, 60 with data"));
        assert!(html.contains("<span>latency, 24&nbsp;h</span>"));
    }

    #[test]
    fn a_service_s_details_are_shown_collapsed_escaped_and_bounded() {
        let html = render_index(&example_snapshot());
        assert_eq!(
            html.matches("<details class=\"facts\"").count(),
            1,
            "only where there are some"
        );
        assert!(html.contains(
            "<details class=\"facts\" id=\"details-symbiont-api\"><summary>Details <span class=\"muted\">(3)</span></summary><dl>"
        ));
        assert!(html.contains("<dt>queue_depth</dt><dd>3</dd>"), "{html}");
        assert!(html.contains("<dt>version</dt><dd>1.4.2</dd>"));
        assert!(
            html.contains("<dd>&lt;b&gt;escaped&lt;&#x2F;b&gt; https:"),
            "{html}"
        );
        assert!(!html.contains("pw@") && !html.contains("token=abc") && !html.contains("<b>"));

        let mut s = example_snapshot();
        s.services[0].details = (0..40)
            .map(|i| (format!("k{i:02}"), Value::String("x".repeat(1000))))
            .chain([("nested".into(), serde_json::json!([{"a": 1}]))])
            .collect();
        let html = render_index(&s);
        let part = &html[html.find("details-symbiont-api").unwrap()..];
        let part = &part[..part.find("</details>").unwrap()];
        assert_eq!(part.matches("<dt>").count(), PAGE_DETAILS);
        assert!(part.contains(&format!("<dd>{}…</dd>", "x".repeat(PAGE_DETAIL_CHARS))));
        assert!(part.contains("29 more in <a href=\"status.json\">status.json</a>"));
        assert!(part.len() < 4_000, "bounded: {} bytes", part.len());
    }

    #[test]
    fn a_service_without_history_says_so() {
        let mut s = example_snapshot();
        for svc in &mut s.services {
            svc.days.clear();
            svc.latency_24h.clear();
            svc.uptime = crate::snapshot::Uptime::default();
            svc.uptime_coverage = crate::snapshot::Coverage::default();
            svc.observed_since = None;
        }
        let html = render_index(&s);
        assert_eq!(html.matches("No history yet").count(), 5);
        assert_eq!(html.matches("Latency: collecting data").count(), 5);
        assert_eq!(
            html.matches("<span class=\"muted\">Availability</span> <span>not checked yet</span>")
                .count(),
            5
        );
        assert!(!html.contains("days ago") && !html.contains("100%"));
    }

    #[test]
    fn incidents_say_how_long_and_maintenance_is_announced() {
        let html = render_index(&example_snapshot());
        // What is ongoing is said in words: an outage lasts, a recovery is "up again".
        assert!(
            html.contains(
                "<strong>Database</strong> <span class=\"status status-down\"><span class=\"icon\" aria-hidden=\"true\">✕</span> down</span> since <time datetime=\"2026-11-24T10:00:00Z\">2026-11-24 10:00:00 UTC</time> <span class=\"muted\">(ongoing, 0s so far)</span>: cannot connect</li>"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "<span class=\"icon\" aria-hidden=\"true\">✓</span> up</span> from <time datetime=\"2026-11-24T07:00:00Z\">2026-11-24 07:00:00 UTC</time> to <time datetime=\"2026-11-24T08:00:00Z\">08:00:00</time> <span class=\"muted\">(1h)</span></li>"
            ),
            "{html}"
        );
        assert!(!html.contains("→"), "no bare transitions");
        let mut s = example_snapshot();
        s.incidents[1].end = None;
        // Ended on another day: the end has its date.
        s.incidents[0].end = Some(s.incidents[0].at + chrono::Duration::days(1));
        let html = render_index(&s);
        assert!(html.contains("up</span> again since <time datetime=\"2026-11-24T07:00:00Z\">"));
        assert!(!html.contains("ongoing"), "an up period is not ongoing");
        assert!(
            html.contains("<time datetime=\"2026-11-25T10:00:00Z\">2026-11-25 10:00:00 UTC</time>")
        );
        assert!(html.contains("<strong>In progress:</strong> Mail,"));
        assert!(html.contains("2026-11-24 09:30–10:30 UTC</time>: upgrade</li>"));
        // Scheduled, with service names for the slugs, the span and the (escaped) message.
        assert!(html.contains("<strong>Scheduled:</strong> Symbiont API, Database,"));
        assert!(html.contains("2026-12-01 10:00–11:00 UTC</time>: Database &lt;upgrade&gt;</li>"));
        let scheduled = html.find("Scheduled:").unwrap();
        assert!(
            html.find("In progress:").unwrap() < scheduled,
            "soonest first, as given"
        );
    }

    #[test]
    fn the_page_keeps_itself_fresh_with_or_without_javascript() {
        let html = render_index(&example_snapshot());
        assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));
        assert!(html.contains("<script src=\"assets/live.js?v=0a1b2c3d\" defer></script>"));
        assert!(html.contains("href=\"assets/style.css?v=0a1b2c3d\""));
        assert!(html.contains("data-generated-at=\"2026-11-24T10:00:00Z\" data-interval=\"5\""));
        assert!(html.contains("<div id=\"stale\" class=\"stale\" hidden></div>"));
        assert!(
            html.contains("id=\"live-announce\" class=\"visually-hidden\" aria-live=\"polite\"")
        );
        assert!(html.contains("Updated <span id=\"updated-ago\" hidden></span> <time"));
        // Every region live.js swaps is there even when empty, once.
        let mut quiet = example_snapshot();
        quiet.incidents.clear();
        quiet.maintenance.clear();
        quiet.errors.clear();
        let html = render_index(&quiet);
        for id in [
            "overall",
            "maintenance",
            "problems",
            "host",
            "services",
            "incidents",
        ] {
            assert_eq!(html.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
            let at = html.find(&format!("id=\"{id}\"")).unwrap();
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(
                tag.contains("data-live"),
                "{id} is not marked data-live: {tag}"
            );
        }
    }

    #[test]
    fn nothing_inline_that_a_strict_csp_would_block() {
        for name in ["index.html", "tasks.html"] {
            let html = render(name, &example_snapshot());
            assert!(!html.contains("style="), "{name} has a style attribute");
            assert!(!html.contains("<style"), "{name} has a style element");
            for (at, _) in html.match_indices("<script") {
                assert!(
                    html[at..].starts_with("<script src="),
                    "{name}: inline script"
                );
            }
            for handler in [
                " onclick=",
                " onload=",
                " onerror=",
                " onsubmit=",
                "javascript:",
            ] {
                assert!(!html.contains(handler), "{name} has {handler}");
            }
        }
    }

    /// A templates_dir holding `files`, and the site loaded from it.
    fn site_with(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::generator::Site) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let config = crate::config::Config {
            templates_dir: Some(dir.path().to_path_buf()),
            ..crate::config::Config::embedded()
        };
        let site = crate::generator::Site::load(&config).unwrap();
        (dir, site)
    }

    /// The example page of the README (examples/pages/host.html) renders every macro.
    #[test]
    fn the_example_custom_page_renders_with_the_macros() {
        let example = include_str!("../examples/pages/host.html");
        let (_dir, site) = site_with(&[("pages/host.html", example)]);
        let ctx = site.context(&example_snapshot(), &site_info()).unwrap();
        let page = site
            .outputs()
            .iter()
            .find(|o| o.file == "host.html")
            .unwrap();
        assert_eq!(page.template, "pages/host.html");
        assert_eq!(page.problem, None);
        let html = site.render(&page.template, &ctx).unwrap();
        for part in [
            "<title>Host details · Cortex &lt;Status&gt;</title>",
            "<div class=\"cards\"><article class=\"card figure-card\">",
            "<h3>Memory used</h3>\n  <p class=\"figure\">3.0 GiB</p>\n  <p class=\"muted\">of 24 GiB</p>",
            "<p class=\"figure\">1d 10h</p>",
            "<div class=\"row\"><table class=\"table\"><caption>Services</caption>",
            "<th scope=\"col\">Latency (ms)</th>",
            "<td>Web &lt;shop&gt;</td>",
            "<td class=\"num\">3.2</td>",
            "<td>–</td>",
            "<th scope=\"col\">service</th>",
            "<span class=\"icon\" aria-hidden=\"true\">✕</span> down</span></td>",
            "<meter min=\"0\" max=\"1\"",
            "<a href=\"host.html\">Host details</a>",
        ] {
            assert!(html.contains(part), "no {part:?} in\n{html}");
        }
        // Layout macros print the markup they are given, but every value was escaped before.
        assert!(!html.contains("Web <shop>"));
    }

    /// tera turns autoescaping off for a macro called in another macro's arguments; the macros
    /// escape by themselves, exactly once whichever way they are called.
    #[test]
    fn macros_escape_once_called_directly_or_nested() {
        let page = "{% import \"macros.html\" as m %}{{ m::card(title=\"A <b>\", value=\"x<y\") }}\n\
                    {{ m::table(rows=services, columns=[\"name\"]) }}\n\
                    {{ m::row(items=[m::card(title=\"A <b>\", hint=\"x<y\"), m::meter(label=\"<m>\", ratio=0.5)]) }}";
        let (_dir, site) = site_with(&[("pages/direct.html", page)]);
        let ctx = site.context(&example_snapshot(), &site_info()).unwrap();
        let html = site.render("pages/direct.html", &ctx).unwrap();
        assert_eq!(html.matches("<h3>A &lt;b&gt;</h3>").count(), 2, "{html}");
        assert!(html.contains("<p class=\"figure\">x&lt;y</p>"));
        assert!(html.contains("<p class=\"muted\">x&lt;y</p>"));
        assert!(html.contains("<td>Web &lt;shop&gt;</td>"));
        assert!(html.contains("<span>&lt;m&gt;</span>"));
        assert!(!html.contains("&amp;") && !html.contains("<b>") && !html.contains("<m>"));
    }

    #[test]
    fn a_broken_custom_page_is_left_out_and_the_others_render() {
        let (dir, site) = site_with(&[
            (
                "pages/good.html",
                "{% extends \"base.html\" %}{% block main %}<p>{{ overall }}</p>{% endblock main %}",
            ),
            ("pages/broken.html", "<p>\n{% if %}\n</p>"),
            ("pages/orphan.html", "{% extends \"nope.html\" %}"),
            ("pages/Not Safe.html", "<p>hi</p>"),
            ("pages/index.html", "<p>hi</p>"),
        ]);
        let by_file = |f: &str| {
            site.outputs()
                .iter()
                .find(|o| o.template == f)
                .unwrap()
                .clone()
        };
        assert_eq!(by_file("pages/good.html").problem, None);
        assert_eq!(by_file("pages/good.html").file, "good.html");
        let broken = by_file("pages/broken.html");
        let path = dir.path().join("pages/broken.html").display().to_string();
        assert!(
            broken
                .failure()
                .unwrap()
                .starts_with(&format!("template: {path}:2:")),
            "{broken:?}"
        );
        assert!(
            broken
                .failure()
                .unwrap()
                .ends_with("; the last good broken.html stays")
        );
        assert!(
            by_file("pages/orphan.html")
                .problem
                .unwrap()
                .contains("nope.html")
        );
        let unsafe_name = by_file("pages/Not Safe.html");
        assert_eq!(
            unsafe_name.file, "",
            "nothing is published for a refused name"
        );
        assert!(
            unsafe_name
                .failure()
                .unwrap()
                .contains("cannot be a page name")
        );
        assert!(
            by_file("pages/index.html")
                .problem
                .unwrap()
                .contains("built-in page")
        );
        // The good page and the built-in ones render; only the good page is in the navigation.
        let ctx = site.context(&example_snapshot(), &site_info()).unwrap();
        for page in site.outputs().iter().filter(|o| o.problem.is_none()) {
            let html = site.render(&page.template, &ctx).unwrap();
            assert!(html.contains("<a href=\"good.html\">good</a> <a href=\"tasks.html\">"));
        }
        assert_eq!(
            site.outputs()
                .iter()
                .filter(|o| o.problem.is_none())
                .count(),
            3
        );
    }

    #[test]
    fn the_assets_version_follows_their_bytes() {
        let (_a, plain) = site_with(&[]);
        let (_b, same) = site_with(&[("pages/x.html", "x")]);
        let (_c, changed) = site_with(&[("assets/style.css", "body{}")]);
        let version = |site: &crate::generator::Site| {
            let ctx = site.context(&example_snapshot(), &site_info()).unwrap();
            ctx.get("site").unwrap()["assets_version"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(version(&plain).len(), 8);
        assert_eq!(version(&plain), version(&same), "a page is not an asset");
        assert_ne!(version(&plain), version(&changed));
    }

    #[test]
    fn custom_pages_are_in_the_navigation() {
        let html = render_index(&example_snapshot());
        assert!(html.contains(
            "<a href=\"index.html\">Status</a> <a href=\"disks.html\">Disk &lt;usage&gt;</a> <a href=\"backups.html\">backups</a> <a href=\"tasks.html\">Tasks</a>"
        ));
    }

    #[test]
    fn the_page_shows_every_service_with_status_as_text_and_icon() {
        let html = render_index(&example_snapshot());
        assert!(html.contains("Some services are down"));
        for (status, icon) in [
            ("up", "✓"),
            ("degraded", "▲"),
            ("down", "✕"),
            ("maintenance", "◆"),
            ("unknown", "?"),
        ] {
            let shown =
                format!("<span class=\"icon\" aria-hidden=\"true\">{icon}</span> {status}</span>");
            assert!(html.contains(&shown), "{status} not shown as text and icon");
        }
        assert!(html.contains("3.2&nbsp;ms"));
        assert!(html.contains("Connection refused"));
        // tera escapes `/` as `&#x2F;`.
        assert!(
            html.contains("<li>on_publish: exited with status 1</li>"),
            "errors are on the page"
        );
        // A disk that is not mounted is in the disks card, once, not among the problems.
        assert_eq!(html.matches("&#x2F;data").count(), 1, "{html}");
        assert!(html.contains(
            "<div class=\"meter disk-missing\"><div class=\"meter-label\"><span>&#x2F;data</span><span>not mounted</span></div></div>"
        ));
        assert!(html.contains("3.0 GiB of 24 GiB"));
        assert!(html.contains("<meter"));
        assert!(html.contains("1d 10h"), "uptime in words");
    }

    #[test]
    fn the_task_form_has_its_parts_and_no_refresh() {
        let html = render("tasks.html", &example_snapshot());
        for part in [
            "id=\"task-form\"",
            "type=\"password\" id=\"password\"",
            "id=\"prompt\"",
            "type=\"submit\" id=\"submit\"",
            "id=\"form-error\" class=\"form-error\" role=\"alert\"",
            "data-terminal=\"completed failed\"",
            "assets/tasks.js",
        ] {
            assert!(html.contains(part), "tasks.html lacks {part}");
        }
        assert!(
            !html.contains("http-equiv=\"refresh\"") && !html.contains("live.js"),
            "a refresh would lose what was typed"
        );
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn an_unconfigured_task_page_says_what_to_set_instead_of_a_form() {
        let tera = TemplateSet::load(None).unwrap().compile().unwrap();
        let config = crate::config::Config::embedded();
        let info = SiteInfo::new(&config);
        assert_eq!(info.tasks_missing.len(), 2, "{:?}", info.tasks_missing);
        let html = page(
            &tera,
            "tasks.html",
            &context(&example_snapshot(), &info, &files()).unwrap(),
        )
        .unwrap();
        assert!(
            html.contains(
                "<h2 id=\"tasks-off-heading\">Tasks are not configured on this host</h2>"
            )
        );
        assert!(html.contains("STATUS_TASK_PASSWORD"));
        assert!(html.contains("symbiont_url"));
        assert!(html.contains("SYMBIONT_URL"));
        assert!(!html.contains("id=\"task-form\"") && !html.contains("tasks.js"));
    }

    #[test]
    fn names_are_escaped() {
        let html = render_index(&example_snapshot());
        assert!(html.contains("Web &lt;shop&gt;"));
        assert!(!html.contains("Web <shop>"));
        assert!(html.contains("Cortex &lt;Status&gt;"));
    }

    #[test]
    fn hidden_host_figures_leave_no_card() {
        let mut s = example_snapshot();
        s.host.memory = None;
        s.host.disks = None;
        s.host.disks_missing.clear();
        s.host.load = None;
        s.host.cpu_load_normalized = None;
        let html = render_index(&s);
        assert!(
            !html.contains("<h3>Memory</h3>")
                && !html.contains("<h3>Disks</h3>")
                && !html.contains("<h3>Load")
        );
    }

    #[test]
    fn no_services_says_how_to_add_them_and_claims_nothing_operational() {
        let mut s = example_snapshot();
        s.services.clear();
        s.overall = Snapshot::overall_of(&s.services);
        let html = render_index(&s);
        assert!(
            !html.contains("All systems operational"),
            "nothing was checked"
        );
        assert!(html.contains("No services configured yet — host figures only"));
        assert!(html.contains("class=\"overall overall-none\""));
        assert!(
            html.contains("<title>Cortex &lt;Status&gt;</title>"),
            "no status in the title"
        );
        assert!(html.contains("No services are configured"));
        assert!(html.contains("<code>cortex-status init</code>"));
        // With services that are all up, it is operational.
        let mut s = example_snapshot();
        for svc in &mut s.services {
            svc.status = crate::snapshot::Status::Up;
        }
        s.overall = Snapshot::overall_of(&s.services);
        assert!(render_index(&s).contains("All systems operational"));
    }

    #[test]
    fn load_is_per_core_as_a_number_not_a_percentage() {
        let mut s = example_snapshot();
        s.host.load = Some(crate::snapshot::Load {
            one: 8.48,
            five: 4.0,
            fifteen: 2.0,
        });
        s.host.cpu_load_normalized = Some(4.24);
        let html = render_index(&s);
        let card = &html[html.find("<h3>Load").unwrap()..];
        let card = &card[..card.find("</article>").unwrap()];
        assert!(!card.contains('%'), "{card}");
        assert!(card.contains("<span>4.24 per core</span>"), "{card}");
        assert!(card.contains("<h3>Load <span class=\"muted\">2 cores</span></h3>"));
        assert!(card.contains("<dt>1 min</dt><dd>8.48</dd>"), "{card}");
        s.host.cpu_count = 1;
        s.host.cpu_load_normalized = Some(0.5);
        s.host.load.as_mut().unwrap().one = 0.5;
        let html = render_index(&s);
        assert!(html.contains("<span>0.5 per core</span>"));
        assert!(html.contains("<h3>Load <span class=\"muted\">1 core</span></h3>"));
    }

    #[test]
    fn filters_format_for_people() {
        let f = |filter: fn(&Value, &HashMap<String, Value>) -> tera::Result<Value>, v: Value| {
            filter(&v, &HashMap::new())
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(f(bytes, 512.into()), "512 B");
        assert_eq!(f(bytes, 1536.into()), "1.5 KiB");
        assert_eq!(f(bytes, (250u64 << 30).into()), "250 GiB");
        assert_eq!(f(percent, 0.4213.into()), "42.1%");
        assert_eq!(f(duration, 93_784.into()), "1d 2h");
        assert_eq!(f(duration, 3_600.into()), "1h");
        assert_eq!(f(duration, 42.into()), "42s");
        assert_eq!(f(duration, 0.into()), "0s");
        assert_eq!(
            f(datetime, "2026-11-24T10:00:00Z".into()),
            "2026-11-24 10:00:00 UTC"
        );
        assert_eq!(f(clock, "2026-11-24T10:00:07Z".into()), "10:00:07");
        assert!(bytes(&Value::from("x"), &HashMap::new()).is_err());
    }

    #[test]
    fn the_json_is_schema_1() {
        let v: Value = serde_json::from_slice(&json(&example_snapshot())).unwrap();
        assert_eq!(v["schema"], 1);
        assert_eq!(v["generated_at"], "2026-11-24T10:00:00Z");
        assert_eq!(v["interval_seconds"], 5);
        assert_eq!(v["overall"], "down");
        assert_eq!(v["host"]["load"]["one"], 0.12);
        assert_eq!(v["host"]["disks_missing"], serde_json::json!(["/data"]));
        assert_eq!(v["services"][0]["slug"], "symbiont-api");
        assert_eq!(v["services"][0]["uptime"]["24h"], 1.0);
        assert_eq!(v["incidents"][0]["to"], "down");
    }
}
