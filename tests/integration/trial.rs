//! `scripts/try-caddy`, the local trial of the production setup: it starts the daemon and Caddy
//! with the repository's Caddyfile on the loopback ports it is given, Caddy answers with the
//! production headers and proxies /api/*, nothing listens beyond loopback, and Ctrl-C or
//! SIGTERM stops both and removes its scratch directory. The deploy tests' own Caddy
//! (tests/common/caddy.rs) is held to the same loopback-only rule.

use crate::common::caddy::Caddy;
use crate::common::{BIN, get, wait_until};
use crate::deploy::CSP;
use rustix::process::{Pid, Signal};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The trial script, in its own process group as a shell starts a foreground job (so a
/// Ctrl-C can be sent to the group, as a terminal does), its output in a file.
struct Trial {
    child: Child,
    out: tempfile::NamedTempFile,
    port: u16,
    api_port: u16,
}

impl Trial {
    fn start() -> Trial {
        let out = tempfile::NamedTempFile::new().unwrap();
        let (port, api_port) = (free_port(), free_port());
        // Through `env --default-signal`: a suite started as a background job of a script
        // (`scripts/test &`) runs with SIGINT ignored, which bash passes on and lets no trap
        // undo, so the Ctrl-C test would see no Ctrl-C. At a terminal it is never ignored.
        let child = Command::new("env")
            .arg("--default-signal=INT,QUIT,TERM")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/try-caddy"))
            .args([
                "--port",
                &port.to_string(),
                "--api-port",
                &api_port.to_string(),
            ])
            .args(["--bin", BIN])
            .stdin(Stdio::null())
            .stdout(out.reopen().unwrap())
            .stderr(out.reopen().unwrap())
            .process_group(0)
            .spawn()
            .expect("cannot start scripts/try-caddy");
        let mut trial = Trial {
            child,
            out,
            port,
            api_port,
        };
        wait_until(
            "try-caddy says it is ready",
            Duration::from_secs(60),
            || {
                assert!(
                    trial.child.try_wait().unwrap().is_none(),
                    "try-caddy ended:\n{}",
                    trial.output()
                );
                trial.output().contains("Ctrl-C stops both")
            },
        );
        trial
    }

    fn output(&self) -> String {
        let mut s = String::new();
        std::fs::File::open(self.out.path())
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32).unwrap()
    }

    /// The scratch directory the script named.
    fn scratch(&self) -> PathBuf {
        let out = self.output();
        let line = out
            .lines()
            .find_map(|l| l.trim().strip_prefix("out_dir "))
            .unwrap_or_else(|| panic!("no out_dir line in:\n{out}"));
        Path::new(line).parent().unwrap().to_path_buf()
    }

    /// Waits for the script to end; its exit code (None: killed by a signal).
    fn wait_end(&mut self) -> Option<i32> {
        wait_until("try-caddy to stop", Duration::from_secs(30), || {
            self.child.try_wait().unwrap().is_some()
        });
        self.child.wait().unwrap().code()
    }
}

impl Drop for Trial {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process_group(self.pid(), Signal::KILL);
        let _ = self.child.wait();
    }
}

/// The processes whose parent is `parent`, with their command names.
fn children(parent: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces, so split after its last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let ppid = stat[close + 1..].split_whitespace().nth(1);
        if ppid == Some(&parent.to_string()) {
            found.push((pid, stat[open + 1..close].to_string()));
        }
    }
    found
}

/// The listening TCP sockets of process `pid`, as (address as /proc/net shows it, port), from
/// its file descriptors matched against /proc/net/tcp and tcp6.
fn listening_sockets(pid: u32) -> Vec<(String, u16)> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table).unwrap().lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address is field 1 (HEXADDR:HEXPORT), st field 3 (0A = LISTEN), inode 9.
            if fields.len() > 9 && fields[3] == "0A" && inodes.iter().any(|i| i == fields[9]) {
                let (addr, port) = fields[1].split_once(':').unwrap();
                found.push((addr.to_string(), u16::from_str_radix(port, 16).unwrap()));
            }
        }
    }
    found
}

/// 127.0.0.1 and ::1 as /proc/net/tcp{,6} write them (32-bit words in host order).
fn is_loopback(hex: &str) -> bool {
    hex == "0100007F" || hex == "00000000000000000000000001000000"
}

