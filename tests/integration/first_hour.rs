//! The first hour of a new install: what the page, `status.json`, the feed and the badges say
//! in the first minute must be true. A fresh state_dir, services checked for seconds: no window
//! claims days of 100%, the sparkline is collecting data, a service down from its first check is
//! an incident, systemctl's raw words stay in the log, the feed is not dated 1970. And the same
//! page in a real browser at a phone's width, screenshotted, and the task page without tasks
//! configured.

use crate::common::browser::{Browser, Options};
use crate::common::peer::{Behaviour, Peer, closed_port};
use crate::common::{Daemon, Site, wait_until};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// What Symbiont's `/status` answers: details the page should show, one of them markup.
const DETAILS: &str = r#"{"version":"1.4.2","queue_depth":3,"message":"<b>all good</b>"}"#;

/// Whether this machine runs systemd: then a made-up unit is `inactive` (down), not unknown.
fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").exists()
}

/// A fresh site watching an answering HTTP service with details, a closed TCP port and a
/// systemd unit, every second.
struct Fresh {
    site: Site,
    daemon: Daemon,
    _peer: Peer,
}

impl Fresh {
    fn start() -> Fresh {
        let peer = Peer::start(Behaviour::json(200, DETAILS));
        let site = Site::new(&format!(
            "title = \"First Hour\"\ninterval = \"1s\"\n\
             [[service]]\nname = \"Symbiont API\"\nkind = \"http\"\nurl = \"{}\"\n\
             [[service]]\nname = \"Database\"\nkind = \"tcp\"\naddress = \"{}\"\n\
             [[service]]\nname = \"Units\"\nkind = \"systemd\"\nunit = \"cortex-status-first-hour.service\"\n",
            peer.url("/status"),
            closed_port(),
        ));
        let daemon = site.start();
        let fresh = Fresh {
            site,
            daemon,
            _peer: peer,
        };
        // Every service checked at least once, and a cycle after that published it.
        wait_until("every service checked", Duration::from_secs(30), || {
            fresh.status().is_some_and(|v| {
                v["services"]
                    .as_array()
                    .is_some_and(|s| s.iter().all(|s| s["checked_at"].is_string()))
            })
        });
        let cycles = fresh.daemon.health()["cycles"].as_u64().unwrap();
        fresh
            .daemon
            .wait_for_cycles(cycles + 1, Duration::from_secs(20));
        fresh
    }

    /// `status.json`, or `None` between a publish's renames.
    fn status(&self) -> Option<Value> {
        let bytes = std::fs::read(self.site.out().join("status.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.site.out().join(name)).unwrap()
    }

    fn service(&self, status: &Value, slug: &str) -> Value {
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["slug"] == slug)
            .unwrap_or_else(|| panic!("no {slug} in {status}"))
            .clone()
    }
}

/// The part of index.html about one service.
fn service_html<'a>(html: &'a str, slug: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"service-{slug}\""))
        .unwrap_or_else(|| panic!("no service {slug} on the page"));
    let rest = &html[at..];
    &rest[..rest.find("</li>").unwrap_or(rest.len())]
}

