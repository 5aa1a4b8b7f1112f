//! An example snapshot with one of everything, for `check` (which renders every template
//! against it), the page-weight example and tests. It lives beside the type so that no output
//! has to import another output to get one.

use super::Snapshot;

/// A snapshot with one of everything (each status, every host figure, an incident, an error),
/// for `check` to render every template against and for tests.
pub fn example() -> Snapshot {
    use crate::snapshot::*;
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z")
        .expect("valid time")
        .with_timezone(&chrono::Utc);
    let service = |name: &str, status: Status, latency: Option<f64>, error: Option<&str>| Service {
        name: name.into(),
        slug: crate::snapshot::slugify(name),
        kind: Kind::Http,
        // Two in a group, the rest without: the page's both ways of listing.
        group: matches!(name, "Symbiont API" | "Database").then(|| "Backend".to_string()),
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
            .unwrap_or_default()
            .into(),
            _ => Default::default(),
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
        incidents_open: vec![WrittenIncident {
            slug: "2026-11-24-database-failover".into(),
            title: "Database <failover>".into(),
            severity: Severity::Degraded,
            services: vec!["database".into(), "gone".into()],
            started: at - chrono::Duration::minutes(10),
            resolved: None,
            duration_seconds: 600,
            url: "incidents/2026-11-24-database-failover.html".into(),
            updates: vec![IncidentUpdate {
                at: at - chrono::Duration::minutes(5),
                kind: UpdateKind::Identified,
                text: "The primary lost its **disk**.".into(),
                html: "<p>The primary lost its <strong>disk</strong>.</p>\n".into(),
            }],
        }],
        incidents_recent: Vec::new(),
        errors: vec![
            crate::snapshot::missing_disk_error("/data"),
            "on_publish: exited with status 1".into(),
        ],
    }
}
