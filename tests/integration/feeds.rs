//! The outputs for machines, checked by the tools their readers use: `promtool` for `metrics`,
//! the RFC 4287 schema (tests/fixtures/atom.rng, through `xmllint`) for `feed.xml`, shields'
//! endpoint shape for the badges, gzip for every sidecar. `scripts/test` installs the tools; a
//! test that cannot find one fails and says so.

use crate::common::peer::{Behaviour, Peer, closed_port};
use crate::common::{Site, gunzip, names_in};
use cortex_status::output::site::SiteInfo;
use cortex_status::snapshot::example as example_snapshot;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const PUBLIC_URL: &str = "https://status.example.net/";

/// A tool from `scripts/test`'s list, or a failure that says to run it.
fn tool(name: &str, package: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: run scripts/test, which installs it (Debian package `{package}`)"
            )
        })
}

/// Runs `tool args` with `input` on standard input; returns (success, stdout + stderr).
fn run_tool(tool: &Path, args: &[&str], input: &[u8]) -> (bool, String) {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `promtool check metrics`: the format and its lints (names, units, HELP).
fn assert_promtool_passes(text: &[u8]) {
    let (ok, out) = run_tool(&tool("promtool", "prometheus"), &["check", "metrics"], text);
    assert!(
        ok && out.trim().is_empty(),
        "promtool: {out}\n{}",
        String::from_utf8_lossy(text)
    );
}

/// Validates a feed against RFC 4287's schema, and the two rules the schema leaves to
/// Schematron: an author for the feed (we give it there), an alternate link or content per entry.
fn assert_valid_atom(xml: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atom.rng");
    let (ok, out) = run_tool(
        &tool("xmllint", "libxml2-utils"),
        &["--noout", "--relaxng", schema.to_str().unwrap(), "-"],
        xml.as_bytes(),
    );
    assert!(ok, "xmllint: {out}\n{xml}");
    let head = xml.split("<entry>").next().unwrap();
    assert!(head.contains("<author><name>"), "the feed has an author");
    for entry in xml.split("<entry>").skip(1) {
        assert!(
            entry.contains("<link rel=\"alternate\"") || entry.contains("<content"),
            "{entry}"
        );
    }
}

fn site_info(public_url: &str) -> SiteInfo {
    SiteInfo {
        title: "Cortex <Status>".into(),
        public_url: public_url.into(),
        version: env!("CARGO_PKG_VERSION"),
        terminal_statuses: Vec::new(),
        tasks_missing: Vec::new(),
    }
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for name in names_in(&dir.join(&rel)) {
            let path = rel.join(&name);
            if dir.join(&path).is_dir() {
                stack.push(path);
            } else {
                found.push(path.to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// One service that answers, one that does not, with a name that needs escaping everywhere.
fn two_services(up: &Peer) -> String {
    format!(
        "[[service]]\nname = \"Web \\\"A\\\" <b> & co\"\nkind = \"http\"\nurl = \"{}\"\n\
         [[service]]\nname = \"Closed\"\nkind = \"tcp\"\naddress = \"{}\"\n",
        up.url("/"),
        closed_port()
    )
}

#[test]
fn metrics_pass_promtool() {
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&two_services(&up));
    let out = site.run(&["build"]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read(site.out().join("metrics")).unwrap();
    assert_promtool_passes(&text);
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(
        "cortex_status_service_up{service=\"web-a-b-co\",name=\"Web \\\"A\\\" <b> & co\",kind=\"http\"} 1\n"
    ));
    assert!(text.contains(
        "cortex_status_service_status{service=\"closed\",name=\"Closed\",status=\"down\"} 1\n"
    ));
    // The example snapshot has every family the real one may lack until history fills it:
    // uptime windows (one of them null), disks, maintenance.
    let example = cortex_status::output::metrics::metrics(&example_snapshot(), &site_info(""));
    assert!(example.contains("cortex_status_service_uptime_ratio{"));
    assert_promtool_passes(example.as_bytes());
}

#[test]
fn the_feed_is_valid_atom_with_incidents_and_maintenance_and_absolute_links() {
    let flappy = Peer::start(Behaviour::ok());
    // Flappy goes down and up again (two incidents); Mail is in a window that lasts, and Flappy
    // has one still to come.
    let site = Site::new(&format!(
        "public_url = \"{PUBLIC_URL}\"\ninterval = \"50ms\"\n\
         [[service]]\nname = \"Flappy <1>\"\nkind = \"http\"\nurl = \"{}\"\n\
         [[service]]\nname = \"Mail\"\nkind = \"tcp\"\naddress = \"{}\"\n\
         [[maintenance]]\nservices = [\"mail\"]\nstart = \"2000-01-01T00:00:00Z\"\nend = \"2999-01-01T00:00:00Z\"\nmessage = \"Long & <odd> work\"\n\
         [[maintenance]]\nservices = [\"flappy-1\"]\nstart = \"2998-01-01T00:00:00Z\"\nend = \"2998-01-01T01:00:00Z\"\n",
        flappy.url("/"),
        closed_port()
    ));
    let mut daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(20));
    flappy.set(Behaviour::json(503, "{}"));
    daemon.wait_for_log("flappy-1: up → down", Duration::from_secs(20));
    flappy.set(Behaviour::ok());
    daemon.wait_for_log("flappy-1: down → up", Duration::from_secs(20));
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 2, Duration::from_secs(20));
    let status = daemon.terminate();
    assert!(status.success());

    let xml = std::fs::read_to_string(site.out().join("feed.xml")).unwrap();
    assert_valid_atom(&xml);
    let s = site.status_json();
    let incidents = s["incidents"].as_array().unwrap();
    assert!(incidents.len() >= 2, "{incidents:?}");
    // status.json lists both windows from the config (the one in progress and the one to
    // come), and the feed has one entry per window, named by its start and services.
    let windows = s["maintenance"].as_array().unwrap();
    assert!(!windows.is_empty(), "no maintenance in status.json: {s}");
    assert_eq!(windows.len(), 2, "{windows:?}");
    assert_eq!(
        xml.matches("<category term=\"maintenance\"/>").count(),
        windows.len()
    );
    assert_eq!(
        xml.matches("<entry>").count(),
        incidents.len() + windows.len()
    );
    for w in windows {
        let services: Vec<&str> = w["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let id = format!(
            "<id>{PUBLIC_URL}feed.xml#maintenance-{}-{}</id>",
            w["start"].as_str().unwrap(),
            services.join("+")
        );
        assert_eq!(xml.matches(&id).count(), 1, "{id} in:\n{xml}");
    }
    assert!(xml.contains("<title>Maintenance in progress: Long &amp; &lt;odd&gt; work</title>"));
    assert!(xml.contains("<title>Scheduled maintenance: Flappy &lt;1&gt;</title>"));
    assert!(xml.contains("<title>Flappy &lt;1&gt; is down</title>"));
    assert!(xml.contains("<title>Flappy &lt;1&gt; is up</title>"));
    for href in xml.split("href=\"").skip(1) {
        assert!(href.starts_with(PUBLIC_URL), "relative link: {href}");
    }
    for id in xml.split("<id>").skip(1) {
        assert!(id.starts_with(&format!("{PUBLIC_URL}feed.xml")), "{id}");
    }

    // Windows and incidents together, with and without a public URL.
    for url in [PUBLIC_URL, ""] {
        let xml = cortex_status::output::atom::feed(&example_snapshot(), &site_info(url));
        assert!(
            xml.contains("<category term=\"maintenance\"/>")
                && xml.contains("<category term=\"down\"/>")
        );
        assert_valid_atom(&xml);
    }
}

#[test]
fn badges_are_shields_endpoints_and_svg() {
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&two_services(&up));
    assert!(site.run(&["build"]).status.success());
    let badges = site.out().join("badges");
    assert_eq!(
        names_in(&badges),
        [
            // The JSON badges are under the publisher's GZ_MIN (512 B): no sidecar.
            "closed.json",
            "closed.svg",
            "closed.svg.gz",
            "web-a-b-co.json",
            "web-a-b-co.svg",
            "web-a-b-co.svg.gz"
        ]
    );
    for (slug, label, status) in [
        ("web-a-b-co", "Web \"A\" <b> & co", "up"),
        ("closed", "Closed", "down"),
    ] {
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(badges.join(format!("{slug}.json"))).unwrap())
                .unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 4, "{json}");
        assert_eq!(json["schemaVersion"], 1);
        assert_eq!(json["label"], label);
        assert!(
            json["message"].as_str().unwrap().starts_with(status),
            "{json}"
        );
        assert!(json["color"].as_str().unwrap().starts_with('#'));

        let svg = std::fs::read(badges.join(format!("{slug}.svg"))).unwrap();
        let (ok, out) = run_tool(&tool("xmllint", "libxml2-utils"), &["--noout", "-"], &svg);
        assert!(ok, "{out}");
        let svg = String::from_utf8(svg).unwrap();
        assert!(
            svg.contains(&format!(
                "<title>{}: {status}",
                label
                    .replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('>', "&gt;")
                    .replace('"', "&quot;")
            )),
            "{svg}"
        );
    }
}

