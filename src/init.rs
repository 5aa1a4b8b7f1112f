//! `cortex-status init`: a commented starter config, with what this host runs ready to enable.
//!
//! It owns finding the services a person would want on the page (known servers listening on
//! loopback, from `/proc/net/tcp` and `tcp6`; active systemd units of common servers, from
//! `systemctl`), writing each as a commented-out `[[service]]`, and putting the file in place
//! atomically without ever replacing one that exists. Detection is parsing of text, kept apart
//! from reading it, so the tests can hand it any `/proc` or `systemctl` output.
//!
//! **Why one file of ~460 lines (and its tests).** It is one command: detect, then write the
//! starter text; the detection helpers are used nowhere else.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Ports of servers worth a tcp check, with the name the page shows. Each name is distinct in
/// its slug, so any set of them can be enabled together.
const KNOWN_PORTS: &[(u16, &str)] = &[
    (22, "SSH"),
    (25, "Mail (SMTP)"),
    (80, "Web server"),
    (443, "Web server (TLS)"),
    (2019, "Caddy admin"),
    (3306, "MySQL"),
    (5432, "PostgreSQL"),
    (5672, "RabbitMQ"),
    (6379, "Redis"),
    (8080, "Web server on 8080"),
    (9090, "Prometheus"),
    (9200, "Elasticsearch"),
    (11211, "memcached"),
    (27017, "MongoDB"),
];

/// systemd services of common servers (the unit name without `.service`; `NAME@instance` too).
const KNOWN_UNITS: &[&str] = &[
    "apache2",
    "caddy",
    "containerd",
    "docker",
    "dovecot",
    "elasticsearch",
    "grafana-server",
    "haproxy",
    "httpd",
    "mariadb",
    "memcached",
    "mongod",
    "mysql",
    "mysqld",
    "nginx",
    "postfix",
    "postgresql",
    "prometheus",
    "rabbitmq-server",
    "redis",
    "redis-server",
    "ssh",
    "sshd",
    "traefik",
    "valkey-server",
];

/// How long `systemctl` may take; on a host with a wedged D-Bus it would otherwise hang `init`.
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(5);

/// What was found on this host.
#[derive(Debug, Clone)]
pub struct Found {
    /// Known ports listening on loopback (or on every address), with the address to check.
    pub ports: Vec<Listener>,
    /// Active units of known servers, or why systemd could not be asked.
    pub units: Result<Vec<String>, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub port: u16,
    pub name: &'static str,
    /// `127.0.0.1:PORT`, or `[::1]:PORT` when it listens on IPv6 only.
    pub address: String,
}

/// Writes the starter config to `path` (default `cortex-status.toml` here); returns what to
/// tell the person.
pub fn run(path: Option<&Path>) -> anyhow::Result<String> {
    let path = path.map_or_else(
        || PathBuf::from(crate::config::DEFAULT_FILE),
        Path::to_path_buf,
    );
    if path.is_dir() {
        bail!(
            "{} is a directory; give the file's path, like {}",
            path.display(),
            path.join(crate::config::DEFAULT_FILE).display()
        );
    }
    if path.exists() {
        bail!(
            "{} exists; init never overwrites a config (move it away, or give another --config PATH)",
            path.display()
        );
    }
    let found = detect();
    let text = render(&found, &hostname());
    write_new(&path, &text)?;
    let mut report = format!("wrote {}", path.display());
    let names: Vec<String> = found
        .ports
        .iter()
        .map(|l| l.name.to_string())
        .chain(found.units.iter().flatten().cloned())
        .collect();
    if names.is_empty() {
        report.push_str(": no known services found on this host");
    } else {
        let _ = write!(
            report,
            ": {} found on this host, commented out for you to enable: {}",
            names.len(),
            names.join(", ")
        );
    }
    if let Err(why) = &found.units {
        let _ = write!(report, "\nsystemd units were not looked at: {why}");
    }
    let _ = write!(
        report,
        "\nnext: edit it, then run `cortex-status check --config {}`",
        path.display()
    );
    Ok(report)
}

/// Looks at this host: `/proc/net/tcp{,6}` and `systemctl`.
pub fn detect() -> Found {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    Found {
        ports: known_listeners(&read("/proc/net/tcp"), &read("/proc/net/tcp6")),
        units: systemctl_active_units().map(|list| known_units(&list)),
    }
}

