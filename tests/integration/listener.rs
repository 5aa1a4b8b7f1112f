//! The listener under hostile and broken clients: non-readers, a thousand idle connections,
//! endless heads, slow heads, more connections than the cap; and `/api/health` telling the truth
//! when out_dir is full or read-only.
//!
//! Every bound here is a count or a size; waits are generous limits, never measured times.

use crate::common::{Daemon, Site, names_in, wait_until};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// The daemon's HEAD_TIMEOUT and WRITE_TIMEOUT are 10 s; a connection they end is closed well
/// within this.
const CLOSED_WITHIN: Duration = Duration::from_secs(40);

/// `GET target` on a new connection, failing (not hanging) if no whole answer comes in `limit`.
fn get_within(addr: SocketAddr, target: &str, limit: Duration) -> Result<(u16, Vec<u8>), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(limit)).unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("{target}: no whole answer within {limit:?}: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{target}: no head in {:?}", String::from_utf8_lossy(&raw)))?;
    let status = String::from_utf8_lossy(&raw[..split])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, raw[split + 4..].to_vec()))
}

/// `/api/health` answers 200; prints how long it took (a figure for the notes, not a bound).
fn health_answers(addr: SocketAddr, when: &str) -> serde_json::Value {
    let start = Instant::now();
    let (status, body) = get_within(addr, "/api/health", Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{when}: {e}"));
    println!(
        "{when}: /api/health in {:.2} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(status, 200, "{when}");
    serde_json::from_slice(&body).unwrap()
}

/// A line of /proc/PID/status, as a number (`Threads`, `VmRSS` in kB).
fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Whether the server has closed `stream`: a read gives EOF or a reset (bytes still in flight
/// are read and counted). `None` if it is still open after `limit`.
fn closed_by_server(stream: &mut TcpStream, limit: Duration) -> Option<usize> {
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let start = Instant::now();
    let mut got = 0;
    let mut buf = vec![0u8; 256 * 1024];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(got),
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(got),
        }
    }
    None
}

fn started(site: &Site) -> Daemon {
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    daemon
}

/// A file of `len` bytes in out_dir, for answers that do not fit in the socket buffers.
fn big_file(site: &Site, name: &str, len: usize) {
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut f = std::fs::File::create(site.out().join(name)).unwrap();
    for _ in 0..len / chunk.len() {
        f.write_all(&chunk).unwrap();
    }
}

#[test]
fn a_client_that_pipelines_and_never_reads_stalls_only_itself() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = started(&site);
    let addr = daemon.addr();
    big_file(&site, "big.bin", 16 << 20);
    // Hundreds of requests for a large file in one go, and not a byte read back.
    let mut hog = TcpStream::connect(addr).unwrap();
    let mut pipelined = Vec::new();
    for _ in 0..200 {
        pipelined
            .extend_from_slice(format!("GET /big.bin HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
    }
    hog.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // The server stops reading once its answer stalls: what does not fit stays unsent.
    let _ = hog.write_all(&pipelined);
    for round in 0..3 {
        health_answers(addr, &format!("beside a non-reader, round {round}"));
        let (status, page) = get_within(addr, "/", Duration::from_secs(20)).unwrap();
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&page).contains("<!doctype html>"));
        let (status, _) = get_within(addr, "/status.json", Duration::from_secs(20)).unwrap();
        assert_eq!(status, 200);
    }
    // And the non-reader is dropped in the end, before even one answer was through: read
    // nothing for longer than the write timeout, then all there is.
    std::thread::sleep(Duration::from_secs(15));
    let got = closed_by_server(&mut hog, CLOSED_WITHIN).expect("the non-reader is dropped");
    assert!(got < 16 << 20, "it got {got} bytes");
}

/// A cgroup (v1 `pids` controller) with a task limit around a process, as systemd's `TasksMax`
/// puts one; the process is moved back out and the group removed on drop.
struct TasksMax {
    dir: std::path::PathBuf,
    pid: u32,
}

