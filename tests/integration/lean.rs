//! Lean at every size (issue 14): the descriptors a daemon holds do not follow the number of
//! services, and a snapshot that did not change rewrites no file.

use crate::common::peer::{Behaviour, Peer};
use crate::common::{Site, process_name, wait_until};
use std::process::Command;
use std::time::Duration;

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A config of `n` HTTP services spread over `peers`.
fn many_services(n: usize, peers: &[Peer], interval: &str) -> String {
    let mut body = format!("interval = \"{interval}\"\n");
    for i in 0..n {
        let peer = &peers[i % peers.len()];
        body.push_str(&format!(
            "[[service]]\nname = \"svc {i}\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"20s\"\n",
            peer.url(&format!("/s{i}"))
        ));
    }
    body
}

/// `cortex-status run` on `site`'s config under an open-files limit of `nofile` (soft:hard).
/// Whether the published status.json lists `n` services, every one of them up.
fn all_up(site: &Site, n: usize) -> bool {
    std::fs::read(site.out().join("status.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|s| {
            s["services"]
                .as_array()
                .is_some_and(|a| a.len() == n && a.iter().all(|s| s["status"] == "up"))
        })
}

fn limited(site: &Site, nofile: &str) -> Command {
    let mut cmd = Command::new("prlimit");
    cmd.arg(format!("--nofile={nofile}"))
        .args(["--", crate::common::BIN, "run", "--config"])
        .arg(site.config())
        .current_dir(site.dir.path())
        .env("RUST_LOG", "info")
        .env_remove("PORT")
        .env_remove("SYMBIONT_URL");
    cmd
}

#[test]
fn two_thousand_services_under_a_limit_of_1024_keep_few_descriptors_and_all_get_a_status() {
    let peers: Vec<Peer> = (0..4).map(|_| Peer::start(Behaviour::ok())).collect();
    let site = Site::new(&many_services(2000, &peers, "5s"));
    // The limit the shipped unit leaves (systemd's default soft limit), hard too, so raising
    // the soft limit cannot help: only bounded concurrency can.
    let mut daemon = site.start_with(limited(&site, "1024:1024"));
    let line = daemon.wait_for_log("open files: soft limit", Duration::from_secs(10));
    assert!(line.contains("soft limit 1024, hard limit 1024"), "{line}");
    let pid = daemon.child.id();
    // Sample the descriptors while every service is checked, until each has a result.
    let mut most = 0;
    let mut statuses = Vec::new();
    wait_until(
        "every service checked once",
        Duration::from_secs(240),
        || {
            most = most.max(open_fds(pid));
            let Ok(bytes) = std::fs::read(site.out().join("status.json")) else {
                return false;
            };
            let Ok(s) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                return false;
            };
            let services = s["services"].as_array().cloned().unwrap_or_default();
            statuses = services
                .iter()
                .map(|s| {
                    (
                        s["status"].as_str().unwrap_or("").to_string(),
                        s["error"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            statuses.len() == 2000
                && statuses
                    .iter()
                    .all(|(_, e)| e != "first check still running")
        },
    );
    // A few more cycles at that size, still sampled.
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    wait_until("two more cycles", Duration::from_secs(120), || {
        most = most.max(open_fds(pid));
        daemon.health()["cycles"].as_u64().unwrap() >= cycles + 2
    });
    println!("at most {most} descriptors open with 2000 services");
    // 32 probes in flight + 64 kept alive + the process's own (log, listener, epoll, lock,
    // watches, a file being published): far below the 1024 the old code ran into.
    assert!(most < 200, "{most} descriptors open");
    let up = statuses.iter().filter(|(s, _)| s == "up").count();
    for (status, error) in &statuses {
        assert!(
            status == "up" || (status == "unknown" && !error.is_empty()),
            "a service {status}: {error}"
        );
    }
    assert_eq!(
        up, 2000,
        "every loopback service answers, so every one is up"
    );
    assert!(site.out().join("index.html").exists());
    assert!(
        !daemon.log().contains("Too many open files"),
        "{}",
        daemon.log()
    );
}

#[test]
fn a_cycle_out_of_descriptors_still_publishes_with_the_unprobed_services_unknown() {
    // Slow answers, so the probes overlap and together want more sockets than the limit allows.
    let peers: Vec<Peer> = (0..2)
        .map(|_| Peer::start(Behaviour::ok().delayed(Duration::from_millis(500))))
        .collect();
    let site = Site::new(&many_services(60, &peers, "3s"));
    let daemon = site.start_with(limited(&site, "40:40"));
    let mut unknown = Vec::new();
    wait_until(
        "a published cycle with every service checked",
        Duration::from_secs(60),
        || {
            let Ok(bytes) = std::fs::read(site.out().join("status.json")) else {
                return false;
            };
            let Ok(s) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                return false;
            };
            let services = s["services"].as_array().cloned().unwrap_or_default();
            if services.len() != 60
                || services
                    .iter()
                    .any(|s| s["error"] == "first check still running")
            {
                return false;
            }
            for s in &services {
                let error = s["error"].as_str().unwrap_or("");
                assert!(
                    s["status"] == "up" || (s["status"] == "unknown" && !error.is_empty()),
                    "{s}"
                );
            }
            unknown = services
                .iter()
                .filter(|s| s["status"] == "unknown")
                .map(|s| s["error"].as_str().unwrap().to_string())
                .collect();
            !unknown.is_empty()
        },
    );
    assert!(
        unknown[0].contains("no file descriptor free"),
        "{unknown:?}"
    );
    assert!(site.out().join("index.html").exists());
    assert!(daemon.child.id() > 0);
}

/// Every published file with its inode and mtime.
fn stamps(dir: &std::path::Path) -> std::collections::BTreeMap<String, (u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                let name = entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .display()
                    .to_string();
                out.insert(name, (meta.ino(), meta.mtime(), meta.mtime_nsec()));
            }
        }
    }
    out
}

