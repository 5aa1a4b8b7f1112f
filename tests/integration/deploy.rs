//! The production path as shipped in scripts/: the example config, the systemd unit and the
//! Caddyfile agree with each other, the unit passes systemd's own checks, and a real Caddy
//! running the Caddyfile serves each kind of file with its headers, gzip from the sidecars, and
//! proxies the task endpoint (the real daemon and the fake Symbiont behind it).

use crate::common::caddy::{Caddy, caddyfile};
use crate::common::peer::{Behaviour, Peer};
use crate::common::symbiont::{FakeSymbiont, PASSWORD, TOKEN};
use crate::common::{BIN, Reply, gunzip, names_in, request};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The policy the Caddyfile sets on every answer; the pages must work under it.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn scripts(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The value of `Key=` in a unit file (the last one, as systemd takes it for single values).
fn unit_value<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

/// The default of the Caddyfile placeholder `{$NAME:default}`.
fn caddy_default(caddyfile: &str, name: &str) -> String {
    let open = format!("{{${name}:");
    let start = caddyfile
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in the Caddyfile"))
        + open.len();
    let end = start + caddyfile[start..].find('}').unwrap();
    caddyfile[start..end].to_string()
}

#[test]
fn the_example_config_passes_check() {
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(scripts("cortex-status.example.toml"))
        .env_remove("PORT")
        .env_remove("SYMBIONT_URL")
        .env_remove("STATUS_PUBLIC_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("4 services"), "{stdout}");
}

#[test]
fn the_example_config_the_unit_and_the_caddyfile_agree() {
    let config = cortex_status::config::Config::parse(
        &read(&scripts("cortex-status.example.toml")),
        &scripts("cortex-status.example.toml"),
        &Default::default(),
    )
    .unwrap();
    let unit = read(&scripts("cortex-status.service"));
    let caddy = read(&caddyfile());

    let runtime = unit_value(&unit, "RuntimeDirectory");
    assert_eq!(
        config.out_dir,
        Path::new("/run").join(runtime[0]),
        "out_dir is the unit's RuntimeDirectory"
    );
    let state = unit_value(&unit, "StateDirectory");
    assert_eq!(
        config.state_dir,
        Path::new("/var/lib").join(state[0]),
        "state_dir is the unit's StateDirectory"
    );
    assert_eq!(
        caddy_default(&caddy, "STATUS_ROOT"),
        config.out_dir.display().to_string(),
        "Caddy serves out_dir"
    );
    assert_eq!(
        caddy_default(&caddy, "STATUS_API"),
        config.api.listen.to_string(),
        "Caddy proxies to the endpoint"
    );
    assert!(
        !config.api.serve_public,
        "Caddy serves the files, not the endpoint"
    );

    // The unit reads the config from its ConfigurationDirectory.
    let conf_dir = unit_value(&unit, "ConfigurationDirectory")[0];
    let exec = unit_value(&unit, "ExecStart")[0];
    assert!(
        exec.ends_with(&format!("--config /etc/{conf_dir}/cortex-status.toml")),
        "{exec}"
    );
    // Each secret is a credential, and its *_FILE variable names that credential.
    for (var, cred) in [
        ("STATUS_TASK_PASSWORD_FILE", "task-password"),
        ("SYMBIONT_TOKEN_FILE", "symbiont-token"),
    ] {
        assert!(
            unit_value(&unit, "LoadCredential")
                .iter()
                .any(|c| c.starts_with(&format!("{cred}:"))),
            "no LoadCredential for {cred}"
        );
        assert!(
            unit_value(&unit, "Environment").contains(&format!("{var}=%d/{cred}").as_str()),
            "{var} does not name the {cred} credential"
        );
    }
}

/// `systemctl reload` sends SIGHUP, which the daemon takes as "reload the config and templates
/// now" (tests/integration/restarts.rs shows it does); a stop is SIGTERM, which it saves on.
#[test]
fn the_unit_reloads_with_sighup_and_stops_with_sigterm() {
    let unit = read(&scripts("cortex-status.service"));
    assert_eq!(
        unit_value(&unit, "ExecReload"),
        ["/bin/kill -HUP $MAINPID"],
        "systemctl reload"
    );
    // No KillSignal= (SIGTERM, the default) and no KillMode= that would skip it.
    assert!(unit_value(&unit, "KillSignal").is_empty());
    assert!(unit_value(&unit, "KillMode").is_empty());
}

/// `systemd-analyze`, or a clear failure saying how to get it.
fn systemd_analyze() -> Command {
    assert!(
        Command::new("systemd-analyze")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "systemd-analyze is not installed: run scripts/test or apt-get install systemd"
    );
    Command::new("systemd-analyze")
}

/// The unit as installed, with ExecStart pointing at the binary under test: `verify` checks
/// that the program exists. Nothing else is changed.
fn installable_unit(dir: &Path, extra: &str) -> PathBuf {
    let unit = read(&scripts("cortex-status.service"))
        .replace("ExecStart=cortex-status ", &format!("ExecStart={BIN} "))
        + extra;
    assert!(
        unit.contains(&format!("ExecStart={BIN} ")),
        "no ExecStart to point at {BIN}"
    );
    let path = dir.join("cortex-status.service");
    std::fs::write(&path, unit).unwrap();
    path
}

/// `systemd-analyze verify` works offline, without systemd as PID 1 (as in this container):
/// it loads the unit and its dependencies from the host's unit paths and reports every bad
/// key, value and missing program. It exits 0 with warnings, so its output must be empty.
#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let dir = tempfile::tempdir().unwrap();
    let unit = installable_unit(dir.path(), "");
    let out = systemd_analyze().arg("verify").arg(&unit).output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // The check is live: a mistake in the same unit is reported.
    let broken = installable_unit(dir.path(), "\n[Service]\nProtectSystem=very\n");
    let out = systemd_analyze()
        .arg("verify")
        .arg(&broken)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cortex-status.service:") && said.contains("very"),
        "{said}"
    );
}

