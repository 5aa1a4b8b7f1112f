//! The host's own figures (load, memory, disks), folded from sysinfo into the snapshot's plain
//! fields.
//!
//! sysinfo is asked only for what the public outputs carry (`[host] public`): memory is not read
//! when it is not shown, and each disk is refreshed with one `statvfs`, without re-reading the
//! mount table every cycle. All of this is blocking file I/O, so the loop calls [`HostSampler::sample`]
//! off the async thread.

use crate::config::HostConfig;
use crate::snapshot::{Disk, Host, Load, Memory};
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, System};

pub struct HostSampler {
    config: HostConfig,
    system: System,
    disks: Disks,
    hostname: String,
    cpu_count: usize,
}

impl HostSampler {
    /// Fails only where sysinfo does not support the operating system.
    pub fn new(config: HostConfig) -> Result<HostSampler, sysinfo::Error> {
        let mut system = System::new()?;
        // The CPU list is read once: cores do not come and go on the servers this watches.
        system.refresh_cpu_list(CpuRefreshKind::nothing());
        let cpu_count = system.cpus().len().max(1);
        let hostname = System::host_name().unwrap_or_else(|_| "localhost".into());
        let mut sampler = HostSampler {
            config,
            system,
            disks: Disks::new()?,
            hostname,
            cpu_count,
        };
        if sampler.config.public.disks {
            relist(&mut sampler.disks);
        }
        Ok(sampler)
    }

    /// One reading of the host. Problems (a configured disk that is not mounted) come back as
    /// messages for the snapshot's `errors`, never as a failure of the whole reading.
    pub fn sample(&mut self) -> (Host, Vec<String>) {
        let mut errors = Vec::new();
        let public = self.config.public;
        let uptime_seconds = System::uptime().unwrap_or(0);

        let (load, cpu_load_normalized) = if public.load {
            match System::load_average() {
                Ok(l) => (
                    Some(Load {
                        one: round(l.one, 100.0),
                        five: round(l.five, 100.0),
                        fifteen: round(l.fifteen, 100.0),
                    }),
                    Some(round(l.one / self.cpu_count as f64, 1000.0)),
                ),
                Err(e) => {
                    errors.push(format!("host load: cannot be read: {e}"));
                    (None, None)
                }
            }
        } else {
            (None, None)
        };

        let memory = public.memory.then(|| {
            self.system
                .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
            let total = self.system.total_memory();
            let used = self.system.used_memory();
            Memory {
                total_bytes: total,
                used_bytes: used,
                used_ratio: ratio(used, total),
            }
        });

        let mut disks_missing = Vec::new();
        let disks = public.disks.then(|| self.sample_disks(&mut disks_missing));
        errors.extend(
            disks_missing
                .iter()
                .map(|m| crate::snapshot::missing_disk_error(m)),
        );

        let host = Host {
            hostname: self.hostname.clone(),
            uptime_seconds,
            cpu_count: self.cpu_count,
            load,
            cpu_load_normalized,
            memory,
            disks,
            disks_missing,
        };
        (host, errors)
    }