#[test]
fn an_unchanged_snapshot_rewrites_no_file() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"1h\"\ntemplates_dir = \"templates\"\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/health")
    ));
    std::fs::create_dir(site.path("templates")).unwrap();
    let mut daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let before = stamps(&site.out());
    assert!(before.contains_key("status.json") && before.contains_key("index.html.gz"));
    // The shipped index template, copied as an override: the templates reload and the last
    // snapshot is rendered again, to the very same bytes.
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/index.html");
    std::fs::copy(shipped, site.path("templates/index.html")).unwrap();
    daemon.wait_for_log("templates reloaded", Duration::from_secs(10));
    // The re-render follows the reload line; give it time to write whatever it would.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.health()["cycles"], 1, "re-rendered, not re-probed");
    let after = stamps(&site.out());
    let changed: Vec<_> = after
        .iter()
        .filter(|(name, stamp)| before.get(*name) != Some(stamp))
        .map(|(name, _)| name.clone())
        .collect();
    assert!(changed.is_empty(), "rewritten: {changed:?}");
    assert_eq!(before.len(), after.len());
}

/// A service's page (`services/<slug>.html`) is written when its status changes, not every
/// cycle: index.html is rewritten each cycle (its time moves), the service's page is not.
#[test]
fn a_service_page_is_written_when_its_status_changes_not_every_cycle() {
    use std::os::unix::fs::MetadataExt;
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"200ms\"\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/health")
    ));
    let mut daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(20));
    let page = site.out().join("services/api.html");
    let ino = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0);
    let index = site.out().join("index.html");
    let (mut pages, mut indexes) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    let start = daemon.health()["cycles"].as_u64().unwrap();
    while daemon.health()["cycles"].as_u64().unwrap() < start + 10 {
        pages.insert(ino(&page));
        indexes.insert(ino(&index));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        indexes.len() >= 5,
        "index.html rewritten each cycle: {indexes:?}"
    );
    // Once, at most, for the sparkline's quarter hour falling inside the ten cycles.
    assert!(
        pages.len() <= 2,
        "services/api.html rewritten {} times",
        pages.len()
    );
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("status-up")
    );
    // Down: the page follows.
    peer.set(Behaviour::json(500, "{}"));
    wait_until(
        "the service's page says down",
        Duration::from_secs(20),
        || std::fs::read_to_string(&page).is_ok_and(|p| p.contains("status-down")),
    );
    daemon.terminate();
}

