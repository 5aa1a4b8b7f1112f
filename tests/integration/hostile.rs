//! Hostile or broken peers and targets, and the secrets a child process must not see: the hub
//! stays up, what a peer says reaches the page bounded and redacted, and `on_publish` finds
//! neither secret in its own environment, its parent's, or through a credentials directory.

use crate::common::peer::{Behaviour, Peer};
use crate::common::symbiont::{FakeSymbiont, PASSWORD, TOKEN};
use crate::common::{Site, process_name, request, wait_until};
use serde_json::{Value, json};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A peer's status.json with the given values spliced in as written (any JSON text).
fn feed_body(generated_at: &str, interval: &str, overall: &str, services: &str) -> String {
    format!(
        r#"{{"schema":1,"generated_at":{generated_at},"interval_seconds":{interval},"overall":{overall},"host":{{"hostname":"peer"}},"services":{services},"incidents":[],"errors":[]}}"#
    )
}

fn now_json() -> String {
    json!(chrono::Utc::now().to_rfc3339()).to_string()
}

fn feed_service(name: &str, peer: &Peer) -> String {
    format!(
        "[[service]]\nname = \"{name}\"\nkind = \"feed\"\nurl = \"{}\"\n",
        peer.url("/status.json")
    )
}

fn service(status: &Value, name: &str) -> Value {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no service {name}"))
        .clone()
}

/// Waits until every named service has been checked at least once.
fn wait_checked(site: &Site, names: &[&str]) -> Value {
    let mut last = Value::Null;
    wait_until("every service checked", WAIT, || {
        let Some(status) = std::fs::read(site.out().join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return false;
        };
        let done = names
            .iter()
            .all(|n| service(&status, n)["checked_at"].is_string());
        last = status;
        done
    });
    last
}

#[test]
fn feed_peers_with_extreme_numbers_leave_the_hub_up_and_say_why() {
    let now = now_json();
    let cases = [
        ("huge", "1e19"),
        ("past u64", "18446744073709551615"),
        ("max f64", "1.7976931348623157e308"),
        ("negative", "-5"),
        ("zero", "0"),
    ];
    let peers: Vec<Peer> = cases
        .iter()
        .map(|(_, n)| Peer::start(Behaviour::json(200, &feed_body(&now, n, "\"up\"", "[]"))))
        .collect();
    let wrong_type = Peer::start(Behaviour::json(
        200,
        &feed_body(&now, "\"5\"", "\"up\"", "[]"),
    ));
    let mut config = String::from("interval = \"100ms\"\n");
    for ((name, _), peer) in cases.iter().zip(&peers) {
        config.push_str(&feed_service(name, peer));
    }
    config.push_str(&feed_service("wrong type", &wrong_type));
    let site = Site::new(&config);
    let daemon = site.start();
    let names: Vec<&str> = cases
        .iter()
        .map(|(n, _)| *n)
        .chain(["wrong type"])
        .collect();
    wait_checked(&site, &names);
    // Several cycles later the hub is still there (the old one aborted on the first).
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 5, WAIT);
    let status = site.status_json();
    for (name, number) in cases {
        let s = service(&status, name);
        assert_eq!(s["status"], "unknown", "{name}: {s}");
        let error = s["error"].as_str().unwrap();
        assert!(
            error.contains("interval_seconds") && error.contains("out of range"),
            "{name} ({number}): {error}"
        );
    }
    let s = service(&status, "wrong type");
    assert_eq!(s["status"], "down");
    assert!(
        s["error"]
            .as_str()
            .unwrap()
            .starts_with("not a cortex-status feed"),
        "{s}"
    );
    assert_ne!(status["overall"], "up");
}

