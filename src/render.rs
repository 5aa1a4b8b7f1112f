//! Turning a snapshot into the bytes of each output file.
//!
//! The page's context is the snapshot itself, serialised (so the page and `status.json` cannot
//! disagree), plus `site`: the few settings a template needs that are not status (title, links,
//! version). Formatting for people (bytes, percentages, durations, status icons) lives in tera
//! filters here, not in the snapshot, so the feed keeps raw numbers.

use crate::snapshot::Snapshot;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use tera::{Context, Tera};

/// Templates that become files in `out_dir`; the rest are partials (layouts, macros).
pub const PAGES: &[&str] = &["index.html", "tasks.html"];

/// What templates see as `site`.
#[derive(Debug, Clone, Serialize)]
pub struct SiteInfo {
    pub title: String,
    /// With a trailing `/`, or empty when `public_url` is not set. For absolute links (feeds,
    /// badges); the pages themselves link relatively, so a preview never calls production.
    pub public_url: String,
    pub version: &'static str,
    /// Task statuses after which the task form stops polling.
    pub terminal_statuses: Vec<String>,
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
        }
    }
}

/// The context every page is rendered with.
pub fn context(snapshot: &Snapshot, site: &SiteInfo) -> tera::Result<Context> {
    let mut ctx = Context::from_serialize(snapshot)?;
    ctx.insert("site", site);
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
        details: serde_json::Map::new(),
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
        },
        services,
        incidents: vec![
            Incident {
                service: "database".into(),
                from: Status::Up,
                to: Status::Down,
                at,
                error: Some("cannot connect".into()),
                end: None,
                duration_seconds: 0,
            },
            Incident {
                service: "web-shop".into(),
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
        errors: vec!["disk /data: not mounted, or not readable".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::TemplateSet;

    fn render_index(snapshot: &Snapshot) -> String {
        let tera = TemplateSet::load(None).unwrap().compile().unwrap();
        let site = SiteInfo {
            title: "Cortex <Status>".into(),
            public_url: String::new(),
            version: "0",
            terminal_statuses: vec!["completed".into(), "failed".into()],
        };
        page(&tera, "index.html", &context(snapshot, &site).unwrap()).unwrap()
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
            html.contains("disk &#x2F;data: not mounted"),
            "errors are on the page"
        );
        assert!(html.contains("3.0 GiB of 24 GiB"));
        assert!(html.contains("<meter"));
        assert!(html.contains("1d 10h"), "uptime in words");
    }

    #[test]
    fn the_task_form_has_its_parts_and_no_refresh() {
        let tera = TemplateSet::load(None).unwrap().compile().unwrap();
        let site = SiteInfo {
            title: "T".into(),
            public_url: String::new(),
            version: "0",
            terminal_statuses: vec!["completed".into(), "failed".into()],
        };
        let html = page(
            &tera,
            "tasks.html",
            &context(&example_snapshot(), &site).unwrap(),
        )
        .unwrap();
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
            !html.contains("http-equiv=\"refresh\""),
            "a refresh would lose what was typed"
        );
        assert!(!html.contains("<script>"), "no inline script");
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
        s.host.load = None;
        s.host.cpu_load_normalized = None;
        let html = render_index(&s);
        assert!(
            !html.contains("<h3>Memory</h3>")
                && !html.contains("<h3>Disks</h3>")
                && !html.contains("<h3>Load</h3>")
        );
    }

    #[test]
    fn no_services_says_how_to_add_them() {
        let mut s = example_snapshot();
        s.services.clear();
        s.overall = Snapshot::overall_of(&s.services);
        let html = render_index(&s);
        assert!(html.contains("All systems operational"));
        assert!(html.contains("No services are configured"));
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
        assert_eq!(v["services"][0]["slug"], "symbiont-api");
        assert_eq!(v["services"][0]["uptime"]["24h"], 1.0);
        assert_eq!(v["incidents"][0]["to"], "down");
    }
}
