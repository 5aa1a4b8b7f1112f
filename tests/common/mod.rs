//! Test helpers: the real binary behind a guard that kills it on drop, HTTP peers on loopback
//! that the tests start and steer, and a raw HTTP client that sends request targets exactly as
//! written (no normalisation of `..`).
#![allow(dead_code)]

pub mod browser;
pub mod caddy;
pub mod peer;
pub mod receiver;
pub mod symbiont;
pub mod tls;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cortex-status");

/// A scratch directory with a config file in it; out_dir and state_dir live inside.
pub struct Site {
    pub dir: tempfile::TempDir,
}

impl Site {
    /// Writes `cortex-status.toml` with `out_dir`/`state_dir` in the scratch dir, a loopback
    /// listener on port 0, and `body` appended.
    pub fn new(body: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let head = format!(
            "out_dir = \"{out}\"\nstate_dir = \"{state}\"\n",
            out = dir.path().join("public").display(),
            state = dir.path().join("state").display(),
        );
        let has_api = body.contains("[api]");
        let api = if has_api {
            ""
        } else {
            "\n[api]\nlisten = \"127.0.0.1:0\"\n"
        };
        // Top-level keys must come before any table: the head first, the api table last.
        std::fs::write(
            dir.path().join("cortex-status.toml"),
            format!("{head}{body}\n{api}"),
        )
        .unwrap();
        Site { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("cortex-status.toml")
    }

    pub fn out(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `cortex-status ARGS --config <this site>` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--config")
            .arg(self.config())
            .current_dir(self.dir.path())
            .env("RUST_LOG", "info")
            .env_remove("PORT")
            .env_remove("SYMBIONT_URL")
            .env_remove("STATUS_PUBLIC_URL");
        cmd
    }

    /// `status.json`'s `errors`; empty while there is no readable status.json yet (a test
    /// polling for an error may read between a publish's two renames).
    pub fn errors(&self) -> Vec<String> {
        std::fs::read(self.out().join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| serde_json::from_value(v["errors"].clone()).ok())
            .unwrap_or_default()
    }

    pub fn status_json(&self) -> serde_json::Value {
        let bytes = std::fs::read(self.out().join("status.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Starts the daemon and waits until it listens.
    pub fn start(&self) -> Daemon {
        self.start_with(self.command(&["run"]))
    }

    pub fn start_with(&self, mut cmd: Command) -> Daemon {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        // Drain stderr for the daemon's whole life, or it would block on a full pipe.
        let drain = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut daemon = Daemon {
            child,
            log,
            addr: None,
            drain: Some(drain),
        };
        let addr = daemon.wait_for_log("serving http://", Duration::from_secs(20));
        let addr = addr
            .split("serving http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in the log:\n{}", daemon.log()));
        daemon.addr = Some(addr);
        daemon
    }
}

/// The running binary; killed when dropped.
pub struct Daemon {
    pub child: Child,
    log: Arc<Mutex<String>>,
    addr: Option<SocketAddr>,
    /// The thread that reads stderr; done once the process (and any child holding its stderr)
    /// has exited.
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("daemon has an address")
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle` and returns that line.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log().lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "daemon exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "no {needle:?} in the log within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn health(&self) -> serde_json::Value {
        let r = get(self.addr(), "/api/health");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Waits until the daemon has finished `n` cycles in all.
    pub fn wait_for_cycles(&self, n: u64, timeout: Duration) {
        let start = Instant::now();
        while self.health()["cycles"].as_u64().unwrap() < n {
            assert!(
                start.elapsed() < timeout,
                "fewer than {n} cycles within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The last lines may still be in the pipe: wait (a little) for the reader.
                let drained = Instant::now();
                while self.drain.as_ref().is_some_and(|t| !t.is_finished())
                    && drained.elapsed() < Duration::from_secs(2)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no exit after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer as the raw client read it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` with the target sent byte for byte.
pub fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target, &[], b"")
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
    out
}

/// Reads a request head (up to the blank line) from a peer's connection, with a 10 s limit;
/// `None` if the client went away first. For the test peers that answer on raw sockets.
pub fn read_head(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Names of the files in `dir` (not recursive).
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Polls `done` until it holds; fails naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A gzip stream's content: how a client reads a `.gz` sidecar.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The name `ps` shows for a process (`/proc/PID/comm`).
pub fn process_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim_end()
        .to_string()
}