/// The known ports among the sockets listening on loopback or on every address, in
/// `/proc/net/tcp` and `/proc/net/tcp6` text. Lines that do not parse are skipped: the file is
/// the kernel's, and a format it may grow must not stop `init`.
pub fn known_listeners(tcp: &str, tcp6: &str) -> Vec<Listener> {
    // port -> whether an IPv4 socket (or a dual-stack wildcard) serves it.
    let mut ports: BTreeMap<u16, bool> = BTreeMap::new();
    for line in tcp.lines().chain(tcp6.lines()) {
        let Some((ip, port)) = listening_local(line) else {
            continue;
        };
        let v4 = match ip {
            IpAddr::V4(a) => a.is_loopback() || a.is_unspecified(),
            IpAddr::V6(a) => {
                // `::` takes IPv4 too unless the socket is v6-only, which is not shown here;
                // 127.0.0.1 is the address most likely to answer then.
                a.is_unspecified()
                    || a.to_ipv4_mapped()
                        .is_some_and(|m| m.is_loopback() || m.is_unspecified())
            }
        };
        let loopback = v4 || matches!(ip, IpAddr::V6(a) if a.is_loopback());
        if loopback {
            *ports.entry(port).or_default() |= v4;
        }
    }
    ports
        .into_iter()
        .filter_map(|(port, v4)| {
            let name = KNOWN_PORTS.iter().find(|(p, _)| *p == port)?.1;
            let address = if v4 {
                format!("127.0.0.1:{port}")
            } else {
                format!("[::1]:{port}")
            };
            Some(Listener {
                port,
                name,
                address,
            })
        })
        .collect()
}

/// The local address of a line of `/proc/net/tcp{,6}` whose socket listens (state `0A`).
fn listening_local(line: &str) -> Option<(IpAddr, u16)> {
    let mut fields = line.split_whitespace();
    let _slot = fields.next().filter(|s| s.ends_with(':'))?;
    let local = fields.next()?;
    let _remote = fields.next()?;
    if fields.next()? != "0A" {
        return None;
    }
    let (addr, port) = local.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // The kernel prints each 32-bit word of the address as a number in the host's byte order:
    // read each word back the same way to get the bytes in network order.
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(i * 8..i * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some((ip, port))
}

/// The known servers in `systemctl list-units --plain --no-legend` output, as unit names.
pub fn known_units(list: &str) -> Vec<String> {
    let mut units: Vec<String> = list
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|unit| {
            let Some(stem) = unit.strip_suffix(".service") else {
                return false;
            };
            let base = stem.split_once('@').map_or(stem, |(b, _)| b);
            KNOWN_UNITS.contains(&base)
                // As the config will take it (see `config`): no option, no odd character.
                && unit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ":-_.@\\".contains(c))
        })
        .map(str::to_string)
        .collect();
    units.sort();
    units.dedup();
    units
}

/// The active services as systemctl lists them, or a short reason why it could not.
fn systemctl_active_units() -> Result<String, String> {
    let mut child = std::process::Command::new("systemctl")
        .args([
            "list-units",
            "--type=service",
            "--state=active",
            "--no-legend",
            "--plain",
            "--no-pager",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "systemctl is not installed".to_string(),
            _ => format!("systemctl could not be started ({e})"),
        })?;
    // The output of a few hundred units fits the pipe; read it after the exit.
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < SYSTEMCTL_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "systemctl did not answer within {}s",
                    SYSTEMCTL_TIMEOUT.as_secs()
                ));
            }
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read as _;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if status.success() {
        Ok(out)
    } else {
        Err(short_reason(&err))
    }
}

/// systemctl's complaint, as one short line for a comment.
fn short_reason(stderr: &str) -> String {
    if stderr.contains("not been booted with systemd")
        || stderr.contains("Failed to connect to bus")
    {
        return "systemd is not running on this host".into();
    }
    let first = stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    let mut line: String = first.trim().chars().take(100).collect();
    if first.trim().chars().count() > 100 {
        line.push('…');
    }
    format!("systemctl failed: {line}")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this host".into())
}

