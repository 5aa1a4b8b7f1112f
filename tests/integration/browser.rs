//! The task form and the status page in a real browser: headless Chromium (through
//! chromedriver) loads the pages the daemon serves, a person's keystrokes and clicks go in, and
//! the page's own text is what the tests check. Symbiont is the fake one; the watched service
//! is a loopback peer the test turns up and down.

use crate::common::browser::{Browser, FETCHES, Options, StaticFiles};
use crate::common::peer::{Behaviour, Peer};
use crate::common::symbiont::{FakeSymbiont, Mode, PASSWORD, TOKEN};
use crate::common::{Daemon, Site};
use std::time::{Duration, Instant};

const TITLE: &str = "Browser Test Status";

struct Setup {
    _site: Site,
    daemon: Daemon,
    symbiont: FakeSymbiont,
    browser: Browser,
}

impl Setup {
    fn url(&self, page: &str) -> String {
        format!("http://{}/{page}", self.daemon.addr())
    }
}

/// The daemon with tasks configured and its first cycle done (so the site is published), and a
/// browser.
async fn setup() -> Setup {
    let symbiont = FakeSymbiont::start();
    let top = format!("title = \"{TITLE}\"\ninterval = \"1s\"");
    let (site, daemon) = symbiont.daemon(&top, "2s", PASSWORD, TOKEN);
    let browser = Browser::start().await;
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    Setup {
        _site: site,
        daemon,
        symbiont,
        browser,
    }
}

/// Loads tasks.html and types the password and the prompt.
async fn fill_form(s: &Setup, password: &str, prompt: &str) {
    let b = &s.browser;
    b.goto(&s.url("tasks.html")).await;
    b.find("form#task-form").await;
    assert_eq!(
        b.find("input#password").await.attr("type").await.unwrap(),
        Some("password".into())
    );
    assert_eq!(
        b.text("#form-error").await,
        "",
        "no error before a submission"
    );
    assert_eq!(
        b.text("#task").await,
        "",
        "the task section is hidden at first"
    );
    b.type_into("textarea#prompt", prompt).await;
    b.type_into("input#password", password).await;
}