impl TasksMax {
    fn limit(pid: u32, max: u32) -> Option<TasksMax> {
        let root = std::path::Path::new("/sys/fs/cgroup/pids");
        let dir = root.join(format!("cortex-status-test-{pid}"));
        std::fs::create_dir(&dir).ok()?;
        let group = TasksMax { dir, pid };
        std::fs::write(group.dir.join("pids.max"), max.to_string()).ok()?;
        std::fs::write(group.dir.join("cgroup.procs"), pid.to_string()).ok()?;
        Some(group)
    }
}

impl Drop for TasksMax {
    fn drop(&mut self) {
        let root = self.dir.parent().unwrap().join("cgroup.procs");
        let _ = std::fs::write(root, self.pid.to_string());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Lets this test process hold `n` more descriptors (a shell's soft limit is often 1024).
fn allow_descriptors(n: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|c| c < n) {
        let raised = limit.maximum.map_or(n, |m| m.min(n));
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        );
    }
}

#[test]
fn a_thousand_idle_and_half_open_connections_cost_no_thread_each() {
    // Other tests run beside this one in the same process.
    allow_descriptors(8192);
    let site = Site::new("interval = \"1s\"\n");
    let daemon = started(&site);
    let addr = daemon.addr();
    let pid = daemon.child.id();
    // Under a task limit far below 1000, as a unit's TasksMax would set: a thread per connection
    // would fail to spawn (and abort the process).
    let _tasks_max = TasksMax::limit(pid, 16);
    if _tasks_max.is_none() {
        println!("no pids cgroup here: the thread count alone must show it");
    }
    let threads_before = proc_status(pid, "Threads");
    let rss_before = proc_status(pid, "VmRSS");
    let fds_before = open_fds(pid);
    let mut held = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(addr).unwrap();
        if i % 2 == 1 {
            // Half a request head, never finished.
            s.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        }
        held.push(s);
    }
    wait_until(
        "the daemon holds the 1000 connections (it needs a hard descriptor limit over 1152)",
        Duration::from_secs(30),
        || open_fds(pid) >= fds_before + 1000,
    );
    let threads = proc_status(pid, "Threads");
    let rss = proc_status(pid, "VmRSS");
    let h = health_answers(addr, "with 1000 connections open");
    assert_eq!(h["status"], "ok", "{h}");
    println!(
        "threads {threads_before} -> {threads}, VmRSS {rss_before} -> {rss} kB, fds {fds_before} -> {}",
        open_fds(pid)
    );
    // The runtime's thread, the blocking pool (4), the file watcher, the hook: a constant.
    assert!(threads <= 12, "{threads} threads for 1000 connections");
    assert!(
        rss < rss_before + 48 * 1024,
        "VmRSS grew from {rss_before} to {rss} kB for 1000 connections"
    );
    assert!(
        daemon.log().lines().all(|l| !l.contains("spawn")),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_head_over_64_kib_gets_431_and_the_connection_closed() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = started(&site);
    let addr = daemon.addr();
    let pid = daemon.child.id();

    // Just under the limit is a request like any other.
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "GET /status.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(60 * 1024)
    );
    s.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..40])
    );

    // One header line that never ends: 431 once it passes 64 KiB, then the connection is shut.
    let rss_before = proc_status(pid, "VmRSS");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        .unwrap();
    let line = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    // Up to 64 MiB; the server must stop taking it long before.
    while sent < 64 << 20 {
        match s.write(&line) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    println!("the server took {sent} bytes of an endless header line");
    assert!(sent < 16 << 20, "{sent} bytes accepted of an endless head");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    let rss = proc_status(pid, "VmRSS");
    assert!(
        rss < rss_before + 8 * 1024,
        "VmRSS {rss_before} -> {rss} kB"
    );
    health_answers(addr, "after an endless head");
}

