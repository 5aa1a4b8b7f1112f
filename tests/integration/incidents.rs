//! Incidents written by people (`incidents_dir`) and service groups, end to end: the real
//! binary reads the files, and every output that carries them is checked: the index (open, at
//! the top, `overall` raised, the affected service marked), the incident's own page,
//! `history.html`, `status.json`, `feed.xml` and the service's `feeds/<slug>.xml` (both against
//! the Atom schema), hot reload of an edit, escaping, a broken file, and the groups in a real
//! browser with JavaScript off.

use crate::common::browser::{Browser, Options, StaticFiles};
use crate::common::peer::closed_port;
use crate::common::{Site, wait_until};
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Three updates, open, severity degraded, on the API.
const OPEN: &str = "+++
title = \"Database failover\"
severity = \"degraded\"
services = [\"symbiont-api\"]
started = \"2026-11-24T10:00:00Z\"
+++

## 2026-11-24 10:30 UTC · Monitoring
Writes are back; we watch the **replica** catch up.

## 2026-11-24 10:05 UTC · Identified
The primary lost its disk; the replica is being promoted.

## 2026-11-24 10:01 UTC · Investigating
Writes to the API fail.
";

/// The same, resolved.
fn resolved() -> String {
    OPEN.replace(
        "started = \"2026-11-24T10:00:00Z\"",
        "started = \"2026-11-24T10:00:00Z\"\nresolved = \"2026-11-24T11:10:00Z\"",
    )
    .replace(
        "+++\n\n## 2026-11-24 10:30",
        "+++\n\n## 2026-11-24 11:10 UTC · Resolved\nReplication caught up; all writes are served.\n\n## 2026-11-24 10:30",
    )
}

/// Services that are up (a listener the test holds: the kernel accepts for it) and one that
/// is down (a closed port), in two groups and one without.
struct Setup {
    site: Site,
    _up: TcpListener,
}

fn setup(top: &str) -> Setup {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = up.local_addr().unwrap();
    let down = closed_port();
    let site = Site::new(&format!(
        "title = \"Incident Test\"\n{top}\n\
         [[service]]\nname = \"Symbiont API\"\ngroup = \"Backend\"\nkind = \"tcp\"\naddress = \"{addr}\"\n\
         [[service]]\nname = \"Postgres\"\ngroup = \"Backend\"\nkind = \"tcp\"\naddress = \"{down}\"\ntimeout = \"1s\"\n\
         [[service]]\nname = \"Web\"\ngroup = \"Frontend\"\nkind = \"tcp\"\naddress = \"{addr}\"\n\
         [[service]]\nname = \"Edge\"\nkind = \"tcp\"\naddress = \"{addr}\"\n"
    ));
    std::fs::create_dir_all(site.path("incidents")).unwrap();
    Setup { site, _up: up }
}

fn write(path: &Path, text: &str) {
    // As an editor saves: a new file renamed over the old one.
    let tmp = path.with_extension("tmp-save");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn read(site: &Site, rel: &str) -> String {
    std::fs::read_to_string(site.out().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn tool(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: run scripts/test"))
}

fn assert_valid_atom(xml: &str) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/atom.rng");
    let mut child = Command::new(tool("xmllint"))
        .args(["--noout", "--relaxng", schema.to_str().unwrap(), "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "xmllint: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_written_incident_with_three_updates_is_on_every_output() {
    let s = setup("");
    write(&s.site.path("incidents/db-failover.md"), OPEN);
    let out = s.site.run(&["build"]);
    assert!(out.status.success(), "{out:?}");
    let json = s.site.status_json();
    assert_eq!(json["errors"], serde_json::json!([]), "{json}");

    // status.json: open, with its updates (text and HTML) and its page.
    let open = &json["incidents_open"];
    assert_eq!(open.as_array().unwrap().len(), 1, "{json}");
    let i = &open[0];
    assert_eq!(i["title"], "Database failover");
    assert_eq!(i["severity"], "degraded");
    assert_eq!(i["services"], serde_json::json!(["symbiont-api"]));
    assert_eq!(i["started"], "2026-11-24T10:00:00Z");
    assert_eq!(i["resolved"], serde_json::Value::Null);
    assert_eq!(i["url"], "incidents/db-failover.html");
    assert_eq!(i["updates"].as_array().unwrap().len(), 3);
    assert_eq!(i["updates"][0]["kind"], "monitoring");
    assert!(
        i["updates"][0]["text"]
            .as_str()
            .unwrap()
            .contains("**replica**")
    );
    assert!(
        i["updates"][0]["html"]
            .as_str()
            .unwrap()
            .contains("<strong>replica</strong>")
    );
    assert_eq!(json["incidents_recent"], serde_json::json!([]));
    // Postgres is down, so overall is down whatever the incident says; the groups are there.
    assert_eq!(json["services"][0]["group"], "Backend");
    assert_eq!(json["services"][3]["group"], serde_json::Value::Null);

    // The index: the incident above the host cards, its latest update, the service marked.
    let index = read(&s.site, "index.html");
    let at = |needle: &str| {
        index
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} is not on the index:\n{index}"))
    };
    assert!(at("Database failover") < at("id=\"host\""));
    assert!(at("<strong>replica</strong>") < at("id=\"host\""));
    assert!(
        !index.contains("The primary lost its disk"),
        "only the latest update"
    );
    let api = &index[at("id=\"service-symbiont-api\"")..];
    let api = &api[..api.find("</li>").unwrap()];
    assert!(api.contains("href=\"incidents/db-failover.html\""), "{api}");
    let web = &index[at("id=\"service-web\"")..];
    let web = &web[..web.find("</li>").unwrap()];
    assert!(!web.contains("incidents/db-failover.html"), "{web}");
    assert!(index.contains("type=\"application/atom+xml\" href=\"feed.xml\""));
    // A service's own feed is linked from its own page (issue 14: not 115 bytes a service here).
    let api_page = read(&s.site, "services/symbiont-api.html");
    assert!(
        api_page.contains("type=\"application/atom+xml\" href=\"../feeds/symbiont-api.xml\""),
        "{api_page}"
    );
    assert!(
        api_page.contains("href=\"../incidents/db-failover.html\""),
        "{api_page}"
    );

    // Its own page, with every update, and links that work from its folder.
    let page = read(&s.site, "incidents/db-failover.html");
    for text in [
        "Database failover",
        "Writes to the API fail.",
        "The primary lost its disk",
        "<strong>replica</strong>",
        "Symbiont API",
    ] {
        assert!(page.contains(text), "{text}:\n{page}");
    }
    assert!(page.contains("href=\"../assets/style.css"), "{page}");
    assert!(page.contains("href=\"../index.html"), "{page}");

    // history.html: by month, the written one and the automatic one (Postgres down).
    let history = read(&s.site, "history.html");
    assert!(history.contains("November 2026"), "{history}");
    assert!(
        history.contains("href=\"incidents/db-failover.html\""),
        "{history}"
    );
    assert!(history.contains("Postgres down"), "{history}");

    // feed.xml: the incident and each of its three updates; the service's own feed too.
    let feed = read(&s.site, "feed.xml");
    assert_valid_atom(&feed);
    assert!(feed.contains("<title>Database failover</title>"), "{feed}");
    for kind in ["Investigating", "Identified", "Monitoring"] {
        assert!(
            feed.contains(&format!("<title>Database failover: {kind}</title>")),
            "{kind}:\n{feed}"
        );
    }
    let api_feed = read(&s.site, "feeds/symbiont-api.xml");
    assert_valid_atom(&api_feed);
    assert!(
        api_feed.contains("Database failover: Identified"),
        "{api_feed}"
    );
    assert!(
        api_feed.contains("href=\"../incidents/db-failover.html\""),
        "{api_feed}"
    );
    let pg_feed = read(&s.site, "feeds/postgres.xml");
    assert_valid_atom(&pg_feed);
    assert!(!pg_feed.contains("Database failover"), "{pg_feed}");
    assert!(
        pg_feed.contains("Postgres is down"),
        "the automatic incident: {pg_feed}"
    );
}

#[test]
fn an_open_incident_raises_overall_to_its_severity() {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = up.local_addr().unwrap();
    let site = Site::new(&format!(
        "[[service]]\nname = \"Symbiont API\"\nkind = \"tcp\"\naddress = \"{addr}\"\n"
    ));
    assert!(site.run(&["build"]).status.success());
    assert_eq!(site.status_json()["overall"], "up");
    std::fs::create_dir(site.path("incidents")).unwrap();
    write(&site.path("incidents/db.md"), OPEN);
    assert!(site.run(&["build"]).status.success());
    assert_eq!(site.status_json()["overall"], "degraded");
    let index = read(&site, "index.html");
    assert!(index.contains("Some services are degraded"), "{index}");
    write(
        &site.path("incidents/db.md"),
        &OPEN.replace("\"degraded\"", "\"down\""),
    );
    assert!(site.run(&["build"]).status.success());
    assert_eq!(site.status_json()["overall"], "down");
    write(
        &site.path("incidents/db.md"),
        &OPEN.replace("\"degraded\"", "\"notice\""),
    );
    assert!(site.run(&["build"]).status.success());
    assert_eq!(
        site.status_json()["overall"],
        "up",
        "a notice raises nothing"
    );
    drop(up);
}

#[test]
fn resolving_an_incident_moves_it_to_history_while_the_daemon_runs() {
    // An hour between cycles: only the hot reload can bring the edits in.
    let s = setup("interval = \"1h\"");
    let path = s.site.path("incidents/db-failover.md");
    write(&path, OPEN);
    let daemon = s.site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert_eq!(
        s.site.status_json()["incidents_open"][0]["title"],
        "Database failover"
    );

    write(&path, &resolved());
    wait_until(
        "the resolution is published",
        Duration::from_secs(10),
        || {
            let json = s.site.status_json();
            json["incidents_open"] == serde_json::json!([])
                && json["incidents_recent"][0]["resolved"] == "2026-11-24T11:10:00Z"
        },
    );
    let index = read(&s.site, "index.html");
    assert!(
        !index.contains("href=\"incidents/db-failover.html\""),
        "{index}"
    );
    let page = read(&s.site, "incidents/db-failover.html");
    assert!(page.contains("Replication caught up"), "{page}");
    assert!(page.contains("1h 10m"), "its duration: {page}");
    let history = read(&s.site, "history.html");
    assert!(
        history.contains("Database failover") && history.contains("1h 10m"),
        "{history}"
    );
    let feed = read(&s.site, "feed.xml");
    assert!(feed.contains("Database failover: Resolved"), "{feed}");
    assert_valid_atom(&feed);

    // A new file appears, and a deleted one goes with its page.
    let other = s.site.path("incidents/cdn.md");
    write(&other, &OPEN.replace("Database failover", "CDN trouble"));
    wait_until(
        "the new incident is published",
        Duration::from_secs(10),
        || s.site.status_json()["incidents_open"][0]["title"] == "CDN trouble",
    );
    assert!(s.site.out().join("incidents/cdn.html").is_file());
    std::fs::remove_file(&other).unwrap();
    wait_until(
        "the deleted incident is gone",
        Duration::from_secs(10),
        || {
            s.site.status_json()["incidents_open"] == serde_json::json!([])
                && !s.site.out().join("incidents/cdn.html").exists()
        },
    );
    // All of it without a cycle: the reloads re-rendered the first cycle's snapshot.
    assert_eq!(daemon.health()["cycles"], 1);
}

#[test]
fn html_in_an_incident_shows_as_text() {
    let s = setup("");
    write(
        &s.site.path("incidents/x.md"),
        &OPEN.replace(
            "Writes are back;",
            "Writes are back <script>alert(1)</script> [click](javascript:alert(2)) \
             [status](https://example.net/s);",
        ),
    );
    assert!(s.site.run(&["build"]).status.success());
    for file in ["index.html", "incidents/x.html"] {
        let html = read(&s.site, file);
        assert!(!html.contains("<script>alert"), "{file}:\n{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{file}:\n{html}"
        );
        assert!(!html.contains("javascript:"), "{file}:\n{html}");
        assert!(
            html.contains("<a href=\"https://example.net/s\">status</a>"),
            "{file}"
        );
    }
    let feed = read(&s.site, "feed.xml");
    assert!(!feed.contains("<script>"), "{feed}");
    assert_valid_atom(&feed);
}

#[test]
fn a_broken_file_is_reported_with_its_line_and_the_others_publish() {
    let s = setup("");
    write(&s.site.path("incidents/good.md"), OPEN);
    write(
        &s.site.path("incidents/broken.md"),
        &OPEN.replace("severity = \"degraded\"", "severity = \"catastrophic\""),
    );
    let out = s.site.run(&["build"]);
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("broken.md:3: "), "{log}");
    let errors = s.site.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("broken.md:3: ") && e.contains("severity")),
        "{errors:?}"
    );
    let json = s.site.status_json();
    assert_eq!(json["incidents_open"].as_array().unwrap().len(), 1);
    assert!(s.site.out().join("incidents/good.html").is_file());
    assert!(!s.site.out().join("incidents/broken.html").exists());

    let check = s.site.run(&["check"]);
    assert!(!check.status.success());
    let text = String::from_utf8_lossy(&check.stderr);
    assert!(text.contains("broken.md:3: "), "{text}");
    assert!(!text.contains("good.md"), "{text}");
}

#[test]
fn groups_carry_a_summary_and_open_when_a_member_is_not_up() {
    let s = setup("");
    assert!(s.site.run(&["build"]).status.success());
    let index = read(&s.site, "index.html");
    let backend = &index[index
        .find("id=\"group-backend\"")
        .expect("the Backend group")..];
    let backend = &backend[..backend.find("</details>").unwrap()];
    assert!(
        backend.starts_with("id=\"group-backend\" class=\"group\" open"),
        "{backend}"
    );
    assert!(backend.contains("1 of 2 up"), "{backend}");
    assert!(backend.contains("id=\"service-postgres\""));
    let frontend = &index[index
        .find("id=\"group-frontend\"")
        .expect("the Frontend group")..];
    assert!(
        frontend.starts_with("id=\"group-frontend\" class=\"group\">"),
        "{frontend}"
    );
    // In config order: Backend, Frontend, then the service without a group.
    assert!(index.find("group-backend") < index.find("group-frontend"));
    assert!(index.find("group-frontend") < index.find("id=\"service-edge\""));
    let metrics = read(&s.site, "metrics");
    assert!(
        metrics.contains("service=\"postgres\",name=\"Postgres\",group=\"Backend\""),
        "{metrics}"
    );
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "promtool: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_and_an_open_incident_in_a_browser_without_javascript() {
    let s = setup("");
    write(&s.site.path("incidents/db-failover.md"), OPEN);
    assert!(s.site.run(&["build"]).status.success());
    let files = StaticFiles::serve(&s.site.out());
    let b = Browser::start_with(Options { javascript: false }).await;
    b.goto(&files.url("index.html")).await;
    let open = b.text("#written").await;
    assert!(
        open.contains("Database failover") && open.contains("Monitoring"),
        "{open}"
    );
    let backend = b.find("details#group-backend").await;
    assert_eq!(backend.attr("open").await.unwrap().as_deref(), Some("true"));
    assert!(b.text("#service-postgres").await.contains("down"));
    let frontend = b.find("details#group-frontend").await;
    assert_eq!(frontend.attr("open").await.unwrap(), None);
    // Closed, its services are not shown; a click on its summary opens it, without a script.
    assert_eq!(b.text("#service-web").await, "");
    b.find("details#group-frontend > summary")
        .await
        .click()
        .await
        .unwrap();
    assert!(b.text("#service-web").await.contains("up"));
    // Tall enough for the incident, the host cards and the groups in one picture.
    b.client.set_window_size(1280, 1700).await.unwrap();
    b.run("window.scrollTo(0, 0); return true;").await;
    let path = b.screenshot("incidents-and-groups").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    // The incident's own page in the same browser, styled from its folder.
    b.find("#written a").await.click().await.unwrap();
    let text = b.wait_for_text("main", "Writes to the API fail.").await;
    assert!(text.contains("Identified"), "{text}");
    let colour = b
        .run("return getComputedStyle(document.querySelector('.skip')).position;")
        .await;
    assert_eq!(
        colour, "absolute",
        "the stylesheet is loaded on the incident page"
    );
}

#[test]
fn an_incidents_dir_made_after_the_start_is_watched() {
    let site = Site::new("interval = \"1h\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    assert_eq!(site.status_json()["incidents_open"], serde_json::json!([]));
    std::fs::create_dir(site.path("incidents")).unwrap();
    // The first file after the directory's own event is handled: only a watch that moved into
    // the new directory sees it (its parent's watch does not see inside).
    std::thread::sleep(Duration::from_millis(300));
    write(&site.path("incidents/db.md"), OPEN);
    wait_until("the incident is published", Duration::from_secs(10), || {
        site.status_json()["incidents_open"][0]["title"] == "Database failover"
    });
    assert_eq!(site.status_json()["overall"], "degraded");
    // An edit inside it is seen too: the watch followed the directory.
    write(
        &site.path("incidents/db.md"),
        &OPEN.replace("Database failover", "Database failover, again"),
    );
    wait_until("the edit is published", Duration::from_secs(10), || {
        site.status_json()["incidents_open"][0]["title"] == "Database failover, again"
    });
}
