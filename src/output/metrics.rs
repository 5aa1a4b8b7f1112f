//! `metrics`: the snapshot in Prometheus' text exposition format (version 0.0.4).
//!
//! Printed from the same snapshot as `status.json` and the page, so a scrape and the page never
//! disagree. Every family is a gauge (the snapshot holds states and levels, not counts), has
//! `# HELP` and `# TYPE`, and is left out entirely when it would have no sample: host figures
//! hidden by `[host] public`, an uptime window with no counted check (`null` in the JSON),
//! a latency that was not measured. Services are labelled `service` (the slug, stable),
//! `name` (as configured, for people) and `group` (when configured). `scripts/test` checks the output with `promtool`.
//!
//! Written by hand rather than with a client library: there is no registry to keep and no
//! endpoint to serve, only a file printed once a cycle.

use crate::output::site::SiteInfo;
use crate::snapshot::{Kind, Service, Snapshot, Status};
use chrono::{DateTime, Utc};
use std::fmt::Write as _;

/// Every status word, in the order the state-set series are printed.
const STATUSES: [Status; 5] = [
    Status::Up,
    Status::Degraded,
    Status::Down,
    Status::Maintenance,
    Status::Unknown,
];

/// The exposition of `snapshot`.
pub fn metrics(snapshot: &Snapshot, site: &SiteInfo) -> String {
    let mut text = String::with_capacity(2048 + 1600 * snapshot.services.len());
    let out = &mut text;
    let version = label("version", site.version);
    family(
        out,
        "cortex_status_build_info",
        "The version of cortex-status that wrote this; always 1.",
    )
    .sample(&[&version], 1.0);
    family(
        out,
        "cortex_status_generated_timestamp_seconds",
        "When this snapshot was taken, in seconds since the Unix epoch.",
    )
    .sample(&[], timestamp(&snapshot.generated_at));
    family(
        out,
        "cortex_status_interval_seconds",
        "How often a snapshot is taken.",
    )
    .sample(&[], snapshot.interval_seconds.as_secs_f64());
    family(
        out,
        "cortex_status_errors",
        "Problems in this cycle that are not a service's status (see errors in status.json).",
    )
    .sample(&[], snapshot.errors.len() as f64);
    let mut f = family(
        out,
        "cortex_status_overall_status",
        "The worst status among the services: 1 for the current status word, 0 for the others.",
    );
    for (status, words) in STATUSES.iter().zip(STATUS_LABELS) {
        f.sample(&[words], flag(*status == snapshot.overall));
    }

    // The labels that name a service, escaped once: its slug (stable) and its name (for people).
    let services: Vec<(&Service, String)> = snapshot
        .services
        .iter()
        .map(|s| {
            // And its group, when it has one (an empty label is no label to Prometheus).
            let group = s
                .group
                .as_deref()
                .map(|g| format!(",{}", label("group", g)))
                .unwrap_or_default();
            (
                s,
                format!(
                    "{},{}{group}",
                    label("service", &s.slug),
                    label("name", &s.name)
                ),
            )
        })
        .collect();
    let mut f = family(
        out,
        "cortex_status_service_up",
        "Whether the service answered its last check: 1 when up or degraded, 0 when down, in maintenance or unknown.",
    );
    for (s, id) in &services {
        let kind = kind_label(s.kind);
        f.sample(
            &[id, kind],
            flag(matches!(s.status, Status::Up | Status::Degraded)),
        );
    }
    let mut f = family(
        out,
        "cortex_status_service_status",
        "The service's status: 1 for the current status word, 0 for the others.",
    );
    for (s, id) in &services {
        for (status, words) in STATUSES.iter().zip(STATUS_LABELS) {
            f.sample(&[id, words], flag(*status == s.status));
        }
    }
    let mut f = family(
        out,
        "cortex_status_service_latency_seconds",
        "Time to the service's answer in its last check; absent when it did not answer.",
    );
    for (s, id) in &services {
        if let Some(ms) = s.latency_ms {
            f.sample(&[id], ms / 1000.0);
        }
    }
    let mut f = family(
        out,
        "cortex_status_service_uptime_ratio",
        "Share of counted checks in the window that found the service available; absent when none was counted.",
    );
    for (s, id) in &services {
        let u = &s.uptime;
        let windows = [u.day, u.week, u.month, u.quarter, u.year];
        for (ratio, window) in windows.into_iter().zip(WINDOW_LABELS) {
            if let Some(ratio) = ratio {
                f.sample(&[id, window], ratio);
            }
        }
    }
    let mut f = family(
        out,
        "cortex_status_service_uptime_coverage_ratio",
        "Share of the window watched since the service's first check; the uptime ratio speaks only for that part.",
    );
    for (s, id) in &services {
        if s.observed_since.is_none() {
            continue;
        }
        let c = &s.uptime_coverage;
        let windows = [c.day, c.week, c.month, c.quarter, c.year];
        for (share, window) in windows.into_iter().zip(WINDOW_LABELS) {
            f.sample(&[id, window], share);
        }
    }
    let mut f = family(
        out,
        "cortex_status_service_checked_timestamp_seconds",
        "When the service's last check finished, in seconds since the Unix epoch.",
    );
    for (s, id) in &services {
        if let Some(t) = &s.checked_at {
            f.sample(&[id], timestamp(t));
        }
    }
    // The checks' own figures, read back from `details` (see `sense::probe`).
    let detail_time = |s: &crate::snapshot::Service, key: &str| {
        s.details
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| timestamp(&t.with_timezone(&Utc)))
    };
    let mut f = family(
        out,
        "cortex_status_cert_expiry_seconds",
        "When the TLS certificate of an https or tls service expires, in seconds since the Unix epoch.",
    );
    for (s, id) in &services {
        if let Some(t) = detail_time(s, "cert_expires_at") {
            f.sample(&[id], t);
        }
    }
    let mut f = family(
        out,
        "cortex_status_heartbeat_last_ping_timestamp_seconds",
        "When a heartbeat service was last pinged (or its file touched), in seconds since the Unix epoch.",
    );
    for (s, id) in &services {
        if s.kind == Kind::Heartbeat
            && let Some(t) = detail_time(s, "last_ping")
        {
            f.sample(&[id], t);
        }
    }

    let host = &snapshot.host;
    if let Some(load) = host.load {
        family(
            out,
            "cortex_status_host_load1",
            "Load average over 1 minute.",
        )
        .sample(&[], load.one);
        family(
            out,
            "cortex_status_host_load5",
            "Load average over 5 minutes.",
        )
        .sample(&[], load.five);
        family(
            out,
            "cortex_status_host_load15",
            "Load average over 15 minutes.",
        )
        .sample(&[], load.fifteen);
    }
    if let Some(v) = host.cpu_load_normalized {
        family(
            out,
            "cortex_status_host_cpu_load_normalized",
            "Load average over 1 minute divided by the CPU count: 1 means every core is busy.",
        )
        .sample(&[], v);
    }
    if let Some(memory) = host.memory {
        family(
            out,
            "cortex_status_host_memory_total_bytes",
            "Memory installed.",
        )
        .sample(&[], memory.total_bytes as f64);
        family(
            out,
            "cortex_status_host_memory_used_bytes",
            "Memory in use.",
        )
        .sample(&[], memory.used_bytes as f64);
    }
    let disks: Vec<_> = host
        .disks
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|d| (d, label("mount", &d.mount)))
        .collect();
    let mut f = family(
        out,
        "cortex_status_host_disk_total_bytes",
        "Size of the filesystem mounted at `mount`.",
    );
    for (d, mount) in &disks {
        f.sample(&[mount], d.total_bytes as f64);
    }
    let mut f = family(
        out,
        "cortex_status_host_disk_used_bytes",
        "Space in use on the filesystem mounted at `mount`.",
    );
    for (d, mount) in &disks {
        f.sample(&[mount], d.used_bytes as f64);
    }
    text
}

