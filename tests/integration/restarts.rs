//! Signals, restarts and what survives them: SIGHUP reloads, every stopping signal saves the
//! history, a stop does not wait for probes, one instance per state_dir, leftovers of a kill,
//! clock steps, an oversized history file, and edits made while the loop is busy.

use crate::common::peer::{Behaviour, Peer};
use crate::common::{Daemon, Site, wait_until};
use serde_json::Value;
use std::io::Write as _;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

fn service(peer: &Peer) -> String {
    format!(
        "[[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/")
    )
}

fn kill(daemon: &Daemon, signal: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for the daemon's exit, failing after `bound`.
fn exit_within(daemon: &mut Daemon, bound: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < bound,
            "still running {bound:?} after the signal:\n{}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end, failing (after killing it) if that takes more than `bound`.
fn output_within(mut cmd: Command, bound: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {bound:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn saved(site: &Site) -> Value {
    serde_json::from_slice(&std::fs::read(site.path("state/history.json")).unwrap()).unwrap()
}

fn page(site: &Site) -> String {
    std::fs::read_to_string(site.out().join("index.html")).unwrap_or_default()
}

/// The log's last line that says something.
fn last_line(daemon: &Daemon) -> String {
    daemon
        .log()
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

/// SIGHUP used to end the daemon (its default action) without saving. Now it reloads the
/// config at once. The config is reached through a symlink into a directory the file watch does
/// not see, so only the signal can make the edit live.
#[test]
fn sighup_reloads_the_config_now() {
    let site = Site::new("interval = \"1h\"\ntitle = \"Before HUP\"\n");
    let hidden = site.path("elsewhere");
    std::fs::create_dir(&hidden).unwrap();
    let real = hidden.join("cortex-status.toml");
    std::fs::rename(site.config(), &real).unwrap();
    std::os::unix::fs::symlink(&real, site.config()).unwrap();
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert!(page(&site).contains("Before HUP"));

    let text = std::fs::read_to_string(&real).unwrap();
    std::fs::write(&real, text.replace("Before HUP", "After HUP")).unwrap();
    // The premise: the watch does not see this edit.
    std::thread::sleep(Duration::from_secs(1));
    assert!(page(&site).contains("Before HUP"), "the watch saw the edit");

    kill(&daemon, "HUP");
    daemon.wait_for_log("SIGHUP received", Duration::from_secs(10));
    wait_until("the title after SIGHUP", Duration::from_secs(10), || {
        page(&site).contains("After HUP")
    });
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "SIGHUP ended it"
    );
    // And again: a reload is not a one-off.
    std::fs::write(&real, text.replace("Before HUP", "Third HUP")).unwrap();
    kill(&daemon, "HUP");
    wait_until(
        "the title after a second SIGHUP",
        Duration::from_secs(10),
        || page(&site).contains("Third HUP"),
    );
    assert!(daemon.terminate().success());
}

/// SIGQUIT and SIGUSR1 used to end the daemon where it stood: the counts since the last save
/// (up to a minute of them) were lost. Each now stops it in order, like SIGTERM.
#[test]
fn sigquit_and_sigusr1_stop_in_order_and_keep_the_counts() {
    for signal in ["QUIT", "USR1", "INT"] {
        let peer = Peer::start(Behaviour::ok());
        let site = Site::new(&format!("interval = \"50ms\"\n{}", service(&peer)));
        let mut daemon = site.start();
        daemon.wait_for_cycles(10, Duration::from_secs(20));
        kill(&daemon, signal);
        let status = exit_within(&mut daemon, Duration::from_secs(10));
        assert!(status.success(), "SIG{signal}: {status}\n{}", daemon.log());
        assert!(
            daemon.log().contains(&format!("SIG{signal} received")),
            "{}",
            daemon.log()
        );
        assert!(
            last_line(&daemon).ends_with("stopped"),
            "SIG{signal}: {}",
            daemon.log()
        );
        // Saved at the first cycle and then only every minute: without the save at the stop
        // the file holds one check at most. Ten cycles ran, but the first may still wait on
        // its probe and, on a loaded machine, a probe may span two cycles (counted once).
        let up = saved(&site)["services"]["web"]["ok"][0].as_u64().unwrap();
        assert!(up >= 5, "SIG{signal}: only {up} checks saved");
    }
}

/// A probe that waits on a 5-minute timeout used to hold a stop for up to 5 minutes (systemd
/// kills after 20 s and the history is lost). In-flight probes are abandoned now: the stop is
/// prompt, and what the other probes found is published and saved.
#[test]
fn sigterm_during_a_five_minute_probe_exits_at_once_and_saves() {
    let hanging = Peer::start(Behaviour::ok().delayed(Duration::from_secs(600)));
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"5m\"\n\
         [[service]]\nname = \"Hanging\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"5m\"\n\
         [[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"{}\"\n",
        hanging.url("/"),
        up.url("/")
    ));
    let mut daemon = site.start();
    wait_until("both probes running", Duration::from_secs(20), || {
        hanging.hits() >= 1 && up.hits() >= 1
    });
    let signalled = Instant::now();
    kill(&daemon, "TERM");
    let status = exit_within(&mut daemon, Duration::from_secs(5));
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
    assert!(status.success(), "{status}\n{}", daemon.log());
    assert!(last_line(&daemon).ends_with("stopped"), "{}", daemon.log());
    let history = saved(&site);
    assert_eq!(history["services"]["web"]["ok"][0], 1, "{history}");
    let s = site.status_json();
    assert_eq!(s["services"][0]["status"], "unknown");
    assert_eq!(s["services"][1]["status"], "up");
}

/// Two instances on one state_dir used to overwrite each other's history in silence.
#[test]
fn a_second_instance_on_the_same_state_dir_is_refused_naming_the_first() {
    let site = Site::new("interval = \"1h\"\n");
    let mut first = site.start();
    let pid = first.child.id();
    for command in ["run", "build"] {
        let out = output_within(site.command(&[command]), Duration::from_secs(20));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("pid {pid}"))
                && stderr.contains(&site.path("state").display().to_string()),
            "{command}: {stderr}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(site.path("state/cortex-status.lock"))
            .unwrap()
            .trim(),
        pid.to_string()
    );
    assert!(first.terminate().success());
    // Free once the first is gone (the lock file stays; the kernel dropped the lock).
    let out = output_within(site.command(&["build"]), Duration::from_secs(20));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Temporary files a kill left between write and rename used to stay for ever.
#[test]
fn temporary_files_left_by_a_kill_are_removed_at_start() {
    let site = Site::new("interval = \"1h\"\n");
    let (out, state) = (site.out(), site.path("state"));
    std::fs::create_dir_all(out.join("badges")).unwrap();
    std::fs::create_dir_all(out.join("assets")).unwrap();
    std::fs::create_dir_all(&state).unwrap();
    let ours = [
        out.join(".publish-AbC123"),
        out.join("badges/.publish-x1Y2z3"),
        out.join("assets/.publish-Qq9Ww8"),
        state.join(".history-Zz0Aa1"),
    ];
    let theirs = [
        out.join(".well-known-note"),
        out.join("robots.txt"),
        out.join(".publish-notes.txt"),
        state.join("notes"),
    ];
    for p in ours.iter().chain(&theirs) {
        std::fs::write(p, "left").unwrap();
    }
    let out_put = output_within(site.command(&["build"]), Duration::from_secs(60));
    assert!(
        out_put.status.success(),
        "{}",
        String::from_utf8_lossy(&out_put.stderr)
    );
    for p in &ours {
        assert!(!p.exists(), "{} was left", p.display());
    }
    for p in &theirs {
        assert!(p.exists(), "{} was removed", p.display());
    }
    assert!(String::from_utf8_lossy(&out_put.stderr).contains("removed 4 temporary file(s)"));
}

/// A history whose last check is dated a year ahead (the clock was set back since) used to
/// freeze every count: each new check was "older than the last" and skipped, and the page
/// showed the future's figures. Now counting goes on, the future is dropped, and the step is
/// said in the log and in `errors`.
#[test]
fn a_last_checked_a_year_ahead_neither_freezes_counts_nor_goes_unsaid() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!("interval = \"100ms\"\n{}", service(&peer)));
    let ahead = chrono::Utc::now() + chrono::Duration::days(365);
    let bucket = ahead.timestamp() / 300 * 300;
    std::fs::create_dir_all(site.path("state")).unwrap();
    let history = serde_json::json!({"version": 1, "services": {"web": {
        "last_status": "down",
        "last_checked": ahead.to_rfc3339(),
        "days": [{"date": ahead.date_naive().to_string(), "down": 50}],
        "fine": [{"start": bucket, "down": 50}]}},
        "incidents": [{"service": "web", "from": "up", "to": "down", "at": ahead.to_rfc3339(),
                       "error": "from the future", "duration_seconds": 0}]});
    std::fs::write(
        site.path("state/history.json"),
        serde_json::to_vec(&history).unwrap(),
    )
    .unwrap();
    let mut daemon = site.start();
    daemon.wait_for_log("clock", Duration::from_secs(20));
    let counting = || {
        std::fs::read(site.out().join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|s| s["services"][0]["uptime"]["24h"] == 1.0)
    };
    let start = Instant::now();
    while !counting() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not counting: {}\n{}",
            site.status_json()["services"][0]["uptime"],
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        site.errors()
            .iter()
            .any(|e| e.starts_with("clock:") && e.contains("behind the history")),
        "{:?}",
        site.errors()
    );
    assert!(
        !site.status_json()["incidents"]
            .to_string()
            .contains("from the future"),
        "{}",
        site.status_json()["incidents"]
    );
    assert!(daemon.terminate().success());
    // Version 2: `day` is the date of the first entry of the `ok` and `down` columns.
    let web = saved(&site)["services"]["web"].clone();
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(web["ok"].as_array().unwrap().len(), 1, "{web}");
    assert_eq!(web["day"], today.as_str());
    assert!(web["ok"][0].as_u64().unwrap() >= 1, "{web}");
}