#[test]
fn idle_and_slow_header_connections_are_closed() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = started(&site);
    let addr = daemon.addr();

    let mut silent = TcpStream::connect(addr).unwrap();
    // A kept-alive connection after one answer.
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // A head that trickles in, one byte every 200 ms: complete only after 100 s.
    let mut slow = TcpStream::connect(addr).unwrap();
    let dripping = std::thread::spawn(move || {
        let head = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Drip: {}\r\n\r\n",
            "d".repeat(500)
        );
        for b in head.bytes() {
            if slow.write_all(&[b]).is_err() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
            let mut probe = [0u8; 1];
            slow.set_nonblocking(true).unwrap();
            let peek = slow.peek(&mut probe);
            slow.set_nonblocking(false).unwrap();
            match peek {
                Ok(0) => return Ok(()),
                // A 408 is a fine way to say goodbye; a page is not.
                Ok(_) => {
                    let mut said = Vec::new();
                    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let _ = slow.read_to_end(&mut said);
                    return match said.starts_with(b"HTTP/1.1 200") {
                        true => Err("the server answered an unfinished head".to_string()),
                        false => Ok(()),
                    };
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return Ok(()),
            }
        }
        Err("the whole slow head was taken".to_string())
    });
    assert!(
        closed_by_server(&mut silent, CLOSED_WITHIN).is_some(),
        "silent connection kept"
    );
    assert!(
        closed_by_server(&mut kept, CLOSED_WITHIN).is_some(),
        "idle keep-alive kept"
    );
    dripping.join().unwrap().unwrap();
    health_answers(addr, "after the timeouts");
}

#[test]
fn a_client_that_never_reads_a_large_file_is_dropped() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = started(&site);
    let addr = daemon.addr();
    let len = 64 << 20;
    big_file(&site, "big.bin", len);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(
        format!("GET /big.bin HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // Read nothing more for longer than the write timeout...
    std::thread::sleep(Duration::from_secs(15));
    // ...then everything there is: the rest never comes, the server gave up on us.
    let got = closed_by_server(&mut s, CLOSED_WITHIN).expect("the connection is closed");
    println!("a non-reader got {got} of {len} bytes");
    assert!(
        got < len,
        "the whole file was sent to a client that stalled"
    );
    health_answers(addr, "after dropping a non-reader");
}

#[test]
fn connections_past_the_cap_are_refused_cleanly() {
    let site = Site::new("interval = \"1s\"\n");
    // A descriptor limit of 200 leaves room for 72 connections (128 kept for everything else).
    let mut cmd = Command::new("prlimit");
    cmd.args([
        "--nofile=200:200",
        "--",
        crate::common::BIN,
        "run",
        "--config",
    ])
    .arg(site.config())
    .current_dir(site.dir.path())
    .env("RUST_LOG", "info")
    .env_remove("PORT")
    .env_remove("SYMBIONT_URL");
    let mut daemon = site.start_with(cmd);
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    daemon.wait_for_log("connections at once", Duration::from_secs(5));
    let addr = daemon.addr();
    let mut held = Vec::new();
    for _ in 0..150 {
        held.push(TcpStream::connect(addr).unwrap());
    }
    // Those past the cap hear a 503 (or just a close) at once; the others wait for a head. All
    // are looked at in one go, well within the head timeout that would close the others too.
    std::thread::sleep(Duration::from_secs(1));
    let mut refused = 0;
    for s in &mut held {
        s.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(n) => {
                let said = &buf[..n];
                assert!(n == 0 || said.starts_with(b"HTTP/1.1 503"), "{said:?}");
                refused += 1;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => refused += 1,
        }
    }
    println!("{refused} of 150 connections refused");
    assert!((50..=150 - 60).contains(&refused), "{refused} refused");
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "the daemon died"
    );
    daemon.wait_for_log("refusing new ones", Duration::from_secs(5));
    drop(held);
    // Once they are gone, everyone is served again.
    wait_until("health answers again", Duration::from_secs(30), || {
        get_within(addr, "/api/health", Duration::from_secs(5)).is_ok_and(|(s, _)| s == 200)
    });
    assert!(!daemon.log().contains("panicked"), "{}", daemon.log());
}