/// The `status` label of each of [`STATUSES`], in the same order.
const STATUS_LABELS: [&str; 5] = [
    "status=\"up\"",
    "status=\"degraded\"",
    "status=\"down\"",
    "status=\"maintenance\"",
    "status=\"unknown\"",
];

/// The `window` label of each [`crate::snapshot::Uptime`] field, in declaration order.
const WINDOW_LABELS: [&str; 5] = [
    "window=\"24h\"",
    "window=\"7d\"",
    "window=\"30d\"",
    "window=\"90d\"",
    "window=\"365d\"",
];

/// The `kind` label.
fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Http => "kind=\"http\"",
        Kind::Tcp => "kind=\"tcp\"",
        Kind::Systemd => "kind=\"systemd\"",
        Kind::Feed => "kind=\"feed\"",
        Kind::Tls => "kind=\"tls\"",
        Kind::Dns => "kind=\"dns\"",
        Kind::Ping => "kind=\"ping\"",
        Kind::Heartbeat => "kind=\"heartbeat\"",
        Kind::Host => "kind=\"host\"",
    }
}

/// A family about to be written: its `# HELP` and `# TYPE` lines go out with its first sample,
/// so a family with no sample leaves nothing behind.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
    help: &'static str,
    started: bool,
}

/// Every family here is a gauge. `help` is ours, never user-written, so it needs no escaping.
fn family<'a>(out: &'a mut String, name: &'static str, help: &'static str) -> Family<'a> {
    Family {
        out,
        name,
        help,
        started: false,
    }
}

