//! `metrics`: the snapshot in Prometheus' text exposition format (version 0.0.4).
//!
//! Printed from the same snapshot as `status.json` and the page, so a scrape and the page never
//! disagree. Every family is a gauge (the snapshot holds states and levels, not counts), has
//! `# HELP` and `# TYPE`, and is left out entirely when it would have no sample: host figures
//! hidden by `[host] public`, an uptime window with no counted check (`null` in the JSON),
//! a latency that was not measured. Services are labelled `service` (the slug, stable) and
//! `name` (as configured, for people). `scripts/test` checks the output with `promtool`.
//!
//! Written by hand rather than with a client library: there is no registry to keep and no
//! endpoint to serve, only a file printed once a cycle.

use crate::render::SiteInfo;
use crate::snapshot::{Service, Snapshot, Status};
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
    let mut out = Exposition {
        text: String::with_capacity(2048 + 1600 * snapshot.services.len()),
    };
    out.gauge(
        "cortex_status_build_info",
        "The version of cortex-status that wrote this; always 1.",
        [(vec![("version", site.version)], 1.0)],
    );
    out.gauge(
        "cortex_status_generated_timestamp_seconds",
        "When this snapshot was taken, in seconds since the Unix epoch.",
        [(vec![], timestamp(&snapshot.generated_at))],
    );
    out.gauge(
        "cortex_status_interval_seconds",
        "How often a snapshot is taken.",
        [(vec![], snapshot.interval_seconds.as_secs_f64())],
    );
    out.gauge(
        "cortex_status_errors",
        "Problems in this cycle that are not a service's status (see errors in status.json).",
        [(vec![], snapshot.errors.len() as f64)],
    );
    out.gauge(
        "cortex_status_overall_status",
        "The worst status among the services: 1 for the current status word, 0 for the others.",
        STATUSES.map(|s| {
            let value = f64::from(u8::from(s == snapshot.overall));
            (vec![("status", s.as_str())], value)
        }),
    );

    let services = &snapshot.services;
    out.gauge(
        "cortex_status_service_up",
        "Whether the service answered its last check: 1 when up or degraded, 0 when down, in maintenance or unknown.",
        services.iter().map(|s| {
            let up = matches!(s.status, Status::Up | Status::Degraded);
            let mut labels = id(s);
            labels.push(("kind", kind_word(s.kind)));
            (labels, f64::from(u8::from(up)))
        }),
    );
    out.gauge(
        "cortex_status_service_status",
        "The service's status: 1 for the current status word, 0 for the others.",
        services.iter().flat_map(|s| {
            STATUSES.map(|status| {
                let mut labels = id(s);
                labels.push(("status", status.as_str()));
                (labels, f64::from(u8::from(status == s.status)))
            })
        }),
    );
    out.gauge(
        "cortex_status_service_latency_seconds",
        "Time to the service's answer in its last check; absent when it did not answer.",
        services
            .iter()
            .filter_map(|s| Some((id(s), s.latency_ms? / 1000.0))),
    );
    out.gauge(
        "cortex_status_service_uptime_ratio",
        "Share of counted checks in the window that found the service available; absent when none was counted.",
        services.iter().flat_map(|s| {
            let u = &s.uptime;
            [
                ("24h", u.day),
                ("7d", u.week),
                ("30d", u.month),
                ("90d", u.quarter),
                ("365d", u.year),
            ]
            .into_iter()
            .filter_map(move |(window, ratio)| {
                let mut labels = id(s);
                labels.push(("window", window));
                Some((labels, ratio?))
            })
        }),
    );
    out.gauge(
        "cortex_status_service_checked_timestamp_seconds",
        "When the service's last check finished, in seconds since the Unix epoch.",
        services
            .iter()
            .filter_map(|s| Some((id(s), timestamp(s.checked_at.as_ref()?)))),
    );

    let host = &snapshot.host;
    if let Some(load) = host.load {
        for (name, help, value) in [
            (
                "cortex_status_host_load1",
                "Load average over 1 minute.",
                load.one,
            ),
            (
                "cortex_status_host_load5",
                "Load average over 5 minutes.",
                load.five,
            ),
            (
                "cortex_status_host_load15",
                "Load average over 15 minutes.",
                load.fifteen,
            ),
        ] {
            out.gauge(name, help, [(vec![], value)]);
        }
    }
    out.gauge(
        "cortex_status_host_cpu_load_normalized",
        "Load average over 1 minute divided by the CPU count: 1 means every core is busy.",
        host.cpu_load_normalized.map(|v| (vec![], v)),
    );
    if let Some(memory) = host.memory {
        out.gauge(
            "cortex_status_host_memory_total_bytes",
            "Memory installed.",
            [(vec![], memory.total_bytes as f64)],
        );
        out.gauge(
            "cortex_status_host_memory_used_bytes",
            "Memory in use.",
            [(vec![], memory.used_bytes as f64)],
        );
    }
    let disks = host.disks.as_deref().unwrap_or_default();
    out.gauge(
        "cortex_status_host_disk_total_bytes",
        "Size of the filesystem mounted at `mount`.",
        disks
            .iter()
            .map(|d| (vec![("mount", d.mount.as_str())], d.total_bytes as f64)),
    );
    out.gauge(
        "cortex_status_host_disk_used_bytes",
        "Space in use on the filesystem mounted at `mount`.",
        disks
            .iter()
            .map(|d| (vec![("mount", d.mount.as_str())], d.used_bytes as f64)),
    );
    out.text
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// The labels that name a service: its slug (stable) and its name (for people).
fn id(s: &Service) -> Labels<'_> {
    vec![("service", s.slug.as_str()), ("name", s.name.as_str())]
}