#[test]
fn the_probes_of_a_cycle_are_spread_over_its_interval_not_started_at_once() {
    // 100 services on one peer answering in 50 ms, every 2 s: spread over the first second,
    // one starts every 10 ms and about five are answered at once. Started together they were
    // as many at once as the probes' turns allow (64).
    let peer = Peer::start(Behaviour::ok().delayed(Duration::from_millis(50)));
    let site = Site::new(&many_services(100, std::slice::from_ref(&peer), "2s"));
    let _daemon = site.start();
    // The first cycle waits for every service's first check, all at once: not measured.
    wait_until(
        "every service checked once",
        Duration::from_secs(60),
        || all_up(&site, 100),
    );
    let first = peer.hits();
    assert!(first >= 100, "{first} requests");
    peer.reset_most();
    // Two more rounds of every service.
    wait_until("two more rounds of checks", Duration::from_secs(60), || {
        peer.hits() >= first + 200
    });
    let most = peer.most_at_once();
    assert!(
        (1..=25).contains(&most),
        "{most} requests were answered at once: the probes were not spread"
    );
}

/// Modification time of `path`, to the nanosecond.
fn mtime(path: &std::path::Path) -> std::time::SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn the_status_page_is_published_before_the_files_of_thousands_of_services_which_all_follow() {
    // Six files per service on a first publish: the page used to wait for all 12,000. Once
    // a minute, so the first status.json stays while the rest is written.
    let peers: Vec<Peer> = (0..4).map(|_| Peer::start(Behaviour::ok())).collect();
    let n = 2000;
    let site = Site::new(&many_services(n, &peers, "60s"));
    let _daemon = site.start();
    let status = site.out().join("status.json");
    wait_until("the first status.json", Duration::from_secs(120), || {
        status.exists()
    });
    let published = mtime(&status);
    let pages = site.out().join("services");
    let count = |dir: &std::path::Path, ending: &str| {
        std::fs::read_dir(dir).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(ending))
                .count()
        })
    };
    wait_until(
        "a page and badges per service",
        Duration::from_secs(120),
        || count(&pages, ".html") == n && count(&site.out().join("badges"), ".svg") == n,
    );
    let after = std::fs::read_dir(&pages)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".html"))
        .filter(|e| mtime(&e.path()) > published)
        .count();
    assert!(
        after > 0,
        "every service page was written before status.json: the page waited for them"
    );
    // The first publish is still the first one: nothing was written twice to get there.
    assert_eq!(mtime(&status), published);
}

/// `n` services on three keep-alive peers, under an open-files limit of `nofile`: once every
/// service is up, the fewest and the most descriptors open while each is checked `rounds` more
/// times, and the daemon's log.
fn descriptors_over_rounds(n: usize, nofile: &str, rounds: usize) -> (usize, usize, String) {
    let peers: Vec<Peer> = (0..3).map(|_| Peer::keep_alive()).collect();
    let site = Site::new(&many_services(n, &peers, "2s"));
    let daemon = site.start_with(limited(&site, nofile));
    let pid = daemon.child.id();
    wait_until("every service up", Duration::from_secs(120), || {
        all_up(&site, n)
    });
    let first = peers.iter().map(Peer::hits).sum::<usize>();
    let (mut least, mut most) = (usize::MAX, 0);
    wait_until("more rounds", Duration::from_secs(120), || {
        let open = open_fds(pid);
        (least, most) = (least.min(open), most.max(open));
        peers.iter().map(Peer::hits).sum::<usize>() >= first + rounds * n
    });
    (least, most, daemon.log())
}

#[test]
fn with_keep_alive_peers_the_descriptors_stay_bounded_from_cycle_to_cycle() {
    // Peers that keep connections open, so every probe could keep one; under a limit of 1024
    // the pool is 64. Spread probes are collected by the next cycle: a connection on its way
    // back must already count, or the descriptors follow the number of services again.
    let n = 400;
    let (_, most, _) = descriptors_over_rounds(n, "1024:1024", 3);
    // 64 kept alive + 32 in flight + the process's own.
    assert!(
        most < 200,
        "{most} descriptors open with {n} services on keep-alive peers"
    );
}

#[test]
fn past_a_thousand_keep_alive_services_every_connection_is_kept_under_a_high_limit() {
    // Under a limit of 8192 the pool is half of what the listener leaves: 3,520 connections.
    // With the old bound (1,024) every probe past it connected and closed again each cycle.
    let n = 1200;
    let (least, most, log) = descriptors_over_rounds(n, "8192:8192", 2);
    assert!(log.contains("3520 kept alive"), "{log}");
    // Once every service is up each keeps its connection, and the process's own are beside
    // them; never one per probe on top.
    assert!(
        least >= n,
        "{least} descriptors open with {n} keep-alive services"
    );
    assert!(
        most < n + 200,
        "{most} descriptors open with {n} keep-alive services"
    );
}

