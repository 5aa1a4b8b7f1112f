//! The task form and the status page in a real browser: headless Chromium (through
//! chromedriver) loads the pages the daemon serves, a person's keystrokes and clicks go in, and
//! the page's own text is what the tests check. Symbiont is the fake one.

use crate::common::browser::Browser;
use crate::common::symbiont::{FakeSymbiont, Mode};
use crate::common::{Daemon, Site};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery staple";
const TOKEN: &str = "sym-token-s3cret";
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_loads() {
    let s = setup().await;
    let b = &s.browser;
    b.goto(&s.url("index.html")).await;
    let title = b.client.title().await.unwrap();
    assert!(title.starts_with(TITLE), "title {title:?}");
    let headline = b.text("#overall-heading").await;
    assert!(
        [
            "All systems operational",
            "Some services",
            "Maintenance in progress"
        ]
        .iter()
        .any(|h| headline.contains(h)),
        "headline {headline:?}"
    );
    b.wait_for_text("header.site nav", "Tasks").await;
    // The stylesheet applied: the skip link is moved out of sight until focused.
    let skip = b.find("a.skip").await;
    assert_eq!(skip.css_value("position").await.unwrap(), "absolute");
    let errors = b.console_errors().await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let path = b.screenshot("status-page").await;
    assert!(std::fs::metadata(&path).unwrap().len() > 1000);
}