    /// The wanted disks that are mounted; those that are not go to `missing`.
    fn sample_disks(&mut self, missing_out: &mut Vec<String>) -> Vec<Disk> {
        // Borrowed field by field (not through `&mut self`), so the filter is not copied each cycle.
        let wanted = self.config.disks.as_deref();
        // A configured mount that is missing may have been mounted since the last listing: look
        // again before reporting it. Otherwise refresh only the usage of the disks we know.
        let missing = |disks: &Disks| {
            wanted.is_some_and(|w| {
                w.iter().any(|m| {
                    !disks
                        .iter()
                        .any(|d| d.mount_point().to_str() == Some(m.as_str()))
                })
            })
        };
        if missing(&self.disks) {
            relist(&mut self.disks);
        } else {
            for disk in self.disks.iter_mut() {
                disk.refresh_specifics(DiskRefreshKind::nothing().with_storage());
            }
        }

        let mut out: Vec<Disk> = Vec::new();
        for disk in self.disks.iter() {
            let mount = disk.mount_point().to_string_lossy().into_owned();
            let keep = match wanted {
                Some(w) => w.contains(&mount),
                None => disk.total_space() > 0,
            };
            // The same mount can be listed twice (bind mounts, overlays): report it once.
            if !keep || out.iter().any(|d| d.mount == mount) {
                continue;
            }
            let total = disk.total_space();
            let used = total.saturating_sub(disk.available_space());
            out.push(Disk {
                mount,
                total_bytes: total,
                used_bytes: used,
                used_ratio: ratio(used, total),
            });
        }
        if let Some(w) = wanted {
            for m in w {
                if !out.iter().any(|d| &d.mount == m) {
                    missing_out.push(m.clone());
                }
            }
            // Keep the order the user wrote.
            out.sort_by_key(|d| w.iter().position(|m| *m == d.mount));
        } else {
            out.sort_by(|a, b| a.mount.cmp(&b.mount));
        }
        out
    }
}

/// Of the mount points in `[host] disks`, those not mounted on this host now: for `check`,
/// which warns (a config may be written on another machine, so it is not a failure).
pub fn unmounted(wanted: &[String]) -> Vec<String> {
    // Where the mount table cannot be read, nothing can be said: no warning.
    let Ok(disks) = Disks::new_with_refreshed_list_specifics(DiskRefreshKind::nothing()) else {
        return Vec::new();
    };
    wanted
        .iter()
        .filter(|m| {
            !disks
                .iter()
                .any(|d| d.mount_point().to_str() == Some(m.as_str()))
        })
        .cloned()
        .collect()
}

/// Reads the mount table again, with each disk's usage.
fn relist(disks: &mut Disks) {
    disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round(part as f64 / whole as f64, 10_000.0)
    }
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HostPublic;

    fn sampler(public: HostPublic, disks: Option<Vec<String>>) -> HostSampler {
        HostSampler::new(HostConfig {
            disks,
            public,
            warn: None,
            critical: None,
        })
        .unwrap()
    }

    #[test]
    fn reads_this_host() {
        let all = HostPublic {
            load: true,
            memory: true,
            disks: true,
        };
        let (host, errors) = sampler(all, Some(vec!["/".into()])).sample();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(host.cpu_count >= 1);
        assert!(!host.hostname.is_empty());
        let mem = host.memory.unwrap();
        assert!(mem.total_bytes > 0 && mem.used_bytes <= mem.total_bytes);
        assert!((0.0..=1.0).contains(&mem.used_ratio));
        let disks = host.disks.unwrap();
        assert_eq!(disks.len(), 1);
        assert_eq!(disks[0].mount, "/");
        assert!(host.load.is_some() && host.cpu_load_normalized.is_some());
    }

    #[test]
    fn figures_left_out_of_public_are_not_read() {
        let none = HostPublic {
            load: false,
            memory: false,
            disks: false,
        };
        let (host, errors) = sampler(none, None).sample();
        assert!(errors.is_empty());
        assert!(host.load.is_none() && host.cpu_load_normalized.is_none());
        assert!(host.memory.is_none() && host.disks.is_none());
    }

    #[test]
    fn a_configured_disk_that_is_not_mounted_is_an_error_not_a_failure() {
        let disks = HostPublic {
            load: false,
            memory: false,
            disks: true,
        };
        let (host, errors) =
            sampler(disks, Some(vec!["/".into(), "/no/such/mount".into()])).sample();
        assert_eq!(host.disks.as_ref().unwrap().len(), 1);
        assert_eq!(
            errors,
            vec!["disk /no/such/mount: not mounted, or not readable"]
        );
        assert_eq!(host.disks_missing, vec!["/no/such/mount"]);
        assert_eq!(
            unmounted(&["/".into(), "/no/such/mount".into()]),
            vec!["/no/such/mount"]
        );
    }
}
