//! A real Caddy running the repository's own `scripts/Caddyfile`, for end-to-end tests. Only the
//! environment placeholders the Caddyfile documents are set (the site address on a free
//! loopback port, out_dir, the endpoint's address, the admin API off); the file itself is used
//! as it is deployed, adapted to Caddy's JSON with one change: the listen address is pinned to
//! 127.0.0.1, since a site address only matches the Host header and Caddy would otherwise
//! listen on every interface (as scripts/try-caddy does too). Killed when dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Caddy {
    pub addr: SocketAddr,
    child: Child,
    /// Caddy's data and config dirs (it writes autosave.json and locks there) and its log.
    dir: tempfile::TempDir,
}

/// The deployed Caddyfile.
pub fn caddyfile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/Caddyfile")
}

impl Caddy {
    /// Starts Caddy serving `root` and proxying `/api/*` to `api`, and waits until it answers.
    pub fn start(root: &Path, api: SocketAddr) -> Caddy {
        assert!(
            Command::new("caddy")
                .arg("version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "caddy is not on PATH: run scripts/test or apt-get install caddy"
        );
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("caddy.log");
        // The port is free when looked up but could be taken before Caddy binds it: try again.
        for attempt in 1.. {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let log = std::fs::File::create(&log_path).unwrap();
            let json = dir.path().join("caddy.json");
            std::fs::write(&json, loopback_only(&adapt(addr, root, api), port)).unwrap();
            let mut child = Command::new("caddy")
                .args(["run", "--config"])
                .arg(&json)
                .env("HOME", dir.path())
                .env("XDG_DATA_HOME", dir.path())
                .env("XDG_CONFIG_HOME", dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start caddy");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Caddy { addr, child, dir };
                }
                std::thread::sleep(Duration::from_millis(30));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                attempt < 3,
                "caddy did not serve on {addr}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        unreachable!()
    }

    /// Caddy's process id (its listening sockets are in /proc/PID/fd).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What Caddy logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Caddyfile as Caddy's JSON, with the placeholders the Caddyfile documents set.
fn adapt(addr: SocketAddr, root: &Path, api: SocketAddr) -> String {
    let out = Command::new("caddy")
        .args(["adapt", "--adapter", "caddyfile", "--config"])
        .arg(caddyfile())
        .env("STATUS_SITE", format!("http://{addr}"))
        .env("STATUS_ROOT", root)
        .env("STATUS_API", api.to_string())
        .env("CADDY_ADMIN", "off")
        .output()
        .expect("cannot run caddy adapt");
    assert!(
        out.status.success(),
        "caddy adapt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The adapted config listening on 127.0.0.1:`port` instead of every interface's `:port`.
fn loopback_only(json: &str, port: u16) -> String {
    let every = format!("\"listen\":[\":{port}\"]");
    assert_eq!(
        json.matches("\"listen\":").count(),
        1,
        "one listen address expected in the adapted Caddyfile: {json}"
    );
    assert!(json.contains(&every), "no {every} in {json}");
    json.replace(&every, &format!("\"listen\":[\"127.0.0.1:{port}\"]"))
}