/// A small tmpfs mounted over out_dir for the life of the test; unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }

    /// Remounts with `options`; a read-only remount fails while a file is open for writing (a
    /// publish in progress), so it is tried again.
    fn remount(&self, options: &str) {
        let tries = (0..100).find(|_| {
            let ok = Command::new("mount")
                .args(["-o", &format!("remount,{options}")])
                .arg(&self.0)
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            if !ok {
                std::thread::sleep(Duration::from_millis(30));
            }
            ok
        });
        assert!(tries.is_some(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn health_of(daemon: &Daemon) -> serde_json::Value {
    daemon.health()
}

/// Waits until health's status is `status`, and returns that answer.
fn health_becomes(daemon: &Daemon, status: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        last = health_of(daemon);
        if last["status"] == status {
            return last;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "health never said {status:?}; last: {last}\n{}",
        daemon.log()
    );
}

#[test]
fn health_reports_a_full_or_read_only_out_dir_and_recovers() {
    let site = Site::new("interval = \"100ms\"\n");
    let Some(fs) = Tmpfs::mount(&site.out(), "16k") else {
        // Without the right to mount, a file where out_dir should be: publishing fails the same.
        eprintln!("cannot mount a tmpfs here; a file stands in for out_dir");
        std::fs::remove_dir(site.out()).ok();
        std::fs::write(site.out(), "not a directory").unwrap();
        let daemon = site.start();
        let h = health_becomes(&daemon, "error");
        assert!(h["reason"].as_str().unwrap().contains("cannot"), "{h}");
        assert!(h["last_publish_ok"].is_null(), "{h}");
        std::fs::remove_file(site.out()).unwrap();
        health_becomes(&daemon, "ok");
        return;
    };
    // The site never fits: an error with the reason, not "starting" forever.
    let daemon = site.start();
    let h = health_becomes(&daemon, "error");
    assert!(
        h["reason"].as_str().unwrap().contains("No space left"),
        "{h}"
    );
    assert!(h["last_publish_ok"].is_null(), "{h}");
    assert!(h["last_snapshot"].is_string(), "the loop goes on: {h}");

    // Room made: ok, and the time of that publish.
    fs.remount("size=16m");
    let h = health_becomes(&daemon, "ok");
    assert!(h["last_publish_ok"].is_string(), "{h}");
    assert!(h.get("reason").is_none(), "{h}");

    // Full again: the last good publish stays, the reason is the disk.
    let filler = site.out().join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    drop(f);
    let h = health_becomes(&daemon, "error");
    assert!(
        h["reason"].as_str().unwrap().contains("No space left"),
        "{h}"
    );
    let last_ok = h["last_publish_ok"]
        .as_str()
        .expect("a last good publish")
        .to_string();
    std::fs::remove_file(&filler).unwrap();
    health_becomes(&daemon, "ok");

    // Read-only.
    fs.remount("ro");
    let h = health_becomes(&daemon, "error");
    assert!(h["reason"].as_str().unwrap().contains("Read-only"), "{h}");
    assert!(
        h["last_publish_ok"].as_str().unwrap() >= last_ok.as_str(),
        "{h}"
    );
    // Many cycles of the same fault are one line in the log, and none names a temporary file.
    let cycles = h["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 20, Duration::from_secs(30));
    let log = daemon.log();
    let said = log
        .lines()
        .filter(|l| l.contains("Read-only file system"))
        .count();
    assert!(
        said <= names_in(&site.out()).len() + 4,
        "{said} lines:\n{log}"
    );
    assert!(!log.contains(".publish-"), "{log}");
    fs.remount("rw");
    health_becomes(&daemon, "ok");
}

#[test]
fn a_prompt_that_trickles_in_gets_408_and_a_head_gets_the_length_without_the_body() {
    use crate::common::symbiont::{FakeSymbiont, PASSWORD, TOKEN};
    let symbiont = FakeSymbiont::start();
    let (_site, daemon) = symbiont.daemon("interval = \"1h\"", "5s", PASSWORD, TOKEN);
    let addr = daemon.addr();
    let mut s = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /api/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {PASSWORD}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"prompt\": "
    );
    s.write_all(head.as_bytes()).unwrap();
    // The rest of the body never comes.
    s.set_read_timeout(Some(CLOSED_WITHIN)).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("did not arrive within"), "{text}");
    assert!(symbiont.received().is_empty());

    // HEAD: the length a GET would have, and no body.
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let (status, page) = get_within(addr, "/", Duration::from_secs(20)).unwrap();
    assert_eq!(status, 200);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("HEAD / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains(&format!("content-length: {}\r\n", page.len())),
        "{text}"
    );
    assert!(text.ends_with("\r\n\r\n"), "a HEAD has no body: {text}");
}