#[test]
fn a_feed_peer_whose_clock_is_ahead_is_not_up_and_says_so() {
    let ahead = json!((chrono::Utc::now() + chrono::TimeDelta::hours(2)).to_rfc3339()).to_string();
    let peer = Peer::start(Behaviour::json(
        200,
        &feed_body(&ahead, "5", "\"up\"", r#"[{"name":"web","status":"up"}]"#),
    ));
    let site = Site::new(&format!(
        "interval = \"100ms\"\n{}",
        feed_service("edge", &peer)
    ));
    let _daemon = site.start();
    let status = wait_checked(&site, &["edge"]);
    let s = service(&status, "edge");
    assert_eq!(s["status"], "unknown", "{s}");
    let error = s["error"].as_str().unwrap();
    assert!(
        error.contains("the peer's clock is 1h 59m") && error.contains("ahead of ours"),
        "{error}"
    );
    let html = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert!(html.contains("ahead of ours"), "the page says why");
}

#[test]
fn a_feed_peer_with_ten_thousand_services_is_bounded_on_the_page_and_in_the_feed() {
    let services: Vec<Value> = (0..10_000)
        .map(|i| json!({"name": format!("service number {i:05} of a very large peer"), "status": "down"}))
        .collect();
    let body = feed_body(
        &now_json(),
        "5",
        "\"down\"",
        &Value::Array(services).to_string(),
    );
    assert!(body.len() > 500_000, "the peer's feed is big");
    let peer = Peer::start(Behaviour::json(200, &body));
    // And one past the 1 MiB a probe reads.
    let services: Vec<Value> = (0..30_000)
        .map(|i| json!({"name": format!("service number {i:05} of a very large peer"), "status": "up"}))
        .collect();
    let huge = feed_body(
        &now_json(),
        "5",
        "\"up\"",
        &Value::Array(services).to_string(),
    );
    let huge = Peer::start(Behaviour::json(200, &huge));
    let site = Site::new(&format!(
        "interval = \"100ms\"\n{}{}",
        feed_service("big", &peer),
        feed_service("huge", &huge)
    ));
    let daemon = site.start();
    let status = wait_checked(&site, &["big", "huge"]);
    let s = service(&status, "huge");
    assert_eq!(s["status"], "down");
    assert_eq!(s["error"], "the feed is larger than 1024 KiB: not read");
    let s = service(&status, "big");
    assert_eq!(s["status"], "down");
    let error = s["error"].as_str().unwrap();
    assert!(error.chars().count() <= 512, "{} chars", error.len());
    assert!(
        error.starts_with("service number 00000 of a very large peer is down, ")
            && error.ends_with(" and 9,996 more not up"),
        "{error}"
    );
    assert_eq!(s["details"]["services"].as_array().unwrap().len(), 50);
    assert_eq!(s["details"]["services_total"], 10_000);
    // Everything the hub publishes stays small: the old hub wrote the 10,000 names twice.
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 3, WAIT);
    for file in ["status.json", "index.html", "feed.xml", "metrics"] {
        let size = std::fs::metadata(site.out().join(file)).unwrap().len();
        assert!(size < 64 * 1024, "{file} is {size} bytes");
    }
    assert!(
        daemon.log().len() < 64 * 1024,
        "the log: {}",
        daemon.log().len()
    );
}

/// A target that answers every request with `head` (status line and headers) and closes.
fn raw_peer(head: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            if crate::common::read_head(&mut stream).is_some() {
                let _ = stream.write_all(head.as_bytes());
            }
        }
    });
    addr
}

#[test]
fn urls_in_what_targets_say_are_shown_without_credentials_and_bounded() {
    let reason = raw_peer(
        "HTTP/1.1 503 see http://admin:hunter2@db.local/x?key=k3y-leak and more\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let feed = Peer::start(Behaviour::json(
        200,
        &feed_body(
            &now_json(),
            "5",
            "\"down\"",
            r#"[{"name":"db at postgres://app:hunter2@db.local/app?sslkey=k3y-leak","status":"down"}]"#,
        ),
    ));
    let site = Site::new(&format!(
        "interval = \"100ms\"\n[[service]]\nname = \"reason\"\nkind = \"http\"\nurl = \"http://{reason}/\"\n{}",
        feed_service("feed", &feed)
    ));
    let daemon = site.start();
    let status = wait_checked(&site, &["reason", "feed"]);
    let error = service(&status, "reason")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(error, "HTTP 503 see http://db.local/x?… and more");
    let error = service(&status, "feed")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(error, "db at postgres://db.local/app?… is down");
    for file in ["status.json", "index.html"] {
        let text = std::fs::read_to_string(site.out().join(file)).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("k3y-leak"),
            "{file} has a credential"
        );
    }
    let log = daemon.log();
    assert!(
        !log.contains("hunter2") && !log.contains("k3y-leak"),
        "{log}"
    );
}

/// An `on_publish` command that copies, into `seen`, everything through which it might find a
/// secret: its own environment, its parent's (`/proc/$PPID/environ`), the files any `*_FILE`
/// variable names there, and the `CREDENTIALS_DIRECTORY` of either. Written aside and renamed,
/// so the test never reads a run half-way.
fn snooping_hook(seen: &Path) -> String {
    let seen = seen.display();
    format!(
        r#"{{ echo "== own env"; env; echo "== parent env"; tr "\0" "\n" < /proc/$PPID/environ; echo; echo "== files"; for f in $(env | sed -n "s/^[A-Z_]*_FILE=//p") $(tr "\0" "\n" < /proc/$PPID/environ | sed -n "s/^[A-Z_]*_FILE=//p"); do cat "$f"; done; for d in "$CREDENTIALS_DIRECTORY" $(tr "\0" "\n" < /proc/$PPID/environ | sed -n "s/^CREDENTIALS_DIRECTORY=//p"); do [ -n "$d" ] && cat "$d"/*; done; echo "== end"; }} > {seen}.$$ 2>&1; mv {seen}.$$ {seen}"#
    )
}