fn serves_like_production(trial: &Trial) {
    let page = get(trial.addr(), "/");
    assert_eq!(page.status, 200, "{}", trial.output());
    assert_eq!(page.header("content-security-policy"), Some(CSP));
    assert_eq!(page.header("cache-control"), Some("public, no-cache"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        page.header("server"),
        None,
        "Caddy's Server header is removed"
    );
    assert!(page.text().contains("Cortex Status (local trial)"));
    // The endpoint, through Caddy's reverse_proxy.
    let health = get(trial.addr(), "/api/health");
    assert_eq!(health.status, 200);
    assert!(
        health.text().contains("\"status\":\"ok\""),
        "{}",
        health.text()
    );
    // Dot-files (the publisher's temporary files) are refused, as in production.
    assert_eq!(get(trial.addr(), "/.index.html.tmp").status, 404);
    // The demo opens on a page with nothing wrong: Caddy is up before its first check.
    let status: serde_json::Value =
        serde_json::from_slice(&get(trial.addr(), "/status.json").body).unwrap();
    let services = status["services"].as_array().unwrap();
    assert_eq!(services.len(), 2, "{status}");
    for s in services {
        assert_eq!(s["status"], "up", "{s}");
    }
    assert_eq!(status["incidents"], serde_json::json!([]), "{status}");
}

/// Caddy and the daemon listen on the given ports, on loopback and nowhere else.
fn binds_loopback_only(trial: &Trial) {
    let kids = children(trial.child.id());
    let pid_of = |name: &str| {
        kids.iter()
            .find(|(_, comm)| comm == name)
            .unwrap_or_else(|| panic!("no {name} under try-caddy: {kids:?}"))
            .0
    };
    for (name, port) in [("caddy", trial.port), ("cortex-status", trial.api_port)] {
        let sockets = listening_sockets(pid_of(name));
        assert!(
            sockets.iter().any(|(_, p)| *p == port),
            "{name} does not listen on {port}: {sockets:?}"
        );
        assert!(
            sockets.iter().all(|(addr, _)| is_loopback(addr)),
            "{name} listens beyond loopback: {sockets:?}"
        );
    }
}

fn stopped_and_cleaned(trial: &mut Trial, expected_code: i32) {
    let scratch = trial.scratch();
    assert!(scratch.is_dir());
    let kids = children(trial.child.id());
    assert_eq!(trial.wait_end(), Some(expected_code), "{}", trial.output());
    for (pid, name) in kids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{name} ({pid}) still runs"
        );
    }
    for port in [trial.port, trial.api_port] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "port {port} still answers"
        );
    }
    assert!(!scratch.exists(), "{} left behind", scratch.display());
}

#[test]
fn try_caddy_serves_the_page_as_production_does_and_ctrl_c_stops_both() {
    let mut trial = Trial::start();
    serves_like_production(&trial);
    binds_loopback_only(&trial);
    // Ctrl-C: the terminal sends SIGINT to the whole foreground process group.
    rustix::process::kill_process_group(trial.pid(), Signal::INT).unwrap();
    stopped_and_cleaned(&mut trial, 130);
}

#[test]
fn try_caddy_stops_both_on_sigterm() {
    let mut trial = Trial::start();
    assert_eq!(get(trial.addr(), "/status.json").status, 200);
    rustix::process::kill_process(trial.pid(), Signal::TERM).unwrap();
    stopped_and_cleaned(&mut trial, 143);
}

/// The house rule for tests (loopback only) holds for the Caddy the deploy tests start: it used
/// to listen on every interface.
#[test]
fn the_deploy_tests_caddy_listens_on_loopback_only() {
    let root = tempfile::tempdir().unwrap();
    let caddy = Caddy::start(root.path(), SocketAddr::from(([127, 0, 0, 1], free_port())));
    let sockets = listening_sockets(caddy.pid());
    assert!(
        sockets.iter().any(|(_, p)| *p == caddy.addr.port()),
        "{sockets:?}"
    );
    assert!(
        sockets.iter().all(|(addr, _)| is_loopback(addr)),
        "Caddy listens beyond loopback: {sockets:?}\n{}",
        caddy.log()
    );
}