#[test]
fn in_its_first_minute_no_window_claims_more_than_it_watched() {
    let f = Fresh::start();
    let status = f.status().unwrap();
    let api = f.service(&status, "symbiont-api");
    // The ratio keeps its type and meaning; beside it, since when and how much was watched.
    assert_eq!(api["uptime"]["7d"], 1.0, "{api}");
    assert!(api["observed_since"].is_string(), "{api}");
    for window in ["24h", "7d", "30d", "90d", "365d"] {
        let c = api["uptime_coverage"][window].as_f64().unwrap();
        assert!(
            (0.0..0.01).contains(&c),
            "{window} coverage {c} after seconds"
        );
    }
    assert_eq!(status["schema"], 1);

    let html = f.file("index.html");
    let part = service_html(&html, "symbiont-api");
    assert!(!part.contains("<dt>7 days<"), "{part}");
    assert!(!part.contains("<dt>365 days<"), "{part}");
    assert!(
        part.contains("24 hours, 7, 30, 90 and 365 days are not watched in full yet"),
        "{part}"
    );
    assert!(part.contains("<dt>since "), "{part}");
    // The strip: nothing before today, said in words.
    assert!(part.contains("watched since "), "{part}");
    // 89 days before today (88 when the first check fell just before midnight), as one run.
    assert!(
        part.contains("class=\"none f89\" title=") || part.contains("class=\"none f88\" title="),
        "not 88 or 89 days without data:\n{part}"
    );
    // The sparkline knows it has just started: never 95 quarter hours without an answer.
    assert!(!part.contains("no answer in 9"), "{part}");
    assert!(
        part.contains("Latency: collecting data") || part.contains("latency since "),
        "{part}"
    );

    // The badge says the day is not whole.
    let badge: Value = serde_json::from_str(&f.file("badges/symbiont-api.json")).unwrap();
    let message = badge["message"].as_str().unwrap();
    assert!(
        message.starts_with("up · 100% since "),
        "badge message {message:?}"
    );
}

#[test]
fn a_service_down_from_its_first_check_is_an_incident_in_the_json_and_the_feed() {
    let f = Fresh::start();
    let status = f.status().unwrap();
    let incidents = status["incidents"].as_array().unwrap();
    let db = incidents
        .iter()
        .find(|i| i["service"] == "database")
        .unwrap_or_else(|| panic!("no incident for the database: {status}"));
    assert_eq!(
        (&db["from"], &db["to"]),
        (&"unknown".into(), &"down".into())
    );
    assert!(db["end"].is_null());
    assert!(
        !incidents.iter().any(|i| i["service"] == "symbiont-api"),
        "an up service is no incident"
    );
    let feed = f.file("feed.xml");
    assert!(feed.contains("<title>Database is down</title>"), "{feed}");
    assert!(feed.contains("Database went from unknown to down at "));
    let html = f.file("index.html");
    assert!(
        html.contains("<strong>Database</strong>"),
        "the page lists it too"
    );
}

#[test]
fn systemctl_words_go_to_the_log_and_the_page_gets_a_short_reason() {
    let mut f = Fresh::start();
    let status = f.status().unwrap();
    let units = f.service(&status, "units");
    if systemd_runs() {
        // Here a made-up unit is inactive: the reason is systemd's own short word.
        assert_eq!(units["error"], "unit is inactive", "{units}");
        return;
    }
    assert_eq!(units["status"], "unknown");
    assert_eq!(
        units["error"], "systemd is not running on this host",
        "{units}"
    );
    let html = f.file("index.html");
    let part = service_html(&html, "units");
    assert!(
        part.contains("<p class=\"detail\">systemd is not running on this host</p>"),
        "{part}"
    );
    for raw in ["booted with systemd", "Failed to connect to bus", "PID 1"] {
        assert!(!html.contains(raw), "{raw} on the page");
        assert!(!f.file("status.json").contains(raw), "{raw} in status.json");
    }
    if Path::new("/usr/bin/systemctl").exists() || Path::new("/bin/systemctl").exists() {
        let log = f
            .daemon
            .wait_for_log("systemctl is-active said: ", Duration::from_secs(10));
        assert!(
            log.contains("cortex-status-first-hour.service"),
            "the log names the unit:\n{log}"
        );
        // Once, not every cycle.
        let cycles = f.daemon.health()["cycles"].as_u64().unwrap();
        f.daemon
            .wait_for_cycles(cycles + 2, Duration::from_secs(20));
        assert_eq!(
            f.daemon.log().matches("systemctl is-active said: ").count(),
            1
        );
    }
}