/// The variable `MALLOC_ARENA_MAX` in the environment block `pid` was started with.
fn arena_var(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(b"MALLOC_ARENA_MAX="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A daemon of 500 services or more runs with one malloc arena (the memory its blocking
/// threads free serves them all, instead of each thread's arena keeping its own largest
/// cycle), the same process under the same pid; an operator's own setting is kept; a small
/// site keeps the C library's default (one arena costs CPU).
#[test]
fn the_daemon_runs_with_one_malloc_arena_unless_told_otherwise() {
    let small = Site::new("interval = \"1h\"\n");
    let mut cmd = small.command(&["run"]);
    cmd.env_remove("MALLOC_ARENA_MAX");
    let mut daemon = small.start_with(cmd);
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert_eq!(arena_var(daemon.child.id()), None);
    daemon.terminate();

    // Nothing listens on port 9 of loopback: each probe is refused at once.
    let mut body = String::from("interval = \"1h\"\n");
    for i in 0..500 {
        body.push_str(&format!(
            "[[service]]\nname = \"svc {i}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n"
        ));
    }
    let site = Site::new(&body);
    let mut cmd = site.command(&["run"]);
    cmd.env_remove("MALLOC_ARENA_MAX");
    let mut daemon = site.start_with(cmd);
    daemon.wait_for_cycles(1, Duration::from_secs(60));
    assert_eq!(arena_var(daemon.child.id()).as_deref(), Some("1"));
    // The re-exec went through /proc/self/exe, after which the kernel calls the process `exe`.
    assert_eq!(process_name(daemon.child.id()), "cortex-status");
    assert!(
        !daemon.log().contains("could not re-execute"),
        "{}",
        daemon.log()
    );
    daemon.terminate();

    let mut cmd = site.command(&["run"]);
    cmd.env("MALLOC_ARENA_MAX", "4");
    let mut daemon = site.start_with(cmd);
    daemon.wait_for_cycles(1, Duration::from_secs(60));
    assert_eq!(arena_var(daemon.child.id()).as_deref(), Some("4"));
    daemon.terminate();
}

/// Past `COMPACT_FROM` (51) services the site-wide template context (the status page, custom
/// pages, history, incidents) lists each service as a row without its `days`, `latency_24h`,
/// `details` and `uptime_coverage`: the one-line rows show none of them, and at thousands of
/// services they were most of the context's memory. status.json and each service's page (a
/// context of its own) have them all; below that size the site-wide context has them too.
#[test]
fn past_the_compact_size_the_site_wide_context_leaves_out_series_and_details() {
    let peer = Peer::start(Behaviour::json(200, r#"{"status":"ok","version":"1.2.3"}"#));
    for (n, full) in [(60, false), (3, true)] {
        let site = Site::new(&format!(
            "templates_dir = \"templates\"\n{}",
            many_services(n, std::slice::from_ref(&peer), "1h")
        ));
        let pages = site.path("templates/pages");
        std::fs::create_dir_all(&pages).unwrap();
        std::fs::write(
            pages.join("sizes.html"),
            "{% for s in services %}{{ s.name }} {{ s.uptime[\"24h\"] }}:\
             {% if s.days is defined %}{{ s.days | length }}/{{ s.latency_24h | length }}/\
             {{ s.details.version }}/{{ s.uptime_coverage | length }}{% else %}\
             {% if s.latency_24h or s.details or s.uptime_coverage %}some{% else %}row{% endif %}\
             {% endif %};{% endfor %}",
        )
        .unwrap();
        let out = site.run(&["build"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sizes = std::fs::read_to_string(site.out().join("sizes.html")).unwrap();
        let seen = if full { " 1:90/96/1.2.3/5;" } else { " 1:row;" };
        assert_eq!(sizes.matches(seen).count(), n, "{n} services: {sizes}");
        let status: serde_json::Value =
            serde_json::from_slice(&std::fs::read(site.out().join("status.json")).unwrap())
                .unwrap();
        for s in status["services"].as_array().unwrap() {
            assert_eq!(s["days"].as_array().unwrap().len(), 90);
            assert_eq!(s["latency_24h"].as_array().unwrap().len(), 96);
            assert_eq!(s["details"]["version"], "1.2.3", "{s}");
            assert_eq!(s["uptime_coverage"].as_object().unwrap().len(), 5);
        }
        let page = std::fs::read_to_string(site.out().join("services/svc-0.html")).unwrap();
        assert!(
            page.contains("1.2.3"),
            "the service's page shows its details"
        );
    }
}