/// Every file under `dir`, as bytes.
fn all_files(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Runs the daemon with tasks on and the snooping hook, the secrets given by `secrets`, and
/// checks that the form still works with them and that neither leaked anywhere.
fn hook_sees_no_secret(give: impl FnOnce(&mut std::process::Command, &Path)) {
    let symbiont = FakeSymbiont::start();
    let scratch = tempfile::tempdir().unwrap();
    let seen = scratch.path().join("seen");
    let site = Site::new(&format!(
        "interval = \"100ms\"\non_publish = '{}'\n[tasks]\nsymbiont_url = \"{}\"\ntimeout = \"5s\"\n",
        snooping_hook(&seen),
        symbiont.url()
    ));
    let mut cmd = site.command(&["run"]);
    give(&mut cmd, scratch.path());
    let daemon = site.start_with(cmd);
    // Moving the secrets re-executed the binary through /proc/self/exe, after which the kernel
    // calls the process `exe`: `ps` and `pgrep cortex-status` must still find it by its name.
    assert_eq!(process_name(daemon.child.id()), "cortex-status");
    wait_until("the hook ran", WAIT, || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.contains("== end"))
    });
    // The daemon still has both secrets: the form takes the password, Symbiont gets the token.
    let r = request(
        daemon.addr(),
        "POST",
        "/api/tasks",
        &[
            ("Authorization", &format!("Bearer {PASSWORD}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"prompt":"hello"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(
        symbiont.received()[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let seen_text = std::fs::read_to_string(&seen).unwrap();
    // The snoop works: as root it reads the parent's environment whatever the daemon does; as
    // another user the daemon holding a secret is not dumpable, and the read is refused.
    if rustix::process::geteuid().is_root() {
        let parent = seen_text.split("== parent env").nth(1).unwrap();
        assert!(
            parent.contains("PATH="),
            "the parent's environment was not read:\n{seen_text}"
        );
    }
    for secret in [PASSWORD, TOKEN] {
        assert!(
            !seen_text.contains(secret),
            "on_publish found a secret:\n{seen_text}"
        );
        for (path, bytes) in all_files(&site.out())
            .into_iter()
            .chain(all_files(&site.path("state")))
        {
            assert!(
                !contains(&bytes, secret),
                "{} holds a secret",
                path.display()
            );
        }
        assert!(!daemon.log().contains(secret), "the log holds a secret");
    }
    assert!(
        !seen_text.contains("CREDENTIALS_DIRECTORY="),
        "on_publish learned the credentials directory:\n{seen_text}"
    );
}

#[test]
fn on_publish_finds_no_secret_given_in_the_environment() {
    hook_sees_no_secret(|cmd, _| {
        cmd.env("STATUS_TASK_PASSWORD", PASSWORD)
            .env("SYMBIONT_TOKEN", TOKEN);
    });
}

#[test]
fn on_publish_finds_no_secret_given_as_credential_files() {
    hook_sees_no_secret(|cmd, scratch| {
        let creds = scratch.join("credentials");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join("task-password"), format!("{PASSWORD}\n")).unwrap();
        std::fs::write(creds.join("symbiont-token"), format!("{TOKEN}\n")).unwrap();
        cmd.env("CREDENTIALS_DIRECTORY", &creds)
            .env("STATUS_TASK_PASSWORD_FILE", creds.join("task-password"))
            .env("SYMBIONT_TOKEN_FILE", creds.join("symbiont-token"));
    });
}

#[test]
fn check_and_build_read_the_secrets_moved_out_of_the_environment() {
    let scratch = tempfile::tempdir().unwrap();
    let seen = scratch.path().join("seen");
    let site = Site::new(&format!(
        "interval = \"5s\"\non_publish = '{}'\n[tasks]\nsymbiont_url = \"http://127.0.0.1:9/\"\n",
        snooping_hook(&seen)
    ));
    // The handed-over variables reach the config as before: a missing file is named...
    let out = site
        .command(&["check"])
        .env("STATUS_TASK_PASSWORD_FILE", "/no/such/cortex-file")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        // The variable is named; its value (a path) is never quoted, in case a secret was put
        // there by mistake.
        stderr.contains("STATUS_TASK_PASSWORD_FILE")
            && stderr.contains("No such file")
            && !stderr.contains("/no/such/cortex-file"),
        "{stderr}"
    );
    // ...both forms at once are refused...
    let out = site
        .command(&["check"])
        .env("SYMBIONT_TOKEN", TOKEN)
        .env("SYMBIONT_TOKEN_FILE", "/no/such/cortex-file")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not both") && !stderr.contains(TOKEN),
        "{stderr}"
    );
    // ...and good ones pass `check` and `build`, whose on_publish finds neither.
    for args in [["check"], ["build"]] {
        let out = site
            .command(&args)
            .env("STATUS_TASK_PASSWORD", PASSWORD)
            .env("SYMBIONT_TOKEN", TOKEN)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {said}");
        assert!(!said.contains(PASSWORD) && !said.contains(TOKEN), "{said}");
    }
    let seen_text = std::fs::read_to_string(&seen).unwrap();
    assert!(seen_text.contains("== end"), "{seen_text}");
    assert!(
        !seen_text.contains(PASSWORD) && !seen_text.contains(TOKEN),
        "on_publish under build found a secret:\n{seen_text}"
    );
}

/// The daemon as an ordinary user: as itself when the tests are not root, else as nobody
/// (root reads any process's /proc files, which would hide what this checks).
fn as_ordinary_user(site: &Site) -> std::process::Command {
    use std::os::unix::fs::PermissionsExt;
    if !rustix::process::geteuid().is_root() {
        return site.command(&["run"]);
    }
    std::fs::set_permissions(site.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(crate::common::BIN)
        .args(["run", "--config"])
        .arg(site.config())
        .current_dir(site.dir.path())
        .env("RUST_LOG", "info")
        .env_remove("PORT")
        .env_remove("SYMBIONT_URL")
        .env_remove("STATUS_PUBLIC_URL");
    cmd
}

#[test]
fn a_daemon_holding_a_secret_keeps_its_memory_from_processes_of_its_user() {
    for with_secret in [false, true] {
        let site = Site::new("interval = \"100ms\"\n");
        let seen = site.path("seen");
        let hook = format!(
            "if head -c 1 /proc/$PPID/maps >/dev/null 2>&1; then echo readable; else echo refused; fi > {s}.$$; mv {s}.$$ {s}",
            s = seen.display()
        );
        std::fs::write(
            site.config(),
            std::fs::read_to_string(site.config()).unwrap().replace(
                "interval = ",
                &format!("on_publish = '{hook}'\ninterval = "),
            ),
        )
        .unwrap();
        let mut cmd = as_ordinary_user(&site);
        if with_secret {
            cmd.env("SYMBIONT_TOKEN", TOKEN);
        }
        let _daemon = site.start_with(cmd);
        wait_until("the hook ran", WAIT, || seen.exists());
        let said = std::fs::read_to_string(&seen).unwrap();
        // Without a secret nothing changes (the control: the probe can tell); with one, the
        // daemon's memory map, and so its memory, is closed to its own children.
        let want = if with_secret { "refused" } else { "readable" };
        assert_eq!(said.trim(), want, "with a secret: {with_secret}");
    }
}

#[test]
fn variables_the_config_names_are_moved_out_of_the_environment_too() {
    let scratch = tempfile::tempdir().unwrap();
    let seen = scratch.path().join("seen");
    let site = Site::new(&format!(
        "interval = \"100ms\"\non_publish = '{}'\n# the cache lives in ${{HOME}}\n[[service]]\nname = \"db\"\nkind = \"http\"\nurl = \"http://app:${{DB_PASSWORD}}@127.0.0.1:9/\"\n",
        snooping_hook(&seen)
    ));
    let mut cmd = site.command(&["run"]);
    cmd.env("DB_PASSWORD", "db-pw-7c1e")
        .env("HOME", "/home/for-the-hook");
    let daemon = site.start_with(cmd);
    wait_until("the hook ran", WAIT, || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s.contains("== end"))
    });
    let seen_text = std::fs::read_to_string(&seen).unwrap();
    assert!(
        !seen_text.contains("db-pw-7c1e"),
        "on_publish found a variable the config names:\n{seen_text}"
    );
    // The conventional variables stay where the hook needs them.
    assert!(seen_text.contains("HOME=/home/for-the-hook"), "{seen_text}");
    assert!(!daemon.log().contains("db-pw-7c1e"));
}