/// A TOML basic string, quoted and escaped.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// The starter config. Everything it leaves uncommented is a default, so `check` accepts it as
/// written; each service found is a commented block to enable.
pub fn render(found: &Found, host: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "# cortex-status configuration, written by `cortex-status init` on {}.",
        host.replace(['\n', '\r'], " ")
    );
    t.push_str(
        r#"#
# Every key is optional; an unknown key is an error. Run `cortex-status check --config FILE`
# after each change. Relative paths are relative to this file.
# Durations: a number and a unit, like "5s", "250ms", "2 minutes" or "1h 30m"
# (units: ms, s, m, h, d).
# Secrets (the task form's password, Symbiont's token) never go in this file: they come from
# the environment, see `cortex-status --help`.

"#,
    );
    let _ = writeln!(t, "title = {}", quoted(&format!("{host} status")));
    t.push_str(
        r#"# public_url = "https://status.example.net"  # absolute links, feed ids, the allowed Origin
out_dir = "public"                 # the web root your web server serves, e.g. /var/www/status
state_dir = "state"                # history behind uptime; never served, e.g. /var/lib/cortex-status
interval = "5s"                    # how often to check and publish (10ms to 1 day)
# on_publish = "rclone sync . remote:status"  # run after each publish, in out_dir
# on_publish_timeout = "60s"

[host]
public = ["load", "memory", "disks"]  # the host figures the public page and feed show
# disks = ["/", "/data"]              # the mount points to show; default: every disk

# Services: each [[service]] is one entry on the page. Kinds: http, tcp, systemd, feed.
# timeout (default "5s", at most 1h) and degraded_after (slower is "degraded") apply to all.
#
# [[service]]
# name = "My API"
# kind = "http"
# url = "http://127.0.0.1:8111/status"   # up on any 2xx, or list expect_status = [200, 204]
# degraded_after = "1s"
#
# [[service]]
# name = "Other site"
# kind = "feed"                          # another cortex-status, by its status.json
# url = "https://edge-2.example.net/status.json"
"#,
    );
    t.push_str("\n# Found on this host: uncomment the services you want on the page.\n");
    if found.ports.is_empty() {
        t.push_str("#\n# No known server is listening on loopback.\n");
    }
    for l in &found.ports {
        let _ = write!(
            t,
            "#\n# Listening on port {port}.\n# [[service]]\n# name = {name}\n# kind = \"tcp\"\n# address = {address}\n",
            port = l.port,
            name = quoted(l.name),
            address = quoted(&l.address),
        );
        if matches!(l.port, 80 | 8080) {
            t.push_str(
                "# (or kind = \"http\" with url = \"http://…/a-path\", to check what it answers)\n",
            );
        }
    }
    match &found.units {
        Err(why) => {
            let _ = write!(t, "#\n# systemd units were not looked at: {why}.\n");
        }
        Ok(units) if units.is_empty() => {
            t.push_str("#\n# No active systemd unit of a known server.\n");
        }
        Ok(units) => {
            for unit in units {
                let stem = unit.strip_suffix(".service").unwrap_or(unit);
                let _ = write!(
                    t,
                    "#\n# An active systemd unit.\n# [[service]]\n# name = {name}\n# kind = \"systemd\"\n# unit = {unit}\n",
                    name = quoted(&format!("{stem} (systemd)")),
                    unit = quoted(unit),
                );
            }
        }
    }
    t.push_str(
        r#"
[api]
listen = "127.0.0.1:4000"  # /api/health, the task endpoint, and a preview of out_dir
serve_public = true        # false when a web server serves out_dir (production)
"#,
    );
    t
}