#[test]
fn a_service_s_details_are_on_the_page_escaped_and_collapsed() {
    let f = Fresh::start();
    let html = f.file("index.html");
    let part = service_html(&html, "symbiont-api");
    assert!(
        part.contains("<details class=\"facts\" id=\"details-symbiont-api\"><summary>Details"),
        "{part}"
    );
    assert!(part.contains("<dt>queue_depth</dt><dd>3</dd>"), "{part}");
    assert!(part.contains("<dt>version</dt><dd>1.4.2</dd>"), "{part}");
    assert!(part.contains("&lt;b&gt;all good&lt;&#x2F;b&gt;"), "{part}");
    assert!(!part.contains("<b>"), "escaped");
}

#[test]
fn an_empty_feed_is_dated_when_watching_began_not_1970_and_never_later_than_now() {
    let peer = Peer::start(Behaviour::ok());
    let site = Site::new(&format!(
        "interval = \"1s\"\n[[service]]\nname = \"Web\"\nkind = \"http\"\nurl = \"{}\"\n",
        peer.url("/")
    ));
    let daemon = site.start();
    daemon.wait_for_cycles(3, Duration::from_secs(20));
    let feed = std::fs::read_to_string(site.out().join("feed.xml")).unwrap();
    assert!(!feed.contains("<entry>"), "{feed}");
    assert!(!feed.contains("1970"), "{feed}");
    let updated = feed
        .split("<updated>")
        .nth(1)
        .and_then(|r| r.split("</updated>").next())
        .unwrap();
    let updated = chrono::DateTime::parse_from_rfc3339(updated).unwrap();
    let status = site.status_json();
    let generated =
        chrono::DateTime::parse_from_rfc3339(status["generated_at"].as_str().unwrap()).unwrap();
    assert!(updated <= generated, "{updated} is after {generated}");
    let since = status["services"][0]["observed_since"].as_str().unwrap();
    let since = chrono::DateTime::parse_from_rfc3339(since).unwrap();
    assert_eq!(
        updated.timestamp(),
        since.timestamp(),
        "dated by the first check"
    );
}

/// Services as a newcomer's first minute has them, in a browser at a phone's width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_minute_on_a_phone_fits_the_screen() {
    let f = Fresh::start();
    let b = Browser::start_with(Options::default()).await;
    let url = format!("http://{}/index.html", f.daemon.addr());
    b.goto(&url).await;
    b.wait_for_text("#service-units", "Units").await;
    let path = b.screenshot("status-page-first-minute").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    b.phone(390, 1600).await;
    b.goto(&url).await;
    b.wait_for_text("#service-database", "down").await;
    let width = b
        .run("return [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth];")
        .await;
    let (scroll, client, inner) = (
        width[0].as_u64().unwrap(),
        width[1].as_u64().unwrap(),
        width[2].as_u64().unwrap(),
    );
    assert_eq!(inner, 390, "the phone's width applies");
    assert!(
        scroll <= client,
        "the page scrolls sideways on a phone: {scroll} > {client}"
    );
    // Nothing inside a service sticks out of it either (a long detail, the strip).
    let wide = b
        .run(
            "return [].slice.call(document.querySelectorAll('.service *'))
               .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
               .map(e => e.tagName + '.' + e.className).slice(0, 5).join(', ');",
        )
        .await;
    assert_eq!(wide, "", "elements wider than the screen");
    // The details open and close.
    b.find("#details-symbiont-api summary")
        .await
        .click()
        .await
        .unwrap();
    b.wait_for_text("#details-symbiont-api", "queue_depth")
        .await;
    // live.js swaps the services in when a new cycle changes them: what was opened stays open.
    b.mark_document().await;
    b.run("document.getElementById('services').dataset.before = 'swap'; return true;")
        .await;
    b.wait_for_script(
        "return document.getElementById('services').dataset.before ? 'waiting' : 'swapped';",
        "swapped",
    )
    .await;
    assert!(b.same_document().await, "swapped in place, not reloaded");
    let open = b
        .run("return document.getElementById('details-symbiont-api').open;")
        .await;
    assert_eq!(open, true, "the details closed when the page updated");
    let path = b.screenshot("status-page-mobile").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    b.prefer_dark(true).await;
    let path = b.screenshot("status-page-mobile-dark").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