/// Waits until the form is no longer busy, and checks it says so.
async fn wait_until_idle(b: &Browser) {
    let start = Instant::now();
    let button = b.find("button#submit").await;
    while !button.is_enabled().await.unwrap() {
        assert!(
            start.elapsed() < crate::common::browser::WAIT,
            "the button stays disabled:\n{}",
            b.page_text().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = b
        .find("form#task-form")
        .await
        .attr("aria-busy")
        .await
        .unwrap();
    assert_ne!(busy.as_deref(), Some("true"), "aria-busy stays true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_shown_and_nothing_reaches_symbiont() {
    let s = setup().await;
    let b = &s.browser;
    fill_form(&s, "not the password", "hello").await;
    // Enter in the password field submits the form.
    b.type_into("input#password", "\u{E007}").await;
    let error = b.wait_for_text("#form-error", "password").await;
    assert!(
        error.contains("the password is missing or wrong"),
        "the endpoint's own words: {error:?}"
    );
    wait_until_idle(b).await;
    assert_eq!(b.text("#task").await, "", "no task after a refusal");
    assert!(
        s.symbiont.received().is_empty(),
        "a refused submission reached Symbiont: {:?}",
        s.symbiont.received()
    );
    // The refusal is the only console error: the browser's own line for the 401.
    let errors = b.console_errors().await;
    assert!(
        errors.len() == 1 && errors[0].contains("401"),
        "console errors: {errors:#?}"
    );
    // The password is never put in the address.
    let url = b.client.current_url().await.unwrap();
    assert!(!url.as_str().contains("password"), "{url}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_sent_and_followed_until_completed() {
    let s = setup().await;
    let b = &s.browser;
    let prompt = "Summarise the logs — café ☕";
    fill_form(&s, PASSWORD, prompt).await;
    // Slow enough to see the form busy while the request is in flight.
    s.symbiont.set(Mode::Slow(Duration::from_millis(1500)));
    b.find("button#submit").await.click().await.unwrap();
    let button = b.find("button#submit").await;
    assert!(
        !button.is_enabled().await.unwrap(),
        "the button is disabled while sending"
    );
    assert_eq!(
        b.find("form#task-form")
            .await
            .attr("aria-busy")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );
    let start = Instant::now();
    while s.symbiont.received().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing reached Symbiont"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.symbiont.set(Mode::Normal);

    assert_eq!(b.wait_for_text("#task-id", "t-1").await, "t-1");
    wait_until_idle(b).await;
    // The fake answers "running" twice, then "completed".
    b.wait_for_text("#task-status", "running").await;
    let status = b.wait_for_text("#task-status", "completed").await;
    assert_eq!(status, "completed");
    assert_eq!(
        b.wait_for_text("#task-result", "all done").await,
        "all done"
    );
    let progress = b.text("#task-progress").await;
    assert!(
        progress.contains("100"),
        "progress at the end: {progress:?}"
    );
    assert_eq!(b.text("#form-error").await, "", "no error on success");
    let path = b.screenshot("task-form").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    let got = s.symbiont.received();
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/task")
    );
    let sent: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(sent, serde_json::json!({ "prompt": prompt }));
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let polls = got.iter().filter(|r| r.target == "/task/t-1").count();
    assert!(polls >= 3, "{polls} polls reached Symbiont");
    // The page stops polling once the task has ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = s
        .symbiont
        .received()
        .iter()
        .filter(|r| r.target == "/task/t-1")
        .count();
    assert_eq!(later, polls, "the page still polls a completed task");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbiont_401_is_shown() {
    let s = setup().await;
    let b = &s.browser;
    s.symbiont
        .set(Mode::Status(401, r#"{"error": "invalid token"}"#));
    fill_form(&s, PASSWORD, "hello").await;
    b.find("button#submit").await.click().await.unwrap();
    let error = b
        .wait_for_text("#form-error", "Symbiont answered 401")
        .await;
    assert!(error.contains("invalid token"), "{error:?}");
    wait_until_idle(b).await;
    assert_eq!(b.text("#task").await, "", "no task after a failure");
    assert_eq!(s.symbiont.received().len(), 1);
}

/// The daemon watching one HTTP service (a peer the test controls) every second, after two
/// cycles (so the service has been checked), and a browser.
struct Live {
    /// Holds the scratch directory (out_dir, config) for the test's length.
    _site: Site,
    daemon: Daemon,
    peer: Peer,
    browser: Browser,
}

impl Live {
    async fn start(options: Options) -> Live {
        let peer = Peer::start(Behaviour::ok());
        let site = Site::new(&format!(
            "title = \"{TITLE}\"\ninterval = \"1s\"\n[[service]]\nname = \"Database\"\nkind = \"http\"\nurl = \"{}\"\n",
            peer.url("/health")
        ));
        let daemon = site.start();
        let browser = Browser::start_with(options).await;
        daemon.wait_for_cycles(2, Duration::from_secs(20));
        Live {
            _site: site,
            daemon,
            peer,
            browser,
        }
    }

    fn url(&self, page: &str) -> String {
        format!("http://{}/{page}", self.daemon.addr())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_loads_clean_in_light_and_dark() {
    let s = Live::start(Options::default()).await;
    let b = &s.browser;
    b.goto(&s.url("index.html")).await;
    let title = b.client.title().await.unwrap();
    assert!(title.starts_with(TITLE), "title {title:?}");
    b.wait_for_text("#overall-heading", "All systems operational")
        .await;
    b.wait_for_text("#service-database", "up").await;
    b.wait_for_text("header.site nav", "Tasks").await;
    // The stylesheet applied: the skip link is moved out of sight until focused.
    let skip = b.find("a.skip").await;
    assert_eq!(skip.css_value("position").await.unwrap(), "absolute");
    // live.js runs: the age ticks beside the absolute time, and the data is fresh.
    b.wait_for_text("#updated-ago", "s ago").await;
    assert_eq!(b.text("#stale").await, "", "no stale banner on fresh data");
    // Until the history is filled, the strip and the sparkline say there is nothing yet.
    let service = b.text("#service-database").await;
    assert!(service.contains("Availability"), "{service}");
    // Console errors: uncaught exceptions, failed loads and CSP violations (the preview sends
    // the strict policy production will) all show here as SEVERE.
    tokio::time::sleep(Duration::from_millis(2500)).await; // a poll or two
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let path = b.screenshot("status-page").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);

    b.prefer_dark(true).await;
    let background = b
        .run("return getComputedStyle(document.body).backgroundColor;")
        .await;
    assert_eq!(background, "rgb(13, 17, 23)", "the dark palette applies");
    let path = b.screenshot("status-page-dark").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_going_down_shows_without_a_reload_and_is_announced() {
    let s = Live::start(Options::default()).await;
    let b = &s.browser;
    b.goto(&s.url("index.html")).await;
    b.wait_for_text("#service-database", "up").await;
    // live.js has read the feed once: that is what a change is compared against.
    b.wait_for_text("#updated-ago", "s ago").await;
    b.mark_document().await;
    let polls_before = s.peer.hits();

    s.peer.set(Behaviour::json(503, r#"{"status":"down"}"#));
    // Within an interval (1 s) and a poll (2 s); WAIT leaves room for a loaded machine.
    let row = b.wait_for_text("#service-database", "down").await;
    assert!(row.contains("HTTP 503"), "the error is shown: {row}");
    b.wait_for_text("#overall-heading", "Some services are down")
        .await;
    assert!(b.same_document().await, "the page was reloaded");
    let said = b
        .wait_for_script(
            "return document.getElementById('live-announce').textContent;",
            "Database is now down",
        )
        .await;
    assert_eq!(said, "Database is now down");
    assert!(
        b.client.title().await.unwrap().ends_with(": down"),
        "the title follows"
    );
    assert!(s.peer.hits() > polls_before, "the daemon kept probing");

    s.peer.set(Behaviour::ok());
    b.wait_for_text("#service-database", "up").await;
    b.wait_for_script(
        "return document.getElementById('live-announce').textContent;",
        "Database is now up",
    )
    .await;
    assert!(b.same_document().await, "the page was reloaded");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_daemon_shows_the_cannot_reach_banner() {
    let mut s = Live::start(Options::default()).await;
    s.browser.goto(&s.url("index.html")).await;
    let b = &s.browser;
    b.wait_for_text("#updated-ago", "s ago").await;
    assert_eq!(b.text("#stale").await, "");
    b.mark_document().await;
    s.daemon.terminate();
    let b = &s.browser;
    let banner = b.wait_for_text("#stale", "Cannot reach the server").await;
    assert!(
        banner.contains("the data below is from")
            && banner.contains(" UTC, ")
            && banner.ends_with("ago."),
        "{banner}"
    );
    // Still the last page, with its data.
    assert!(b.same_document().await, "the page was reloaded");
    assert!(b.text("#service-database").await.contains("up"));
    let said = b
        .wait_for_script(
            "return document.getElementById('live-announce').textContent;",
            "Cannot reach the server",
        )
        .await;
    assert!(said.starts_with("Cannot reach"), "{said}");
    // The only errors are the browser's own lines for the refused connections.
    let errors = b.console_errors().await;
    assert!(
        errors.iter().all(|e| e.contains("ERR_CONNECTION_REFUSED")),
        "console errors: {errors:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_older_than_three_intervals_shows_the_stale_banner() {
    // A site built once and served by a plain file server: nothing refreshes it, as when the
    // generator has stopped but the web server still serves its last files.
    let site = Site::new("title = \"Frozen\"\ninterval = \"1s\"\n");
    assert!(site.run(&["build"]).status.success());
    let generated_at = site.status_json()["generated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let four_minutes_ago = (chrono::Utc::now() - chrono::Duration::minutes(4))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for file in ["index.html", "status.json"] {
        let path = site.out().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&generated_at));
        std::fs::write(&path, text.replace(&generated_at, &four_minutes_ago)).unwrap();
    }
    let files = StaticFiles::serve(&site.out());
    let b = Browser::start().await;
    b.goto(&files.url("index.html")).await;
    let banner = b.wait_for_text("#stale", "old").await;
    assert!(
        banner == "This data is 4 min old: the status generator may have stopped.",
        "{banner}"
    );
    b.wait_for_text("#updated-ago", "4 min ago").await;
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_the_page_is_complete_and_refreshes_itself() {
    let s = Live::start(Options { javascript: false }).await;
    let b = &s.browser;
    b.goto(&s.url("index.html")).await;
    b.wait_for_text("#overall-heading", "All systems operational")
        .await;
    let row = b.text("#service-database").await;
    assert!(
        row.contains("up") && row.contains("Availability") && row.contains("ms"),
        "{row}"
    );
    // The script never ran: its parts stay hidden, and the page is complete without them.
    assert_eq!(b.text("#updated-ago").await, "");
    assert_eq!(b.text("#stale").await, "");
    let html = b.client.source().await.unwrap();
    assert!(html.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));
    // The refresh (10 s) loads the page again, with newer data.
    let time = b.find("#overall time").await;
    let first = time.attr("datetime").await.unwrap().unwrap();
    let start = Instant::now();
    loop {
        let now = match b
            .client
            .find(fantoccini::Locator::Css("#overall time"))
            .await
        {
            Ok(t) => t.attr("datetime").await.ok().flatten().unwrap_or_default(),
            Err(_) => String::new(),
        };
        if !now.is_empty() && now != first {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "the page did not refresh itself: still {first}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let path = b.screenshot("status-page-no-js").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_feed_costs_a_304_and_no_page_fetch() {
    // One cycle, then nothing changes for an hour: every poll after the first finds the feed
    // unchanged.
    let site = Site::new("title = \"Quiet\"\ninterval = \"1h\"\n");
    let daemon = site.start();
    daemon.wait_for_cycles(1, Duration::from_secs(20));
    let b = Browser::start().await;
    b.goto(&format!("http://{}/index.html", daemon.addr()))
        .await;
    // The pace is max(interval, 2 s) capped at 60 s: with an interval of an hour, one a minute.
    // So: the first poll only, within this test's time; it must be a full 200, and the page is
    // not fetched again for a feed no newer than what is on screen.
    let seen = b.wait_for_script(FETCHES, "/status.json").await;
    assert_eq!(seen, "/status.json 200", "{seen}");
    // The tab is hidden, then shown again (the events a browser fires): shown, the page polls
    // at once rather than waiting out the minute, and the unchanged feed costs a 304.
    let visibility = |hidden: bool| {
        format!(
            "Object.defineProperty(document, 'hidden', {{value: {hidden}, configurable: true}}); \
             document.dispatchEvent(new Event('visibilitychange')); return true;"
        )
    };
    b.run(&visibility(true)).await;
    b.run(&visibility(false)).await;
    let seen = b.wait_for_script(FETCHES, "304").await;
    assert_eq!(seen, "/status.json 200, /status.json 304", "{seen}");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}
