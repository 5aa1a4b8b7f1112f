//! Work only when something changed (issue 14): the status page's charts are kept from cycle to
//! cycle while the figures of each check stay fresh on the page, without JavaScript.

use crate::common::Site;
use crate::common::peer::{Behaviour, Peer};
use crate::common::wait_until;
use std::time::Duration;

/// The latency index.html shows for the one service, in ms (`<span class="checked">12.3&nbsp;ms,`).
fn latency_on_page(html: &str) -> Option<f64> {
    let at = html.find("<span class=\"checked\">")? + "<span class=\"checked\">".len();
    let rest = &html[at..];
    rest[..rest.find("&nbsp;ms")?].parse().ok()
}

/// How many fragments each cycle rendered, from the debug lines of `output::site::fragments`.
fn renders(log: &str) -> Vec<u64> {
    log.lines()
        .filter_map(|l| l.split("index.html: ").nth(1))
        .filter(|l| l.contains("service fragments rendered"))
        .filter_map(|l| l.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn the_page_keeps_its_charts_from_cycle_to_cycle_and_shows_each_new_latency() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"300ms\"\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"5s\"\n",
        peer.url("/health")
    ));
    let mut cmd = site.command(&["run"]);
    cmd.env(
        "RUST_LOG",
        "info,cortex_status::output::site::fragments=debug",
    );
    let mut daemon = site.start_with(cmd);
    daemon.wait_for_cycles(3, Duration::from_secs(20));
    let index = site.out().join("index.html");
    let fast = latency_on_page(&std::fs::read_to_string(&index).unwrap())
        .expect("the page shows the check's latency");
    assert!(fast < 150.0, "{fast} ms");
    let settled = renders(&daemon.log()).len();
    assert!(settled >= 3, "a line per cycle:\n{}", daemon.log());

    // The service answers slower: the next refresh of the page, not only the script, shows it.
    peer.set(Behaviour::ok().delayed(Duration::from_millis(200)));
    wait_until(
        "index.html shows the new latency",
        Duration::from_secs(20),
        || {
            std::fs::read_to_string(&index)
                .ok()
                .and_then(|html| latency_on_page(&html))
                .is_some_and(|ms| ms >= 200.0)
        },
    );
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 6, Duration::from_secs(20));
    daemon.terminate();

    // Every cycle rendered the page; after the first ones, none rendered the service's charts
    // again, though each check brought a new latency (a quarter hour that begins meanwhile
    // redraws the sparkline once).
    let counts = renders(&daemon.log());
    let later = &counts[settled..];
    assert!(later.len() >= 6, "{counts:?}");
    let redrawn = later.iter().filter(|n| **n > 0).count();
    assert!(redrawn <= 1, "charts rendered again: {counts:?}");
    assert!(later.iter().all(|n| *n <= 1), "{counts:?}");
}

/// `metrics` has no gzip sidecar (one scraper reads it; a sidecar each cycle was a gzip and a
/// file created for nobody), and one left by an earlier version goes on the first publish:
/// Caddy would otherwise serve it, stale, to every scraper that accepts gzip.
#[test]
fn metrics_have_no_sidecar_and_a_stale_one_is_removed() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"200ms\"\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/health")
    ));
    std::fs::create_dir_all(site.out()).unwrap();
    std::fs::write(site.out().join("metrics.gz"), b"stale").unwrap();
    let mut daemon = site.start();
    daemon.wait_for_cycles(3, Duration::from_secs(20));
    daemon.terminate();
    let metrics = std::fs::read_to_string(site.out().join("metrics")).unwrap();
    assert!(metrics.contains("cortex_status"), "{metrics}");
    assert!(!site.out().join("metrics.gz").exists());
    // The pages and status.json keep theirs.
    for name in ["index.html.gz", "status.json.gz", "feed.xml.gz"] {
        assert!(site.out().join(name).exists(), "{name}");
    }
}
