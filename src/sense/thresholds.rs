//! Host thresholds: `[host] warn` and `critical` turn the host's figures into a service-like
//! entry (slug `host`) that counts toward `overall`, the history and incidents.
//!
//! Each figure past its `critical` ratio makes the entry `down`, past `warn` `degraded`; the
//! message names every figure past a limit in words ("disk /data 95 % full"), so the card says
//! why and not only in colour. Only figures the host sampler reads count: `[host] public` also
//! decides what is sampled.

use crate::config::{HostConfig, Thresholds};
use crate::snapshot::{Host, Status};
use serde_json::{Map, Value, json};

/// Which ratio of a [`Thresholds`] applies to a figure.
type Limit = fn(&Thresholds) -> Option<f64>;

/// The slug (and name) of the host entry.
pub const SLUG: &str = crate::snapshot::HOST_SLUG;

/// The host entry's status, reason and details; `None` when no threshold is set.
pub fn judge(
    config: &HostConfig,
    host: &Host,
) -> Option<(Status, Option<String>, Map<String, Value>)> {
    if config.warn.is_none() && config.critical.is_none() {
        return None;
    }
    // (words, ratio, its limits)
    let mut figures: Vec<(String, f64, Limit)> = Vec::new();
    if let Some(disks) = &host.disks {
        for d in disks {
            figures.push((
                format!("disk {} {:.0} % full", d.mount, d.used_ratio * 100.0),
                d.used_ratio,
                |t| t.disk,
            ));
        }
    }
    if let Some(m) = &host.memory {
        figures.push((
            format!("memory {:.0} % used", m.used_ratio * 100.0),
            m.used_ratio,
            |t| t.memory,
        ));
    }
    if let Some(l) = host.cpu_load_normalized {
        figures.push((format!("load {l:.2} per core"), l, |t| t.load_per_core));
    }
    let mut status = Status::Up;
    let mut reasons = Vec::new();
    let mut details = Map::new();
    for (words, ratio, limit) in figures {
        let critical = config.critical.as_ref().and_then(limit);
        let warn = config.warn.as_ref().and_then(limit);
        if critical.is_some_and(|c| ratio >= c) {
            status = Status::Down;
            reasons.push(format!("{words} (critical at {})", shown(critical)));
        } else if warn.is_some_and(|w| ratio >= w) {
            status = status.max(Status::Degraded);
            reasons.push(format!("{words} (warn at {})", shown(warn)));
        }
    }
    details.insert("figures_past_limits".into(), json!(reasons.len()));
    let error = (!reasons.is_empty()).then(|| reasons.join("; "));
    Some((status, error, details))
}

fn shown(limit: Option<f64>) -> String {
    limit.map(|l| format!("{l}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Disk, Memory};

    #[test]
    fn figures_past_limits_are_named_in_words() {
        let t = |disk, memory| Thresholds {
            disk: Some(disk),
            memory: Some(memory),
            load_per_core: None,
        };
        let config = HostConfig {
            disks: None,
            public: crate::config::HostPublic {
                load: true,
                memory: true,
                disks: true,
            },
            warn: Some(t(0.85, 0.9)),
            critical: Some(t(0.95, 0.97)),
        };
        let mut host = Host {
            disks: Some(vec![Disk {
                mount: "/data".into(),
                total_bytes: 100,
                used_bytes: 96,
                used_ratio: 0.96,
            }]),
            memory: Some(Memory {
                total_bytes: 100,
                used_bytes: 50,
                used_ratio: 0.5,
            }),
            ..Host::default()
        };
        let (s, e, _) = judge(&config, &host).unwrap();
        assert_eq!(s, Status::Down);
        assert_eq!(e.unwrap(), "disk /data 96 % full (critical at 0.95)");
        host.disks.as_mut().unwrap()[0].used_ratio = 0.9;
        let (s, e, _) = judge(&config, &host).unwrap();
        assert_eq!(s, Status::Degraded);
        assert_eq!(e.unwrap(), "disk /data 90 % full (warn at 0.85)");
        host.disks.as_mut().unwrap()[0].used_ratio = 0.1;
        assert_eq!(judge(&config, &host).unwrap().0, Status::Up);
        let none = HostConfig {
            warn: None,
            critical: None,
            ..config
        };
        assert!(judge(&none, &host).is_none());
    }
}