#[test]
fn a_badge_of_a_removed_service_is_removed() {
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&two_services(&up));
    assert!(site.run(&["build"]).status.success());
    std::fs::write(
        site.config(),
        std::fs::read_to_string(site.config())
            .unwrap()
            .replace("name = \"Closed\"", "name = \"Renamed\""),
    )
    .unwrap();
    assert!(site.run(&["build"]).status.success());
    let names = names_in(&site.out().join("badges"));
    assert!(names.iter().all(|n| !n.starts_with("closed.")), "{names:?}");
    assert!(names.contains(&"renamed.svg.gz".to_string()), "{names:?}");
}

#[test]
fn every_text_file_past_512_bytes_has_a_sidecar_and_unchanged_ones_are_not_rewritten() {
    let up = Peer::start(Behaviour::ok());
    let site = Site::new(&format!("interval = \"50ms\"\n{}", two_services(&up)));
    let mut daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(20));
    let stamp = |rel: &str| {
        let m = std::fs::metadata(site.out().join(rel)).unwrap();
        (m.ino(), m.mtime(), m.mtime_nsec())
    };
    let files = files_under(&site.out());
    let before: BTreeMap<String, _> = files
        .iter()
        .filter(|f| f.ends_with(".gz"))
        .map(|f| (f.clone(), stamp(f)))
        .collect();
    let cycles = daemon.health()["cycles"].as_u64().unwrap();
    daemon.wait_for_cycles(cycles + 5, Duration::from_secs(20));
    assert!(daemon.terminate().success());

    let files = files_under(&site.out());
    let (gz, plain): (Vec<&String>, Vec<&String>) = files.iter().partition(|f| f.ends_with(".gz"));
    for name in [
        "index.html",
        "tasks.html",
        "status.json",
        "feed.xml",
        "metrics",
        "assets/style.css",
        "assets/tasks.js",
        "assets/favicon.svg",
        "badges/closed.svg",
        "badges/closed.json",
    ] {
        assert!(
            plain.contains(&&name.to_string()),
            "{name} missing: {files:?}"
        );
    }
    // A sidecar for each file of 512 bytes or more (the publisher's GZ_MIN), none for smaller
    // ones, where gzip saves nothing, nor for `metrics`, which one scraper reads (issue 14).
    let big: Vec<&&String> = plain
        .iter()
        .filter(|f| std::fs::metadata(site.out().join(f)).unwrap().len() >= 512)
        .filter(|f| f.as_str() != "metrics")
        .collect();
    assert!(!gz.contains(&&"metrics.gz".to_string()), "{files:?}");
    assert!(
        big.len() < plain.len(),
        "the JSON badges are small: {files:?}"
    );
    assert_eq!(gz.len(), big.len(), "{files:?}");
    for name in &big {
        let sidecar = std::fs::read(site.out().join(format!("{name}.gz")))
            .unwrap_or_else(|e| panic!("{name}.gz: {e}"));
        assert_eq!(
            gunzip(&sidecar),
            std::fs::read(site.out().join(name)).unwrap(),
            "{name}.gz does not hold {name}"
        );
    }
    // What is written every cycle got new sidecars; what did not change kept them, inode and
    // time. (index.html may or may not change in a quarter second: its times are in seconds.)
    for (name, old) in &before {
        let rewritten = stamp(name) != *old;
        match name.as_str() {
            "index.html.gz" => {}
            "status.json.gz" => assert!(rewritten, "{name} was not rewritten"),
            _ => assert!(
                !rewritten,
                "{name} was rewritten though its file did not change"
            ),
        }
    }
    assert!(before.len() >= 12, "{before:?}");
}
