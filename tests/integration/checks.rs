//! The checks beyond http/tcp/systemd/feed, each against a real peer on loopback: certificates
//! (a TLS server with certificates from a test CA given to the daemon as `SSL_CERT_FILE`), DNS
//! (dnsmasq, from Debian's dnsmasq-base), ping of 127.0.0.1, what an http body says,
//! heartbeats over HTTP and by file across a restart, and a host threshold crossed on a small
//! file system the test mounts and fills. Some need root (the ping sysctl, the mount): they say so.

use crate::common::peer::{Behaviour, Peer};
use crate::common::tls::{TestCa, TlsServer, http_ok};
use crate::common::{Site, request, wait_until};
use serde_json::Value;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn service<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name} in {status:#}"))
}

fn error_of(s: &Value) -> String {
    s["error"].as_str().unwrap_or_default().to_string()
}

/// `build` with the test CA trusted, as a host with an internal CA would.
fn build(site: &Site, ca: Option<&TestCa>) -> std::process::Output {
    let mut cmd = site.command(&["build"]);
    if let Some(ca) = ca {
        cmd.env("SSL_CERT_FILE", ca.ca_file());
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn certificates_report_expiry_and_refusals_in_words() {
    let ca = TestCa::new("Checks Test CA");
    let other_ca = TestCa::new("Untrusted CA");
    let valid = TlsServer::start(
        &ca.issue_for_days("valid", &["localhost"], 60),
        &http_ok("ok"),
    );
    let soon = TlsServer::start(
        &ca.issue_for_days("soon", &["localhost"], 3),
        &http_ok("ok"),
    );
    let expired = TlsServer::start(
        &ca.issue_for_days("old", &["localhost"], -2),
        &http_ok("ok"),
    );
    let wrong = TlsServer::start(
        &ca.issue_for_days("wrong", &["elsewhere.test"], 60),
        &http_ok("ok"),
    );
    let untrusted = TlsServer::start(
        &other_ca.issue_for_days("untrusted", &["localhost"], 60),
        &http_ok("ok"),
    );
    let now = chrono::Utc::now();
    let not_yet = TlsServer::start(
        &ca.issue(
            "notyet",
            &["localhost"],
            now + chrono::Duration::days(2),
            now + chrono::Duration::days(60),
        ),
        &http_ok("ok"),
    );
    let smtps = TlsServer::start(
        &ca.issue_for_days("smtps", &["localhost"], 3),
        b"220 hi\r\n",
    );
    let https = |s: &TlsServer| format!("https://localhost:{}/", s.addr.port());
    let site = Site::new(&format!(
        r#"
[[service]]
name = "Valid"
kind = "http"
url = "{valid}"
[[service]]
name = "Soon"
kind = "http"
url = "{soon}"
[[service]]
name = "Soon quiet"
kind = "http"
url = "{soon}"
cert_warn = "1d"
[[service]]
name = "Expired"
kind = "http"
url = "{expired}"
[[service]]
name = "Wrong name"
kind = "http"
url = "{wrong}"
[[service]]
name = "Untrusted"
kind = "http"
url = "{untrusted}"
[[service]]
name = "Not yet"
kind = "http"
url = "{not_yet}"
[[service]]
name = "Mail"
kind = "tls"
address = "127.0.0.1:{smtps}"
server_name = "localhost"
"#,
        valid = https(&valid),
        soon = https(&soon),
        expired = https(&expired),
        wrong = https(&wrong),
        untrusted = https(&untrusted),
        not_yet = https(&not_yet),
        smtps = smtps.addr.port(),
    ));
    build(&site, Some(&ca));
    let status = site.status_json();

    let v = service(&status, "Valid");
    assert_eq!(v["status"], "up", "{v:#}");
    let days = v["details"]["cert_days_left"].as_i64().unwrap();
    assert!((58..=60).contains(&days), "{v:#}");
    assert!(
        v["details"]["cert_expires_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(
        v["details"]["cert_issuer"]
            .as_str()
            .unwrap()
            .contains("Checks Test CA")
    );
    assert!(
        v["details"]["cert_subject"]
            .as_str()
            .unwrap()
            .contains("localhost")
    );

    let s = service(&status, "Soon");
    assert_eq!(s["status"], "degraded", "{s:#}");
    assert!(
        error_of(s).starts_with("the certificate expires in 3 days")
            || error_of(s).starts_with("the certificate expires in 2 days"),
        "{s:#}"
    );
    assert!(error_of(s).contains("within cert_warn 14days"), "{s:#}");
    assert_eq!(service(&status, "Soon quiet")["status"], "up");

    let e = service(&status, "Expired");
    assert_eq!(e["status"], "down");
    assert!(error_of(e).contains("the certificate expired on"), "{e:#}");
    let w = service(&status, "Wrong name");
    assert_eq!(w["status"], "down");
    assert!(error_of(w).contains("the certificate is for"), "{w:#}");
    assert!(error_of(w).contains("elsewhere.test"), "{w:#}");
    let u = service(&status, "Untrusted");
    assert_eq!(u["status"], "down");
    assert!(error_of(u).contains("not signed by a trusted CA"), "{u:#}");

    let n = service(&status, "Not yet");
    assert_eq!(n["status"], "down");
    assert!(
        error_of(n).contains("the certificate is not valid until"),
        "{n:#}"
    );

    let m = service(&status, "Mail");
    assert_eq!(m["kind"], "tls");
    assert_eq!(m["status"], "degraded", "{m:#}");
    assert!(m["details"]["cert_days_left"].as_i64().unwrap() <= 3);

    let metrics = std::fs::read_to_string(site.out().join("metrics")).unwrap();
    assert!(
        metrics.contains("cortex_status_cert_expiry_seconds{service=\"valid\",name=\"Valid\"}"),
        "{metrics}"
    );
    promtool_accepts(&site.out().join("metrics"));
    // Without the CA the valid certificate is untrusted: the trust comes from SSL_CERT_FILE.
    build(&site, None);
    assert_eq!(service(&site.status_json(), "Valid")["status"], "down");
}

/// promtool, where installed, accepts the metrics file.
fn promtool_accepts(path: &std::path::Path) {
    let Ok(out) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(path).unwrap())
        .output()
    else {
        eprintln!(
            "promtool is not installed; the metrics format is checked by the unit tests only"
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// dnsmasq on a loopback port: ok.test → 10.1.2.3, gone.test → NXDOMAIN. Killed on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Dnsmasq {
    /// dnsmasq on a loopback port free for both UDP and TCP. The port is released before
    /// dnsmasq binds it, so another socket may take it meanwhile (the suite runs tests with
    /// thousands of connections beside this one): dnsmasq then exits at once, and another
    /// port is tried.
    fn start() -> Dnsmasq {
        for _ in 0..5 {
            let port = loop {
                let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
                let port = udp.local_addr().unwrap().port();
                if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                    break port;
                }
            };
            let mut child = Command::new("dnsmasq")
                .args([
                    "--no-daemon",
                    &format!("--port={port}"),
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--address=/ok.test/10.1.2.3",
                    "--address=/gone.test/",
                    "--txt-record=ok.test,\"v=spf1 -all\"",
                    "--mx-host=ok.test,mail.ok.test,10",
                    "--user=root",
                    "--pid-file=",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dnsmasq (Debian's dnsmasq-base; scripts/test installs it)");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            // Ready when it answers on TCP; gone when it could not bind.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if std::net::TcpStream::connect(addr).is_ok() {
                    return Dnsmasq { child, addr };
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start on any of five loopback ports");
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn dns_answers_mismatches_nxdomain_and_timeouts() {
    let dns = Dnsmasq::start();
    // A resolver that never answers: a bound UDP socket nobody reads.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let site = Site::new(&format!(
        r#"
[[service]]
name = "Answer"
kind = "dns"
query = "ok.test"
record = "A"
resolver = "{dns}"
expect = ["10.1.2.3"]
[[service]]
name = "Mail exchanger"
kind = "dns"
query = "ok.test"
record = "MX"
resolver = "{dns}"
expect = ["10 mail.ok.test"]
[[service]]
name = "Mismatch"
kind = "dns"
query = "ok.test"
resolver = "{dns}"
expect = ["10.9.9.9"]
[[service]]
name = "Gone"
kind = "dns"
query = "gone.test"
resolver = "{dns}"
[[service]]
name = "Refused"
kind = "dns"
query = "elsewhere.example"
resolver = "{dns}"
[[service]]
name = "Silent"
kind = "dns"
query = "ok.test"
resolver = "{silent}"
timeout = "1s"
"#,
        dns = dns.addr,
        silent = silent.local_addr().unwrap(),
    ));
    let started = Instant::now();
    build(&site, None);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded by the 1 s timeout"
    );
    let status = site.status_json();
    let a = service(&status, "Answer");
    assert_eq!(a["status"], "up", "{a:#}");
    assert_eq!(a["kind"], "dns");
    assert_eq!(a["details"]["answers"], serde_json::json!(["10.1.2.3"]));
    assert!(a["latency_ms"].is_number());
    assert_eq!(service(&status, "Mail exchanger")["status"], "up");
    let m = service(&status, "Mismatch");
    assert_eq!(m["status"], "down");
    assert_eq!(error_of(m), "expected 10.9.9.9, answered 10.1.2.3");
    let g = service(&status, "Gone");
    assert_eq!(g["status"], "down");
    assert!(
        error_of(g).contains("NXDOMAIN") || error_of(g).contains("has no A record"),
        "{g:#}"
    );
    // dnsmasq has no upstream for it: it refuses (REFUSED), and the words say the lookup failed.
    let r = service(&status, "Refused");
    assert_eq!(r["status"], "down", "{r:#}");
    assert!(!error_of(r).is_empty(), "{r:#}");
    let s = service(&status, "Silent");
    assert_eq!(s["status"], "down");
    assert!(
        error_of(s).contains("timed out") || error_of(s).contains("timeout"),
        "{s:#}"
    );
    let page = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(
        page.contains("A ok.test: 10.1.2.3"),
        "the answer is on the page"
    );
}

/// Sets `net.ipv4.ping_group_range` (needs root, as the test runner is) and gives back the old
/// value when dropped. The sysctl is the host's, and tests run in parallel: the tests that set
/// it take turns through [`PING_SYSCTL`].
struct PingRange {
    old: String,
    _turn: std::sync::MutexGuard<'static, ()>,
}

static PING_SYSCTL: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl PingRange {
    const FILE: &str = "/proc/sys/net/ipv4/ping_group_range";

    fn set(range: &str) -> PingRange {
        let turn = PING_SYSCTL.lock().unwrap_or_else(|p| p.into_inner());
        let old = std::fs::read_to_string(Self::FILE).unwrap();
        std::fs::write(Self::FILE, range)
            .expect("setting net.ipv4.ping_group_range needs root (scripts/test runs as root)");
        PingRange {
            old: old.trim().replace('\t', " "),
            _turn: turn,
        }
    }
}

impl Drop for PingRange {
    fn drop(&mut self) {
        let _ = std::fs::write(Self::FILE, &self.old);
    }
}

#[test]
fn ping_of_loopback_and_a_host_that_forbids_icmp_sockets() {
    let site = Site::new(
        r#"
[[service]]
name = "Loopback"
kind = "ping"
host = "127.0.0.1"
timeout = "2s"
"#,
    );
    {
        // The sysctl is the host's: this test is the only one that touches it.
        let _range = PingRange::set("0 2147483647");
        build(&site, None);
    }
    let status = site.status_json();
    let p = service(&status, "Loopback");
    assert_eq!(p["status"], "up", "{p:#}");
    assert_eq!(p["kind"], "ping");
    assert!(p["latency_ms"].as_f64().unwrap() >= 0.0);
    {
        let _range = PingRange::set("1 0");
        build(&site, None);
    }
    let p = service(&site.status_json(), "Loopback").clone();
    assert_eq!(p["status"], "unknown", "{p:#}");
    assert!(error_of(&p).contains("net.ipv4.ping_group_range"), "{p:#}");
}

#[test]
fn http_bodies_are_checked_against_expect_text_and_expect_json() {
    let peer = Peer::start(Behaviour::json(
        200,
        r#"{"status":"ok","queue_depth":120,"db":{"connected":true}}"#,
    ));
    let url = peer.url("/status");
    let site = Site::new(&format!(
        r#"
[[service]]
name = "Text ok"
kind = "http"
url = "{url}"
expect_text = "\"ok\""
[[service]]
name = "Text missing"
kind = "http"
url = "{url}"
expect_text = "healthy"
[[service]]
name = "JSON ok"
kind = "http"
url = "{url}"
expect_json = {{ "/status" = "ok", "/db/connected" = true, "/queue_depth" = "< 200" }}
[[service]]
name = "JSON mismatch"
kind = "http"
url = "{url}"
expect_json = {{ "/queue_depth" = "< 100" }}
on_mismatch = "degraded"
"#
    ));
    build(&site, None);
    let status = site.status_json();
    assert_eq!(service(&status, "Text ok")["status"], "up");
    let t = service(&status, "Text missing");
    assert_eq!(t["status"], "down");
    assert!(
        error_of(t).starts_with("the body does not contain \"healthy\""),
        "{t:#}"
    );
    assert_eq!(service(&status, "JSON ok")["status"], "up");
    let j = service(&status, "JSON mismatch");
    assert_eq!(j["status"], "degraded");
    assert_eq!(error_of(j), "/queue_depth: expected < 100, found 120");
}

const TOKEN: &str = "hb-token-0123456789abcdef";

fn ping(addr: SocketAddr, target: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let reply = request(addr, "POST", target, &[("Authorization", &auth)], b"");
    let body = serde_json::from_str(&reply.text()).unwrap_or(Value::Null);
    (reply.status, body)
}

fn wait_for_service(
    site: &Site,
    name: &str,
    what: &str,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    wait_until(what, Duration::from_secs(20), || {
        let Ok(bytes) = std::fs::read(site.out().join("status.json")) else {
            return false;
        };
        let Ok(status) = serde_json::from_slice::<Value>(&bytes) else {
            return false;
        };
        last = service(&status, name).clone();
        done(&last)
    });
    last
}

#[test]
fn heartbeats_over_http_and_by_file_survive_a_restart() {
    let site = Site::new(
        r#"
interval = "100ms"
[[service]]
name = "Nightly backup"
kind = "heartbeat"
period = "1h"
token = "${HB_TOKEN}"
[[service]]
name = "Local job"
kind = "heartbeat"
period = "1m"
grace = "1m"
path = "last-ok"
"#,
    );
    let touched = site.path("last-ok");
    std::fs::write(&touched, "").unwrap();
    // Two hours old: late for a 1 min period with 1 min grace.
    let old = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&touched)
        .status()
        .unwrap();
    assert!(old.success());
    let start = || {
        let mut cmd = site.command(&["run"]);
        cmd.env("HB_TOKEN", TOKEN);
        site.start_with(cmd)
    };
    let mut daemon = start();
    let addr = daemon.addr();
    let hb = wait_for_service(&site, "Nightly backup", "first check", |s| {
        s["checked_at"].is_string()
    });
    assert_eq!(hb["status"], "unknown", "no ping yet: {hb:#}");
    let late = wait_for_service(&site, "Local job", "file check", |s| {
        s["checked_at"].is_string()
    });
    assert_eq!(late["status"], "down", "{late:#}");
    assert!(
        error_of(&late).starts_with("late: the last ping was 2h"),
        "{late:#}"
    );

    // Wrong token: refused, nothing recorded.
    let (code, body) = ping(addr, "/api/heartbeat/nightly-backup", "not-the-token");
    assert_eq!(code, 401);
    assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
    let (code, _) = ping(addr, "/api/heartbeat/no-such-job", TOKEN);
    assert_eq!(code, 404);
    let (code, body) = ping(addr, "/api/heartbeat/local-job", TOKEN);
    assert_eq!(code, 404, "a path heartbeat has no token: {body}");

    assert_eq!(
        ping(addr, "/api/heartbeat/nightly-backup/start", TOKEN),
        (200, serde_json::json!({"ok": true}))
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        ping(addr, "/api/heartbeat/nightly-backup?exit=0", TOKEN).0,
        200
    );
    let up = wait_for_service(&site, "Nightly backup", "up after a ping", |s| {
        s["status"] == "up"
    });
    assert!(up["details"]["last_ping"].is_string());
    assert!(
        up["details"]["last_duration_seconds"].as_f64().unwrap() >= 0.3,
        "{up:#}"
    );
    assert_eq!(up["details"]["last_exit"], 0);

    // A failure with an exit status turns it down at once.
    assert_eq!(
        ping(addr, "/api/heartbeat/nightly-backup?exit=3", TOKEN).0,
        200
    );
    let down = wait_for_service(&site, "Nightly backup", "down after exit=3", |s| {
        s["status"] == "down"
    });
    assert!(error_of(&down).ends_with("(exit status 3)"), "{down:#}");
    assert_eq!(
        ping(addr, "/api/heartbeat/nightly-backup/fail", TOKEN).0,
        200
    );
    assert_eq!(ping(addr, "/api/heartbeat/nightly-backup", TOKEN).0, 200);
    let up = wait_for_service(&site, "Nightly backup", "up again", |s| s["status"] == "up");
    let last_ping = up["details"]["last_ping"].clone();

    // The job touches its file: on time.
    std::fs::write(&touched, "again").unwrap();
    wait_for_service(&site, "Local job", "file touched", |s| s["status"] == "up");

    // The last ping survives a restart.
    assert!(daemon.terminate().success());
    assert!(site.path("state/heartbeats.json").is_file());
    let mut daemon = start();
    let again = wait_for_service(&site, "Nightly backup", "checked after restart", |s| {
        s["status"] == "up"
    });
    assert_eq!(again["details"]["last_ping"], last_ping);
    // The token is a secret: never on the page, the feed or the log.
    let feed = std::fs::read_to_string(site.out().join("status.json")).unwrap();
    let page = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(!feed.contains(TOKEN) && !page.contains(TOKEN) && !daemon.log().contains(TOKEN));
    assert!(page.contains("Last ping:"), "the last ping is on the page");
    daemon.terminate();
}

#[test]
fn wrong_heartbeat_tokens_are_rate_limited() {
    let site = Site::new(
        r#"
[[service]]
name = "Job"
kind = "heartbeat"
period = "1h"
token = "${HB_TOKEN}"
"#,
    );
    let mut cmd = site.command(&["run"]);
    cmd.env("HB_TOKEN", TOKEN);
    let mut daemon = site.start_with(cmd);
    let codes: Vec<u16> = (0..8)
        .map(|_| ping(daemon.addr(), "/api/heartbeat/job", "wrong-token").0)
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 401).count(), 5, "{codes:?}");
    assert_eq!(*codes.last().unwrap(), 429, "{codes:?}");
    daemon.terminate();
}

/// A small file system the test mounts (root, as scripts/test runs) and unmounts when dropped.
/// ext4 in a loop file, not tmpfs: sysinfo leaves tmpfs out of its disks (unless built with
/// `linux-tmpfs`, which would put /run and /dev/shm on every page), so a tmpfs is never judged.
struct SmallDisk {
    dir: tempfile::TempDir,
    _image: tempfile::NamedTempFile,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(4 << 20).unwrap();
        let mkfs = Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(image.path())
            .status()
            .unwrap();
        assert!(mkfs.success(), "mkfs.ext4 (e2fsprogs)");
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-o", "loop"])
            .arg(image.path())
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(
            ok.success(),
            "mounting a loop file system needs root (scripts/test runs as root)"
        );
        SmallDisk { dir, _image: image }
    }

    /// Writes until the file system is full.
    fn fill(&self) {
        use std::io::Write;
        let mut f = std::fs::File::create(self.dir.path().join("fill")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_host_threshold_crossed_on_a_filled_disk_is_an_entry_with_words() {
    let disk = SmallDisk::mount();
    let mount = disk.dir.path().display().to_string();
    let site = Site::new(&format!(
        r#"
[host]
disks = ["{mount}"]
warn = {{ disk = 0.5 }}
critical = {{ disk = 0.9 }}
"#
    ));
    build(&site, None);
    let status = site.status_json();
    let host = service(&status, "Host");
    assert_eq!(host["slug"], "host");
    assert_eq!(host["kind"], "host");
    assert_eq!(host["status"], "up", "{host:#}");
    // Fill it past the critical ratio.
    disk.fill();
    build(&site, None);
    let status = site.status_json();
    let host = service(&status, "Host");
    assert_eq!(host["status"], "down", "{host:#}");
    assert!(
        error_of(host).starts_with(&format!("disk {mount} ")),
        "{host:#}"
    );
    assert!(
        error_of(host).contains("% full (critical at 0.9)"),
        "{host:#}"
    );
    assert_eq!(
        status["overall"], "down",
        "the host entry counts toward overall"
    );
    assert!(
        status["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["service"] == "host"),
        "and is an incident: {status:#}"
    );
    let page = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(
        page.contains("% full (critical at 0.9)"),
        "the reason in words on the page"
    );
}

#[test]
fn new_kinds_are_validated_with_file_and_line() {
    let site = Site::new(
        r#"
[[service]]
name = "D"
kind = "dns"
record = "SRV"
resolver = "nowhere"
[[service]]
name = "H"
kind = "heartbeat"
period = "1h"
[[service]]
name = "J"
kind = "http"
url = "http://127.0.0.1:1/"
expect_json = { "status" = "ok", "/n" = "< lots" }
on_mismatch = "maybe"
[[service]]
name = "T"
kind = "tls"
address = "no-port"
[[service]]
name = "P"
kind = "ping"
[host]
warn = { disk = 1.5, memory = 0.9 }
critical = { disk = 0.95, memory = 0.8 }
"#,
    );
    let out = site.run(&["check"]);
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let config = site.config().display().to_string();
    for want in [
        ":7: service[0].record: \"SRV\" is not a record type",
        ":8: service[0].resolver: expected an IP address and port",
        ":4: service[0].query: kind = \"dns\" needs query",
        "service[1].token: kind = \"heartbeat\" needs token",
        ":17: service[2].expect_json: \"status\" is not a JSON Pointer",
        ":17: service[2].expect_json: \"< lots\" is not a comparison",
        ":18: service[2].on_mismatch: expected \"down\" or \"degraded\"",
        ":22: service[3].address: expected host:port",
        "service[4].host: kind = \"ping\" needs host",
        "host.warn: a warn ratio is above its critical one",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(text.contains(&config));
}

#[test]
fn one_of_each_kind_in_one_cycle_is_bounded_by_the_longest_timeout_and_shown() {
    let ca = TestCa::new("Cycle CA");
    let tls = TlsServer::start(
        &ca.issue_for_days("cycle", &["localhost"], 30),
        &http_ok("ok"),
    );
    let peer = Peer::start(Behaviour::json(200, r#"{"status":"ok"}"#));
    let hanging = Peer::start(Behaviour::ok().delayed(Duration::from_secs(60)));
    let dns = Dnsmasq::start();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _range = PingRange::set("0 2147483647");
    let site = Site::new(&format!(
        r#"
[host]
warn = {{ load_per_core = 1000.0 }}
[[service]]
name = "Web"
kind = "http"
url = "{peer}"
expect_json = {{ "/status" = "ok" }}
[[service]]
name = "Secure web"
kind = "http"
url = "https://localhost:{tls}/"
[[service]]
name = "Hanging web"
kind = "http"
url = "{hanging}"
timeout = "2s"
[[service]]
name = "Mail"
kind = "tls"
address = "localhost:{tls}"
[[service]]
name = "Name"
kind = "dns"
query = "ok.test"
resolver = "{dns}"
expect = ["10.1.2.3"]
[[service]]
name = "Silent name"
kind = "dns"
query = "ok.test"
resolver = "{silent}"
timeout = "2s"
[[service]]
name = "Gateway"
kind = "ping"
host = "127.0.0.1"
[[service]]
name = "Backup"
kind = "heartbeat"
period = "1h"
path = "last-ok"
"#,
        peer = peer.url("/status"),
        tls = tls.addr.port(),
        hanging = hanging.url("/"),
        dns = dns.addr,
        silent = silent.local_addr().unwrap(),
    ));
    std::fs::write(site.path("last-ok"), "").unwrap();
    let started = Instant::now();
    build(&site, Some(&ca));
    let took = started.elapsed();
    // All probes run at once: the cycle ends near the longest timeout (2 s), not their sum.
    assert!(took < Duration::from_secs(8), "build took {took:?}");
    let status = site.status_json();
    for (name, want) in [
        ("Host", "up"),
        ("Web", "up"),
        ("Secure web", "up"),
        ("Hanging web", "down"),
        ("Mail", "up"),
        ("Name", "up"),
        ("Silent name", "down"),
        ("Gateway", "up"),
        ("Backup", "up"),
    ] {
        assert_eq!(service(&status, name)["status"], want, "{name}: {status:#}");
    }
    for slug in ["mail", "name", "gateway", "backup", "host"] {
        assert!(
            site.out().join(format!("badges/{slug}.svg")).is_file(),
            "badge of {slug}"
        );
    }
    screenshot(&site);
}

/// The page with one service of each kind, as a person sees it.
fn screenshot(site: &Site) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let files = crate::common::browser::StaticFiles::serve(&site.out());
        let browser = crate::common::browser::Browser::start().await;
        // Tall enough for every card in one picture.
        browser.phone(1000, 3200).await;
        browser.goto(&files.url("index.html")).await;
        let text = browser.page_text().await;
        assert!(
            text.contains("Certificate:") && text.contains("Last ping:"),
            "{text}"
        );
        browser
            .run("window.scrollTo(0, document.getElementById('services').offsetTop)")
            .await;
        let path = browser.screenshot("checks-every-kind").await;
        assert!(path.is_file());
    });
}