/// Puts `text` at `path` atomically (a temporary file in the same directory, then a link that
/// fails if the name exists), so neither a reader nor a second `init` sees half a file, and an
/// existing file is never replaced, not even one created since the check above.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        );
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".init-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    // No secret lives in the config, and the service's own user must be able to read it.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .with_context(|| format!("cannot set the mode of {}", tmp.path().display()))?;
    tmp.persist_noclobber(path).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists; init never overwrites a config (move it away, or give another --config PATH)",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {}", path.display(), e.error)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Check, Config, Env};

    /// As the kernel prints it on a little-endian machine (the tests run on one; the parser
    /// reads words in the host's order either way).
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 20363 1 0000000000000000 100 0 0 10 0
   1: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 20364 1 0000000000000000 100 0 0 10 0
   2: 0100007F:D431 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 30001 1 0000000000000000 100 0 0 10 0
   3: 0A00000A:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 30002 1 0000000000000000 100 0 0 10 0
   4: 0100007F:1538 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   112        0 20365 1 0000000000000000 100 0 0 10 0
   5: garbage
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:6989 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 40002 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn known_ports_listening_on_loopback_are_found() {
        let found = known_listeners(TCP, TCP6);
        // 5432 on 127.0.0.1, 6379 on 0.0.0.0, 27017 on ::1 only, 80 on :: (dual stack).
        // Not: 54321 (unknown), 3306 on 10.0.0.10 (not loopback), 5432's connection (not
        // listening), the garbage line.
        let got: Vec<(u16, &str)> = found.iter().map(|l| (l.port, l.address.as_str())).collect();
        assert_eq!(
            got,
            [
                (80, "127.0.0.1:80"),
                (5432, "127.0.0.1:5432"),
                (6379, "127.0.0.1:6379"),
                (27017, "[::1]:27017"),
            ]
        );
        assert_eq!(found[1].name, "PostgreSQL");
        assert!(known_listeners("", "").is_empty());
    }

    /// The byte order, against the real kernel: a listener this test opens is read back with
    /// its address and port.
    #[test]
    fn a_real_listener_is_read_back_from_proc() {
        let v4 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let v4_port = v4.local_addr().unwrap().port();
        let v6 = std::net::TcpListener::bind("[::1]:0").ok();
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let tcp = read("/proc/net/tcp");
        assert!(
            tcp.lines()
                .filter_map(listening_local)
                .any(|s| s == (IpAddr::V4(Ipv4Addr::LOCALHOST), v4_port)),
            "127.0.0.1:{v4_port} not found in:\n{tcp}"
        );
        if let Some(v6) = v6 {
            let port = v6.local_addr().unwrap().port();
            let tcp6 = read("/proc/net/tcp6");
            assert!(
                tcp6.lines()
                    .filter_map(listening_local)
                    .any(|s| s == (IpAddr::V6(Ipv6Addr::LOCALHOST), port)),
                "[::1]:{port} not found in:\n{tcp6}"
            );
        }
    }

    #[test]
    fn known_units_are_picked_from_systemctl_output() {
        let list = "nginx.service loaded active running A high performance web server\n\
                    postgresql@16-main.service loaded active running PostgreSQL Cluster 16-main\n\
                    cron.service loaded active running Regular background program processing daemon\n\
                    redis-server.service loaded active running Advanced key-value store\n\
                    nginx.socket loaded active listening whatever\n";
        assert_eq!(
            known_units(list),
            [
                "nginx.service",
                "postgresql@16-main.service",
                "redis-server.service"
            ]
        );
    }

    #[test]
    fn systemctl_on_a_host_without_systemd_is_one_short_reason() {
        let text = "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n";
        assert_eq!(short_reason(text), "systemd is not running on this host");
        let long = "x".repeat(500);
        assert!(short_reason(&long).chars().count() < 130);
    }

    fn uncomment_services(text: &str) -> String {
        text.lines()
            .map(|l| {
                let body = l.strip_prefix("# ").unwrap_or(l);
                let is_service_line = body == "[[service]]"
                    || [
                        "name = ",
                        "kind = ",
                        "url = ",
                        "address = ",
                        "unit = ",
                        "degraded_after = ",
                    ]
                    .iter()
                    .any(|k| body.starts_with(k));
                if is_service_line { body } else { l }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_starter_config_is_valid_as_written_and_with_every_service_enabled() {
        let ports: Vec<Listener> = KNOWN_PORTS
            .iter()
            .map(|&(port, name)| Listener {
                port,
                name,
                address: format!("127.0.0.1:{port}"),
            })
            .collect();
        let units: Vec<String> = KNOWN_UNITS.iter().map(|u| format!("{u}.service")).collect();
        let found = Found {
            ports: ports.clone(),
            units: Ok(units.clone()),
        };
        let text = render(&found, "box \"1\"");
        let path = Path::new("/nowhere/cortex-status.toml");
        let config =
            Config::parse(&text, path, &Env::new()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(config.services.is_empty(), "every service is commented out");
        assert_eq!(config.title, "box \"1\" status");

        // Every suggestion, enabled at once, is a valid service with its own slug.
        let enabled = uncomment_services(&text);
        let config =
            Config::parse(&enabled, path, &Env::new()).unwrap_or_else(|e| panic!("{e}\n{enabled}"));
        // The two examples, then what was found.
        assert_eq!(
            config.services.len(),
            2 + ports.len() + units.len(),
            "{enabled}"
        );
        let postgres = config
            .services
            .iter()
            .find(|s| s.name == "PostgreSQL")
            .unwrap();
        assert!(matches!(&postgres.check, Check::Tcp { address } if address == "127.0.0.1:5432"));
        assert!(
            config
                .services
                .iter()
                .any(|s| matches!(&s.check, Check::Systemd { unit } if unit == "nginx.service"))
        );
    }

    #[test]
    fn without_systemd_the_file_says_why() {
        let found = Found {
            ports: Vec::new(),
            units: Err("systemd is not running on this host".into()),
        };
        let text = render(&found, "h");
        assert!(
            text.contains(
                "# systemd units were not looked at: systemd is not running on this host."
            ),
            "{text}"
        );
        assert!(text.contains("No known server is listening"), "{text}");
        Config::parse(&text, Path::new("c.toml"), &Env::new()).unwrap();
    }
}