impl Family<'_> {
    /// One sample; `labels` are `key="value"` pairs already escaped (see [`label`]).
    fn sample(&mut self, labels: &[&str], value: f64) {
        let out = &mut *self.out;
        if !self.started {
            self.started = true;
            let _ = write!(
                out,
                "# HELP {0} {1}\n# TYPE {0} gauge\n",
                self.name, self.help
            );
        }
        out.push_str(self.name);
        for (i, l) in labels.iter().enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            out.push_str(l);
        }
        if !labels.is_empty() {
            out.push('}');
        }
        out.push(' ');
        write_value(out, value);
        out.push('\n');
    }
}

/// `key="value"` with the value escaped.
fn label(key: &str, value: &str) -> String {
    let mut out = String::with_capacity(key.len() + value.len() + 3);
    out.push_str(key);
    out.push_str("=\"");
    escape_label_value(&mut out, value);
    out.push('"');
    out
}

fn flag(on: bool) -> f64 {
    f64::from(u8::from(on))
}

/// The format's escapes in a label value: backslash, double quote and line feed.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A sample value as Prometheus parses it: Rust's shortest round-trip decimal, and the
/// format's own spelling of the non-finite values.
fn write_value(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Seconds since the epoch, to the millisecond.
fn timestamp(t: &DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteInfo {
        SiteInfo {
            title: "T".into(),
            public_url: String::new(),
            version: "0.1.0",
            terminal_statuses: Vec::new(),
            tasks_missing: Vec::new(),
        }
    }

    fn lines_of<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|l| {
                l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} "))
            })
            .collect()
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let text = metrics(&crate::snapshot::example(), &site());
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(kind, "gauge");
                assert!(!declared.contains(&name.to_string()), "{name} twice");
                declared.push(name.to_string());
            } else if !line.starts_with("# HELP ") {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(declared.last().map(String::as_str), Some(name), "{line}");
            }
        }
        for name in &declared {
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "{name} has no HELP"
            );
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn services_have_a_state_set_and_their_figures() {
        let text = metrics(&crate::snapshot::example(), &site());
        let status = lines_of(&text, "cortex_status_service_status");
        assert_eq!(status.len(), 5 * 5);
        assert!(status.contains(
            &"cortex_status_service_status{service=\"database\",name=\"Database\",group=\"Backend\",status=\"down\"} 1"
        ));
        assert!(status.contains(
            &"cortex_status_service_status{service=\"database\",name=\"Database\",group=\"Backend\",status=\"up\"} 0"
        ));
        assert_eq!(status.iter().filter(|l| l.ends_with(" 1")).count(), 5);
        assert!(text.contains(
            "cortex_status_service_up{service=\"web-shop\",name=\"Web <shop>\",kind=\"http\"} 1\n"
        ));
        assert!(text.contains(
            "cortex_status_service_up{service=\"database\",name=\"Database\",group=\"Backend\",kind=\"http\"} 0\n"
        ));
        assert!(text.contains(
            "cortex_status_service_latency_seconds{service=\"symbiont-api\",name=\"Symbiont API\",group=\"Backend\"} 0.0032\n"
        ));
        assert!(text.contains(
            "cortex_status_service_checked_timestamp_seconds{service=\"mail\",name=\"Mail\"} 1795514400\n"
        ));
        assert!(text.contains("cortex_status_overall_status{status=\"down\"} 1\n"));
        assert!(text.contains("cortex_status_build_info{version=\"0.1.0\"} 1\n"));
        // The example has two: a disk not mounted (counted here, shown in the page's disks card) and
        // an on_publish failure.
        assert!(text.contains("cortex_status_errors 2\n"));
        assert!(text.contains("cortex_status_interval_seconds 5\n"));
        assert!(text.contains("cortex_status_host_disk_used_bytes{mount=\"/\"} 26843545600\n"));
    }

    #[test]
    fn a_null_is_left_out_not_printed_as_zero() {
        let text = metrics(&crate::snapshot::example(), &site());
        let coverage = lines_of(&text, "cortex_status_service_uptime_coverage_ratio");
        assert_eq!(coverage.len(), 5 * 5);
        assert!(coverage.contains(
            &"cortex_status_service_uptime_coverage_ratio{service=\"mail\",name=\"Mail\",window=\"90d\"} 0.665921"
        ), "{coverage:#?}");
        let uptime = lines_of(&text, "cortex_status_service_uptime_ratio");
        // Four windows each: the example's 365d is null.
        assert_eq!(uptime.len(), 5 * 4);
        assert!(!uptime.iter().any(|l| l.contains("window=\"365d\"")));
        assert!(uptime.contains(
            &"cortex_status_service_uptime_ratio{service=\"mail\",name=\"Mail\",window=\"7d\"} 0.999"
        ));
        // No latency for the services that did not answer.
        assert_eq!(
            lines_of(&text, "cortex_status_service_latency_seconds").len(),
            3
        );
    }

    #[test]
    fn hidden_host_figures_leave_no_family_behind() {
        let mut s = crate::snapshot::example();
        s.host.load = None;
        s.host.cpu_load_normalized = None;
        s.host.memory = None;
        s.host.disks = None;
        s.services.clear();
        let text = metrics(&s, &site());
        for gone in ["host_load", "cpu_load", "memory", "disk", "service_"] {
            assert!(!text.contains(gone), "{gone} still in\n{text}");
        }
        assert!(text.contains("cortex_status_generated_timestamp_seconds 1795514400\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = crate::snapshot::example();
        s.services[0].name = "a\\b \"quoted\"\nnext".into();
        s.host.disks.as_mut().unwrap()[0].mount = "/mnt/\"odd\"".into();
        let text = metrics(&s, &site());
        assert!(
            text.contains("name=\"a\\\\b \\\"quoted\\\"\\nnext\""),
            "{text}"
        );
        assert!(text.contains("{mount=\"/mnt/\\\"odd\\\"\"}"));
        assert!(
            text.lines().all(|l| !l.starts_with("next")),
            "no raw newline"
        );
    }

    #[test]
    fn values_are_spelled_as_prometheus_reads_them() {
        let f = |v: f64| {
            let mut s = String::new();
            write_value(&mut s, v);
            s
        };
        assert_eq!(f(1.0), "1");
        assert_eq!(f(0.0032), "0.0032");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(26_843_545_600.0), "26843545600");
    }
}