/// Without a password and Symbiont's address, the task page says what to set, and offers no
/// form that would answer 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_task_page_says_how_to_configure_it() {
    let site = Site::new("interval = \"1s\"\n");
    let mut cmd = site.command(&["run"]);
    cmd.env_remove("STATUS_TASK_PASSWORD")
        .env_remove("STATUS_TASK_PASSWORD_FILE");
    let daemon = site.start_with(cmd);
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let b = Browser::start().await;
    b.goto(&format!("http://{}/tasks.html", daemon.addr()))
        .await;
    let text = b
        .wait_for_text("main", "Tasks are not configured on this host")
        .await;
    for needed in ["STATUS_TASK_PASSWORD", "symbiont_url", "SYMBIONT_URL"] {
        assert!(text.contains(needed), "no {needed} in:\n{text}");
    }
    let forms = b
        .run("return document.querySelectorAll('form, textarea, input').length;")
        .await;
    assert_eq!(forms, 0, "a form that could only fail");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    b.screenshot("task-page-unconfigured").await;
}

/// The quick start: `cortex-status run` with no config file (the embedded default, host figures
/// only), then a `cortex-status.toml` written beside it. The page says no services are
/// configured rather than "All systems operational", and the new file is picked up without a
/// restart.
#[test]
fn a_config_written_after_a_start_on_the_embedded_default_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(crate::common::BIN);
    cmd.arg("run")
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .env("PORT", "0")
        .env_remove("SYMBIONT_URL")
        .env_remove("STATUS_PUBLIC_URL");
    // `Site` only for its start helper: the daemon runs in `dir`, with no --config.
    let site = Site::new("");
    let mut daemon = site.start_with(cmd);
    let index = dir.path().join("public/index.html");
    let page = || std::fs::read_to_string(&index).unwrap_or_default();
    wait_until("the first page", Duration::from_secs(30), || {
        page().contains("</html>")
    });
    let html = page();
    assert!(!html.contains("All systems operational"), "{html}");
    assert!(html.contains("No services configured yet"), "{html}");
    assert!(html.contains("cortex-status init"), "{html}");

    std::fs::write(
        dir.path().join("cortex-status.toml"),
        "title = \"Written Later\"\n",
    )
    .unwrap();
    daemon.wait_for_log("config reloaded from", Duration::from_secs(20));
    wait_until("the new title on the page", Duration::from_secs(20), || {
        page().contains("Written Later")
    });
}

/// The README's example config lists `/data`, which most hosts do not have: the page shows it
/// once in the disks card, not as a problem with the page every cycle; `status.json` keeps it
/// in `errors` (and says which in `host.disks_missing`).
#[test]
fn a_configured_disk_that_is_not_mounted_is_shown_in_the_disks_card_not_as_a_problem() {
    let site = Site::new("interval = \"1s\"\n[host]\ndisks = [\"/\", \"/no/such/mount\"]\n");
    let daemon = site.start();
    daemon.wait_for_cycles(2, Duration::from_secs(30));
    let status = site.status_json();
    assert_eq!(
        status["host"]["disks_missing"],
        serde_json::json!(["/no/such/mount"])
    );
    assert_eq!(
        status["errors"],
        serde_json::json!(["disk /no/such/mount: not mounted, or not readable"])
    );
    let html = std::fs::read_to_string(site.out().join("index.html")).unwrap();
    assert_eq!(html.matches("no&#x2F;such&#x2F;mount").count(), 1, "{html}");
    assert!(
        html.contains(
            "<div class=\"meter-label\"><span>&#x2F;no&#x2F;such&#x2F;mount</span><span>not mounted</span></div>"
        )
    );
    assert!(!html.contains("Problems with this page"), "{html}");
}