/// systemd's own score of the sandbox (0 is a locked box, 10 none at all). What keeps it above
/// 1 is what the service needs: the network, AF_UNIX for D-Bus, the non-process /proc files for
/// the host figures, and a umask that lets Caddy read out_dir.
#[test]
fn systemd_analyze_security_rates_the_unit_well_sandboxed() {
    let dir = tempfile::tempdir().unwrap();
    let unit = installable_unit(dir.path(), "");
    let out = systemd_analyze()
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    let level: f64 = said
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for cortex-status.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{said}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(level <= 2.0, "exposure {level}:\n{said}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `GET path` through Caddy, as a browser that accepts gzip or as one that does not.
fn fetch(addr: SocketAddr, path: &str, accept_gzip: bool) -> Reply {
    let headers: &[(&str, &str)] = if accept_gzip {
        &[("Accept-Encoding", "gzip, deflate, br")]
    } else {
        &[]
    };
    request(addr, "GET", path, headers, b"")
}

/// The headers every answer from the site carries.
fn assert_security_headers(r: &Reply, what: &str) {
    assert_eq!(r.header("Content-Security-Policy"), Some(CSP), "{what}");
    assert_eq!(
        r.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"), "{what}");
    assert!(
        r.header("Permissions-Policy")
            .is_some_and(|p| p.contains("camera=()")),
        "{what}"
    );
    assert_eq!(r.header("Server"), None, "{what}: Caddy names itself");
}

/// One kind of published file: where it is, what Caddy must say about it.
struct Kind {
    path: &'static str,
    content_type: &'static str,
    cache: &'static str,
}

const REVALIDATE: &str = "public, no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const KINDS: &[Kind] = &[
    Kind {
        path: "/",
        content_type: "text/html; charset=utf-8",
        cache: REVALIDATE,
    },
    Kind {
        path: "/index.html",
        content_type: "text/html; charset=utf-8",
        cache: REVALIDATE,
    },
    Kind {
        path: "/tasks.html",
        content_type: "text/html; charset=utf-8",
        cache: REVALIDATE,
    },
    Kind {
        path: "/status.json",
        content_type: "application/json",
        cache: REVALIDATE,
    },
    Kind {
        path: "/feed.xml",
        content_type: "application/atom+xml; charset=utf-8",
        cache: REVALIDATE,
    },
    Kind {
        path: "/metrics",
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        cache: REVALIDATE,
    },
    Kind {
        path: "/badges/web.svg",
        content_type: "image/svg+xml",
        cache: REVALIDATE,
    },
    Kind {
        path: "/badges/web.json",
        content_type: "application/json",
        cache: REVALIDATE,
    },
    Kind {
        path: "/assets/style.css?v=0123abcd",
        content_type: "text/css; charset=utf-8",
        cache: IMMUTABLE,
    },
    Kind {
        path: "/assets/live.js?v=0123abcd",
        content_type: "text/javascript; charset=utf-8",
        cache: IMMUTABLE,
    },
    // An asset asked for without its hash could be any version: it is revalidated.
    Kind {
        path: "/assets/style.css",
        content_type: "text/css; charset=utf-8",
        cache: REVALIDATE,
    },
];

/// The file a request path names in out_dir.
fn file_of(root: &Path, path: &str) -> PathBuf {
    let path = path.split('?').next().unwrap();
    let rel = if path == "/" {
        "index.html"
    } else {
        &path[1..]
    };
    root.join(rel)
}

/// A hand-built out_dir with one file of each kind, each with its gzip sidecar, and dot-files
/// like the publisher's temporary ones: pins the Caddyfile's behaviour independently of what
/// the daemon writes today.
#[test]
fn caddy_serves_each_kind_of_file_with_its_headers_and_gzip_sidecar() {
    let root = tempfile::tempdir().unwrap();
    for kind in KINDS {
        let file = file_of(root.path(), kind.path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let body = format!("content of {} {}\n", kind.path, "x".repeat(200));
        std::fs::write(&file, &body).unwrap();
        let mut gz = file.clone().into_os_string();
        gz.push(".gz");
        std::fs::write(gz, gzip(body.as_bytes())).unwrap();
    }
    std::fs::write(root.path().join(".publish-Ab12"), "half a file").unwrap();
    std::fs::write(root.path().join("assets/.publish-Cd34"), "half a file").unwrap();
    // Nothing listens on the API address (a port just freed): the endpoint is "down".
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let caddy = Caddy::start(root.path(), closed);

    for kind in KINDS {
        let on_disk = std::fs::read(file_of(root.path(), kind.path)).unwrap();
        let what = format!("{} (gzip)", kind.path);
        let r = fetch(caddy.addr, kind.path, true);
        assert_eq!(r.status, 200, "{what}: {}\n{}", r.text(), caddy.log());
        assert_security_headers(&r, &what);
        assert_eq!(r.header("Content-Type"), Some(kind.content_type), "{what}");
        assert_eq!(r.header("Cache-Control"), Some(kind.cache), "{what}");
        assert_eq!(r.header("Content-Encoding"), Some("gzip"), "{what}");
        assert_eq!(r.header("Vary"), Some("Accept-Encoding"), "{what}");
        assert_eq!(
            gunzip(&r.body),
            on_disk,
            "{what}: the sidecar, decompressed"
        );

        let what = format!("{} (identity)", kind.path);
        let plain = fetch(caddy.addr, kind.path, false);
        assert_eq!(plain.status, 200, "{what}");
        assert_eq!(plain.header("Content-Encoding"), None, "{what}");
        assert_eq!(
            plain.header("Content-Type"),
            Some(kind.content_type),
            "{what}"
        );
        assert_eq!(plain.header("Cache-Control"), Some(kind.cache), "{what}");
        assert_eq!(plain.body, on_disk, "{what}");

        // Revalidation is cheap: the ETag of what was sent brings a 304 with no body.
        let etag = r
            .header("ETag")
            .unwrap_or_else(|| panic!("{what}: no ETag"));
        let again = request(
            caddy.addr,
            "GET",
            kind.path,
            &[("Accept-Encoding", "gzip"), ("If-None-Match", etag)],
            b"",
        );
        assert_eq!(again.status, 304, "{what}");
        assert!(again.body.is_empty());
    }

    // Temporary files, and any other dot-file, do not exist as far as a visitor can tell.
    for path in [
        "/.publish-Ab12",
        "/assets/.publish-Cd34",
        "/assets/%2epublish-Cd34",
        "/assets/../.publish-Ab12",
    ] {
        let r = fetch(caddy.addr, path, true);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.text(), "404 Not Found", "{path}");
        assert_security_headers(&r, path);
    }
    // Errors carry the same headers: a missing file, and the endpoint not answering.
    let r = fetch(caddy.addr, "/no-such-page.html", true);
    assert_eq!((r.status, r.text().as_str()), (404, "404 Not Found"));
    assert_security_headers(&r, "a missing file");
    let r = fetch(caddy.addr, "/api/health", true);
    assert_eq!(r.status, 502, "{}", r.text());
    assert_security_headers(&r, "/api/* with the endpoint down");
}

/// Every file under `dir`, relative, sorted; dot-files included (there should be none).
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for name in names_in(dir) {
        let path = dir.join(&name);
        if path.is_dir() {
            found.extend(
                files_under(&path)
                    .into_iter()
                    .map(|f| format!("{name}/{f}")),
            );
        } else {
            found.push(name);
        }
    }
    found.sort();
    found
}

/// The real daemon (as deployed: the endpoint does not serve files) behind the real Caddy,
/// watching one service, a loopback peer the test turns up and down, with the fake Symbiont as
/// the task backend.
struct Stack {
    site: crate::common::Site,
    _daemon: crate::common::Daemon,
    symbiont: FakeSymbiont,
    /// The watched service, "Database" (slug `database`); up until the test says otherwise.
    peer: Peer,
    caddy: Caddy,
}

fn stack(interval: &str) -> Stack {
    let symbiont = FakeSymbiont::start();
    let peer = Peer::start(Behaviour::ok());
    let top = format!(
        "title = \"Deploy Test\"\ninterval = \"{interval}\"\n\
         [[service]]\nname = \"Database\"\nkind = \"http\"\nurl = \"{}\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\nserve_public = false\n",
        peer.url("/health")
    );
    let (site, daemon) = symbiont.daemon(&top, "5s", PASSWORD, TOKEN);
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let caddy = Caddy::start(&site.out(), daemon.addr());
    Stack {
        site,
        _daemon: daemon,
        symbiont,
        peer,
        caddy,
    }
}

#[test]
fn through_caddy_every_published_file_past_512_bytes_comes_gzipped_from_its_sidecar() {
    // One cycle only, so the files stay put while they are compared.
    let s = stack("1h");
    let out = s.site.out();
    let files = files_under(&out);
    assert!(
        files
            .iter()
            .all(|f| !f.split('/').any(|c| c.starts_with('.'))),
        "a temporary file was left in out_dir: {files:?}"
    );
    let published: Vec<&String> = files.iter().filter(|f| !f.ends_with(".gz")).collect();
    for want in [
        "index.html",
        "status.json",
        "tasks.html",
        "feed.xml",
        "metrics",
    ] {
        assert!(
            published.iter().any(|f| *f == want),
            "no {want} in {files:?}"
        );
    }
    for file in &published {
        let path = format!("/{file}");
        let r = fetch(s.caddy.addr, &path, true);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_security_headers(&r, &path);
        let on_disk = std::fs::read(out.join(file)).unwrap();
        // Files under 512 bytes have no sidecar (the publisher's GZ_MIN), nor has `metrics`
        // (one scraper reads it): served as they are.
        if on_disk.len() < 512 || *file == "metrics" {
            assert_eq!(r.header("Content-Encoding"), None, "{path}");
            assert_eq!(r.body, on_disk, "{path}: another version served");
            continue;
        }
        assert_eq!(
            r.header("Content-Encoding"),
            Some("gzip"),
            "{path}: no sidecar served"
        );
        assert_eq!(
            gunzip(&r.body),
            on_disk,
            "{path}: the sidecar holds another version"
        );
        let kind = KINDS
            .iter()
            .find(|k| k.path == path)
            .map(|k| (k.content_type, k.cache));
        if let Some((content_type, cache)) = kind {
            assert_eq!(r.header("Content-Type"), Some(content_type), "{path}");
            assert_eq!(r.header("Cache-Control"), Some(cache), "{path}");
        }
    }

    // The pages link their assets by content hash, which is what makes `immutable` safe.
    let html = read(&out.join("index.html"));
    let hashed: Vec<&str> = html
        .split('"')
        .filter(|a| a.starts_with("assets/") && a.contains("?v="))
        .collect();
    assert!(!hashed.is_empty(), "no assets/…?v= link in index.html");
    for asset in hashed {
        let path = format!("/{}", asset.replace("&amp;", "&"));
        let r = fetch(s.caddy.addr, &path, true);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Cache-Control"), Some(IMMUTABLE), "{path}");
        let size = std::fs::metadata(out.join(asset.split('?').next().unwrap()))
            .unwrap()
            .len();
        let sidecar = (size >= 512).then_some("gzip");
        assert_eq!(
            r.header("Content-Encoding"),
            sidecar,
            "{path}: {size} bytes"
        );
    }
}

#[test]
fn through_caddy_the_api_reaches_the_endpoint_and_a_task_runs_to_completion() {
    let s = stack("1h");
    let addr = s.caddy.addr;
    let health = fetch(addr, "/api/health", false);
    assert_eq!(health.status, 200, "{}\n{}", health.text(), s.caddy.log());
    let h: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(h["status"], "ok");

    // As the form sends it, from the page's own origin.
    let origin = format!("http://{addr}");
    let auth = format!("Bearer {PASSWORD}");
    let json_headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Origin", origin.as_str()),
    ];
    let r = request(
        addr,
        "POST",
        "/api/tasks",
        &json_headers,
        br#"{"prompt": "hi"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_security_headers(&r, "POST /api/tasks");
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    let id = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    let last = loop {
        let r = request(
            addr,
            "GET",
            &format!("/api/tasks/{id}"),
            &json_headers[..1],
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let progress: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        if progress["status"] == "completed" {
            break progress;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{progress}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(last["task_id"], id.as_str());
    let posted: Vec<_> = s
        .symbiont
        .received()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // The endpoint's refusals come through as it made them.
    let r = request(
        addr,
        "POST",
        "/api/tasks",
        &[
            ("Authorization", "Bearer wrong"),
            ("Content-Type", "application/json"),
        ],
        br#"{"prompt": "hi"}"#,
    );
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(r.text().contains("password"), "{}", r.text());
}

/// status.json through Caddy as live.js asks for it (gzip, and the validators of the last answer)
/// while the daemon republishes it every cycle, until both outcomes were seen: an unchanged
/// file costs a bodiless 304 with the site's headers, and a republished one brings a 200 with a
/// new ETag.
///
/// Caddy's ETag is the served file's mtime in whole seconds and its size (`"tozu34eo"`: base 36,
/// here of the gzip sidecar), so a version published in the same second as the last one, at the
/// same size, keeps the ETag: a 304 here does not prove the file is unchanged, and that case is
/// not asserted either way. live.js polls at least 2 s apart, so it always compares across
/// seconds.
fn revalidate_status_json(addr: SocketAddr) {
    let mut last = fetch(addr, "/status.json", true);
    assert_eq!(last.status, 200, "{}", last.text());
    let (mut not_modified, mut changed) = (false, false);
    let start = Instant::now();
    while !not_modified || !changed {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "seen: a 304 {not_modified}, a change {changed}"
        );
        let etag = last
            .header("ETag")
            .expect("no ETag on status.json")
            .to_string();
        let date = last.header("Last-Modified").unwrap_or_default().to_string();
        let r = request(
            addr,
            "GET",
            "/status.json",
            &[
                ("Accept-Encoding", "gzip, deflate, br"),
                ("If-None-Match", &etag),
                ("If-Modified-Since", &date),
            ],
            b"",
        );
        match r.status {
            304 => {
                assert!(r.body.is_empty(), "a 304 with a body");
                assert_eq!(r.header("ETag"), Some(etag.as_str()));
                assert_security_headers(&r, "304 for status.json");
                assert_eq!(r.header("Cache-Control"), Some(REVALIDATE));
                assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
                not_modified = true;
                // Room for a cycle to republish before the next ask.
                std::thread::sleep(Duration::from_millis(100));
            }
            200 => {
                assert_eq!(r.header("Content-Encoding"), Some("gzip"));
                assert_ne!(
                    r.header("ETag"),
                    Some(etag.as_str()),
                    "a 200 for the same ETag"
                );
                let json: serde_json::Value = serde_json::from_slice(&gunzip(&r.body)).unwrap();
                assert_eq!(json["schema"], 1);
                changed = true;
                last = r;
            }
            other => panic!("{other} for a conditional GET of status.json: {}", r.text()),
        }
    }
}

/// The deployed page in a real browser, through Caddy and under its Content-Security-Policy:
/// no violation and no console error; a service going down shows in place, without a reload
/// (live.js polls status.json and fetches the page again, both through Caddy); and the task
/// form runs a task to completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_through_caddy_the_page_works_under_the_csp() {
    use crate::common::browser::{Browser, FETCHES};
    // A short interval: a change is in the files within 300 ms, on the page within a poll (2 s).
    let s = tokio::task::spawn_blocking(|| stack("300ms"))
        .await
        .unwrap();
    // Plain requests for the 304 path meanwhile: the browser polls 2 s apart, and with a 300 ms
    // interval it always finds a new file.
    let addr = s.caddy.addr;
    let revalidation = tokio::task::spawn_blocking(move || revalidate_status_json(addr));
    let b = Browser::start().await;

    b.goto(&s.caddy.url("/")).await;
    b.wait_for_text("#service-database", "up").await;
    // live.js has read the feed once: that is what the change is compared against.
    b.wait_for_script(FETCHES, "/status.json 200").await;
    b.mark_document().await;

    s.peer.set(Behaviour::json(500, r#"{"status":"down"}"#));
    let row = b.wait_for_text("#service-database", "down").await;
    assert!(row.contains("HTTP 500"), "the error is shown: {row}");
    b.wait_for_text("#overall-heading", "Some services are down")
        .await;
    assert!(b.same_document().await, "the page was reloaded");
    b.wait_for_script(
        "return document.getElementById('live-announce').textContent;",
        "Database is now down",
    )
    .await;
    // What live.js asked Caddy for, all answered: the feed, and the page for its new markup.
    let fetches = b.fetches().await;
    assert!(
        fetches.iter().any(|f| f == "/ 200"),
        "live.js never fetched the page: {fetches:?}"
    );
    assert!(
        fetches
            .iter()
            .all(|f| f.ends_with(" 200") || f.ends_with(" 304")),
        "{fetches:?}"
    );
    // The browser got both gzipped (from the sidecars): fewer bytes on the wire than decoded.
    let gzipped = b
        .run(
            "return performance.getEntriesByType('resource')
               .filter(e => e.initiatorType === 'fetch' && e.responseStatus === 200)
               .every(e => e.encodedBodySize > 0 && e.encodedBodySize < e.decodedBodySize);",
        )
        .await;
    assert_eq!(gzipped, serde_json::Value::Bool(true), "{fetches:?}");
    let errors = b.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors on the status page: {errors:#?}"
    );
    // After the change, so it shows real data: a service down, with its error.
    let shot = b.screenshot("caddy-status-page").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);

    revalidation.await.unwrap();

    b.goto(&s.caddy.url("/tasks.html")).await;
    b.find("form#task-form").await;
    b.type_into("textarea#prompt", "Summarise the logs").await;
    b.type_into("input#password", PASSWORD).await;
    b.find("button#submit").await.click().await.unwrap();
    b.wait_for_text("#task-status", "completed").await;
    assert_eq!(
        b.wait_for_text("#task-result", "all done").await,
        "all done"
    );
    let shot = b.screenshot("caddy-task-form").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 1000);
    let errors = b.console_errors().await;
    assert!(
        errors.is_empty(),
        "console errors on the task form: {errors:#?}"
    );
    let posted = s
        .symbiont
        .received()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posted, 1, "the form's task reached Symbiont once");
    drop(b);
    tokio::task::spawn_blocking(move || drop(s)).await.unwrap();
}