/// The peak resident memory of a process, in KiB.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A valid history file of 200 MB used to be read whole (twice its size in RSS) and to grow
/// the page with it. It is set aside unread now, and the daemon goes on.
#[test]
fn an_oversized_history_file_is_set_aside_unread_and_memory_stays_bounded() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!("interval = \"100ms\"\n{}", service(&peer)));
    std::fs::create_dir_all(site.path("state")).unwrap();
    let path = site.path("state/history.json");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        w.write_all(br#"{"version":1,"services":{"web":{"last_status":"up","days":["#)
            .unwrap();
        let day = br#"{"date":"2026-01-01","up":1,"down":2},"#;
        let n = 200_000_000 / day.len();
        for _ in 0..n {
            w.write_all(day).unwrap();
        }
        w.write_all(br#"{"date":"2026-01-02","up":1}],"fine":[]}},"incidents":[]}"#)
            .unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= 200_000_000);
    let daemon = site.start();
    daemon.wait_for_cycles(5, Duration::from_secs(60));
    let hwm = vm_hwm_kib(daemon.child.id());
    eprintln!("VmHWM with a {size}-byte history file: {hwm} KiB");
    assert!(hwm < 64 * 1024, "peak RSS {hwm} KiB");
    assert!(
        site.errors()
            .iter()
            .any(|e| e.contains("history.json") && e.contains("not read")),
        "{:?}",
        site.errors()
    );
    let aside: Vec<_> = std::fs::read_dir(site.path("state"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("history.json.oversized-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(daemon.health()["status"], "ok");
    assert_eq!(site.status_json()["services"][0]["status"], "up");
}

/// An edit made while a tick lands inside the 200 ms debounce used to be lost: at a 100 ms
/// interval, every one. Ten edits a few hundred ms apart are all applied now, each in turn.
#[test]
fn ten_config_edits_at_a_100ms_interval_are_all_applied() {
    let site = Site::new("interval = \"100ms\"\ntitle = \"Edit n0x\"\n");
    let mut daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(20));
    let text = std::fs::read_to_string(site.config()).unwrap();
    for i in 1..=10 {
        let edited = text.replace("Edit n0x", &format!("Edit n{i}x"));
        // Written beside and renamed over, as editors save.
        std::fs::write(site.path("new.toml"), edited).unwrap();
        std::fs::rename(site.path("new.toml"), site.config()).unwrap();
        wait_until(
            &format!("edit {i} applied"),
            Duration::from_secs(10),
            || page(&site).contains(&format!("Edit n{i}x")),
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let reloads = daemon.log().matches("config reloaded").count();
    assert!(reloads >= 10, "{reloads} reloads:\n{}", daemon.log());
    assert!(daemon.terminate().success());
}

/// A config edit that is refused is one line in the log, not two.
#[test]
fn a_rejected_reload_is_logged_once() {
    let site = Site::new("interval = \"1h\"\n");
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let text = std::fs::read_to_string(site.config()).unwrap();
    std::fs::write(
        site.config(),
        format!("{text}\n[[service]]\nname = \"X\"\nkind = \"htp\"\n"),
    )
    .unwrap();
    wait_until("the refusal in errors", Duration::from_secs(10), || {
        site.errors().iter().any(|e| e.contains("service[0].kind"))
    });
    daemon.wait_for_log("service[0].kind", Duration::from_secs(10));
    assert!(daemon.terminate().success());
    let lines = daemon
        .log()
        .lines()
        .filter(|l| l.contains("service[0].kind"))
        .count();
    assert_eq!(lines, 1, "{}", daemon.log());
}

/// With `serve_public = false` only the API is served, and the start line says so (keeping the
/// "serving http://ADDR/" prefix that people and the tests read the address from).
#[test]
fn without_serve_public_the_start_line_claims_only_the_api() {
    let site = Site::new("[api]\nlisten = \"127.0.0.1:0\"\nserve_public = false\n");
    let mut daemon = site.start();
    let line = daemon.wait_for_log("serving http://", Duration::from_secs(10));
    let addr = daemon.addr();
    assert!(
        line.contains(&format!(
            "serving http://{addr}/api/ only (serve_public = false)"
        )),
        "{line}"
    );
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert!(daemon.terminate().success());
    assert!(last_line(&daemon).ends_with("stopped"), "{}", daemon.log());

    // The default still claims the pages, which it serves.
    let site = Site::new("");
    let daemon = site.start();
    let line = daemon.log();
    assert!(
        line.contains(&format!("serving http://{}/ (config:", daemon.addr())),
        "{line}"
    );
}