struct Exposition {
    text: String,
}

impl Exposition {
    /// Writes one gauge family: HELP and TYPE, then its samples; nothing when there are none.
    /// `help` is ours, never user-written, so it needs no escaping.
    fn gauge<'a>(
        &mut self,
        name: &str,
        help: &str,
        samples: impl IntoIterator<Item = (Labels<'a>, f64)>,
    ) {
        let mut samples = samples.into_iter().peekable();
        if samples.peek().is_none() {
            return;
        }
        let _ = write!(self.text, "# HELP {name} {help}\n# TYPE {name} gauge\n");
        for (labels, value) in samples {
            self.text.push_str(name);
            for (i, (label, v)) in labels.iter().enumerate() {
                self.text.push(if i == 0 { '{' } else { ',' });
                self.text.push_str(label);
                self.text.push_str("=\"");
                escape_label_value(&mut self.text, v);
                self.text.push('"');
            }
            if !labels.is_empty() {
                self.text.push('}');
            }
            self.text.push(' ');
            write_value(&mut self.text, value);
            self.text.push('\n');
        }
    }
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

fn kind_word(kind: crate::snapshot::Kind) -> &'static str {
    use crate::snapshot::Kind;
    match kind {
        Kind::Http => "http",
        Kind::Tcp => "tcp",
        Kind::Systemd => "systemd",
        Kind::Feed => "feed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::example_snapshot;

    fn site() -> SiteInfo {
        SiteInfo {
            title: "T".into(),
            public_url: String::new(),
            version: "0.1.0",
            terminal_statuses: Vec::new(),
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
        let text = metrics(&example_snapshot(), &site());
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
        let text = metrics(&example_snapshot(), &site());
        let status = lines_of(&text, "cortex_status_service_status");
        assert_eq!(status.len(), 5 * 5);
        assert!(status.contains(
            &"cortex_status_service_status{service=\"database\",name=\"Database\",status=\"down\"} 1"
        ));
        assert!(status.contains(
            &"cortex_status_service_status{service=\"database\",name=\"Database\",status=\"up\"} 0"
        ));
        assert_eq!(status.iter().filter(|l| l.ends_with(" 1")).count(), 5);
        assert!(text.contains(
            "cortex_status_service_up{service=\"web-shop\",name=\"Web <shop>\",kind=\"http\"} 1\n"
        ));
        assert!(text.contains(
            "cortex_status_service_up{service=\"database\",name=\"Database\",kind=\"http\"} 0\n"
        ));
        assert!(text.contains(
            "cortex_status_service_latency_seconds{service=\"symbiont-api\",name=\"Symbiont API\"} 0.0032\n"
        ));
        assert!(text.contains(
            "cortex_status_service_checked_timestamp_seconds{service=\"mail\",name=\"Mail\"} 1795514400\n"
        ));
        assert!(text.contains("cortex_status_overall_status{status=\"down\"} 1\n"));
        assert!(text.contains("cortex_status_build_info{version=\"0.1.0\"} 1\n"));
        assert!(text.contains("cortex_status_errors 1\n"));
        assert!(text.contains("cortex_status_interval_seconds 5\n"));
        assert!(text.contains("cortex_status_host_disk_used_bytes{mount=\"/\"} 26843545600\n"));
    }

    #[test]
    fn a_null_is_left_out_not_printed_as_zero() {
        let text = metrics(&example_snapshot(), &site());
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
        let mut s = example_snapshot();
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
        let mut s = example_snapshot();
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
