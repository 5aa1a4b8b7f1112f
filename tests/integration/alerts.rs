//! Alerts (issue 11): the real binary against real receivers on loopback — an HTTP receiver
//! (plain and TLS through SSL_CERT_FILE), a real SMTP server (aiosmtpd) and a command — with a
//! service the test flips up and down. Counts and contents only; waits are generous.

use crate::common::peer::{Behaviour, Peer, closed_port};
use crate::common::receiver::{Receiver, Recorded};
use crate::common::tls::TestCa;
use crate::common::{Daemon, Site, wait_until};
use std::process::Command;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn down() -> Behaviour {
    Behaviour::json(500, r#"{"status":"broken"}"#)
}

/// A site watching one http service (`api`) at `peer`, checked every `interval`, with `alerts`.
fn site(peer: &Peer, interval: &str, alerts: &str) -> Site {
    Site::new(&format!(
        "interval = \"{interval}\"\npublic_url = \"https://status.example.net\"\n\n[[service]]\nname = \"API\"\nkind = \"http\"\nurl = \"{}\"\ntimeout = \"1s\"\n\n{alerts}",
        peer.url("/status")
    ))
}

fn start(site: &Site, env: &[(&str, &str)]) -> Daemon {
    let mut cmd = site.command(&["run"]);
    cmd.env("CORTEX_ALERT_BACKOFF_MS", "30");
    for (k, v) in env {
        cmd.env(k, v);
    }
    site.start_with(cmd)
}

fn events(reqs: &[Recorded]) -> Vec<String> {
    reqs.iter()
        .map(|r| r.json()["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!("[[alert]]\nname = \"{name}\"\nkind = \"webhook\"\nurl = \"{url}\"\n{extra}\n")
}

/// Samples (hits before, receiver count, hits after) until `until` hits: whenever no probe
/// happened around the read and fewer than `limit` had happened, nothing may have been sent.
fn nothing_before(peer: &Peer, rx: &Receiver, limit: usize, until: usize) {
    let start = Instant::now();
    while peer.hits() < until {
        let before = peer.hits();
        let sent = rx.requests().len();
        let after = peer.hits();
        if before == after && after < limit {
            assert_eq!(sent, 0, "a message after only {after} checks");
        }
        assert!(
            start.elapsed() < WAIT,
            "the service was not checked {until} times"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn threshold_three_sends_on_the_third_failure_and_recovery_after_two_good() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let site = site(
        &peer,
        "300ms",
        &webhook(
            "hook",
            &rx.url("/hook"),
            "success_threshold = 2\nmin_gap = \"10ms\"",
        ),
    );
    let _d = start(&site, &[]);
    nothing_before(&peer, &rx, 3, 3);
    let got = rx.wait_for(1, WAIT);
    assert_eq!(events(&got), ["down"]);
    let body = got[0].json();
    assert_eq!(body["service"], "API");
    assert_eq!(body["slug"], "api");
    assert_eq!(body["alert"], "hook");
    assert_eq!(body["url"], "https://status.example.net/");
    assert!(body["error"].as_str().unwrap().contains("500"), "{body}");
    assert!(body["since"].as_str().is_some());
    // Staying down sends nothing more.
    let h = peer.hits();
    wait_until("more checks", WAIT, || peer.hits() >= h + 3);
    assert_eq!(rx.requests().len(), 1);
    // Up: one good check is not enough, two are.
    let base = peer.hits();
    peer.set(Behaviour::ok());
    let start = Instant::now();
    while peer.hits() < base + 2 {
        let before = peer.hits();
        let sent = rx.requests().len();
        if peer.hits() == before && before < base + 2 {
            assert_eq!(sent, 1, "recovered after fewer than 2 good checks");
        }
        assert!(start.elapsed() < WAIT);
        std::thread::sleep(Duration::from_millis(5));
    }
    let got = rx.wait_for(2, WAIT);
    assert_eq!(events(&got), ["down", "recovered"]);
    assert!(got[1].json()["duration_seconds"].as_i64().is_some());
}

#[test]
fn a_reminder_comes_at_remind_every() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let site = site(
        &peer,
        "100ms",
        &webhook(
            "hook",
            &rx.url("/hook"),
            "failure_threshold = 1\nremind_every = \"700ms\"\nmin_gap = \"100ms\"",
        ),
    );
    let _d = start(&site, &[]);
    let got = rx.wait_for(3, WAIT);
    assert_eq!(events(&got)[..3], ["down", "reminder", "reminder"]);
    assert!(
        got[1].json()["text"]
            .as_str()
            .unwrap()
            .contains("still down")
    );
}

#[test]
fn a_restart_mid_outage_sends_no_second_down_and_still_the_recovery() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let site = site(
        &peer,
        "100ms",
        &webhook(
            "hook",
            &rx.url("/hook"),
            "failure_threshold = 1\nsuccess_threshold = 1\nmin_gap = \"10ms\"",
        ),
    );
    let mut d = start(&site, &[]);
    rx.wait_for(1, WAIT);
    d.wait_for_cycles(3, WAIT);
    assert!(d.terminate().success());
    assert!(site.path("state/alerts.json").is_file());
    let d = start(&site, &[]);
    let c = d.health()["cycles"].as_u64().unwrap_or(0);
    d.wait_for_cycles(c + 8, WAIT);
    assert_eq!(
        events(&rx.requests()),
        ["down"],
        "the down was sent again after the restart"
    );
    peer.set(Behaviour::ok());
    let got = rx.wait_for(2, WAIT);
    assert_eq!(events(&got), ["down", "recovered"]);
}

#[test]
fn maintenance_silences_and_its_end_is_no_recovery() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let now = chrono::Utc::now();
    let end = now + chrono::Duration::seconds(3);
    let fmt =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let maint = format!(
        "[[maintenance]]\nservices = [\"api\"]\nstart = \"{}\"\nend = \"{}\"\n\n",
        fmt(now - chrono::Duration::hours(1)),
        fmt(end)
    );
    let alert = webhook(
        "hook",
        &rx.url("/hook"),
        "failure_threshold = 1\nsuccess_threshold = 1",
    );
    let site = site(&peer, "100ms", &format!("{maint}{alert}"));
    let d = start(&site, &[]);
    d.wait_for_cycles(5, WAIT);
    // Up again as the window ends: no message, since nothing was down before it.
    peer.set(Behaviour::ok());
    wait_until("the window's end", WAIT, || {
        chrono::Utc::now() > end + chrono::Duration::milliseconds(500)
    });
    let c = d.health()["cycles"].as_u64().unwrap();
    d.wait_for_cycles(c + 5, WAIT);
    assert!(rx.requests().is_empty(), "{:?}", events(&rx.requests()));
    // And the alert is live after it: down now is news.
    peer.set(down());
    assert_eq!(events(&rx.wait_for(1, WAIT)), ["down"]);
}

#[test]
fn a_500_then_200_is_delivered_on_retry() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    rx.answer(&[500], 200);
    let site = site(
        &peer,
        "100ms",
        &webhook("hook", &rx.url("/hook"), "failure_threshold = 1"),
    );
    let mut d = start(&site, &[]);
    let got = rx.wait_for(2, WAIT);
    assert_eq!(events(&got)[..2], ["down", "down"]);
    assert_eq!(got[0].body, got[1].body, "the retry is the same message");
    d.wait_for_log("delivered (try 2)", WAIT);
    assert!(!site.errors().iter().any(|e| e.contains("alerts to")));
}

#[test]
fn a_receiver_down_for_good_shows_in_errors_and_health_without_secrets() {
    let peer = Peer::start(down());
    let dead = closed_port();
    let token = "tok-9f8e7d6c5b4a";
    let alert = webhook(
        "phone",
        &format!("http://{dead}/hook/${{HOOK_TOKEN}}"),
        "failure_threshold = 1",
    );
    let site = site(&peer, "100ms", &alert);
    let d = start(&site, &[("HOOK_TOKEN", token)]);
    wait_until("the failure in errors", WAIT, || {
        site.errors()
            .iter()
            .any(|e| e.starts_with("alerts to `phone` are failing"))
    });
    let health = d.health();
    let failing = health["alerts_failing"].as_array().unwrap();
    assert_eq!(failing[0]["alert"], "phone", "{health}");
    assert!(
        failing[0]["error"].as_str().unwrap().contains("connect"),
        "{health}"
    );
    assert_no_secret(&site, &d, &[token]);
}

/// No file under the site (out_dir, state_dir), no log line and no health answer has any of
/// `secrets`.
fn assert_no_secret(site: &Site, d: &Daemon, secrets: &[&str]) {
    let mut texts = vec![
        ("log".to_string(), d.log()),
        ("health".to_string(), d.health().to_string()),
    ];
    for dir in [site.out(), site.path("state")] {
        for entry in walk(&dir) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            texts.push((
                entry.display().to_string(),
                String::from_utf8_lossy(&bytes).to_string(),
            ));
        }
    }
    for (what, text) in texts {
        for s in secrets {
            assert!(!text.contains(s), "a secret in {what}");
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_flapping_service_is_rate_limited_and_summarised() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let site = site(
        &peer,
        "50ms",
        &webhook(
            "hook",
            &rx.url("/hook"),
            "failure_threshold = 1\nsuccess_threshold = 1\nmin_gap = \"1500ms\"",
        ),
    );
    let _d = start(&site, &[]);
    rx.wait_for(1, WAIT);
    let started = Instant::now();
    let mut flips = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let h = peer.hits();
        wait_until("a check", WAIT, || peer.hits() > h);
        peer.set(if flips % 2 == 0 {
            Behaviour::ok()
        } else {
            down()
        });
        flips += 1;
    }
    peer.set(down());
    let elapsed = started.elapsed();
    let got = rx.wait_for(2, WAIT);
    // One message per min_gap at most, however many changes.
    let bound = (elapsed.as_millis() / 1500) as usize + 2;
    assert!(flips > 10, "only {flips} flips");
    assert!(
        got.len() <= bound,
        "{} messages for {flips} changes: {:?}",
        got.len(),
        events(&got)
    );
    let summarised = got
        .iter()
        .find(|r| r.json()["suppressed_count"].as_u64().unwrap_or(0) > 0);
    let s = summarised.unwrap_or_else(|| panic!("no summary in {got:#?}"));
    assert!(s.json()["text"].as_str().unwrap().contains("held back"));
    assert!(!s.json()["suppressed"].as_array().unwrap().is_empty());
}

#[test]
fn slack_discord_ntfy_telegram_and_tls_webhook_bodies() {
    let ca = TestCa::new("alerts test CA");
    let issued = ca.issue_for_days("localhost", &["localhost"], 30);
    let tls = Receiver::start_tls(&issued);
    let rx = Receiver::start();
    let peer = Peer::start(down());
    let token = "123456:AAbbCCddEEff-secret";
    let ntfy_token = "tk_ntfy0a1b2c3d4e";
    let kind = |name: &str, kind: &str, url: String| {
        format!(
            "[[alert]]\nname = \"{name}\"\nkind = \"{kind}\"\nurl = \"{url}\"\nfailure_threshold = 1\n"
        )
    };
    let alerts = [
        webhook("secure", &tls.url("/tls-hook"), "failure_threshold = 1"),
        kind("team", "slack", rx.url("/slack")),
        kind("chat", "discord", rx.url("/discord")),
        kind("phone", "ntfy", rx.url("/ntfy/topic")),
        format!(
            "[[alert]]\nname = \"pager\"\nkind = \"ntfy\"\nurl = \"{}\"\ntoken = \"${{NTFY_TOKEN}}\"\npriority = 2\nfailure_threshold = 1\n",
            rx.url("/ntfy/quiet")
        ),
        format!(
            "[[alert]]\nname = \"tg\"\nkind = \"telegram\"\nbot_token = \"${{TG_TOKEN}}\"\nchat_id = -100123\napi_url = \"{}\"\nfailure_threshold = 1\n",
            rx.url("")
        ),
    ]
    .concat();
    let site = site(&peer, "100ms", &alerts);
    let ca_file = ca.ca_file();
    let d = start(
        &site,
        &[
            ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
            ("TG_TOKEN", token),
            ("NTFY_TOKEN", ntfy_token),
        ],
    );
    let secure = tls.wait_for(1, WAIT);
    assert_eq!(secure[0].json()["event"], "down");
    assert_eq!(secure[0].header("content-type"), Some("application/json"));
    let got = rx.wait_for(5, WAIT);
    let by = |p: &str| {
        got.iter()
            .find(|r| r.path.starts_with(p))
            .unwrap_or_else(|| panic!("nothing at {p}: {got:#?}"))
    };
    let slack = by("/slack").json();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("API is down since"),
        "{slack}"
    );
    let discord = by("/discord").json();
    assert!(
        discord["content"].as_str().unwrap().contains("API is down"),
        "{discord}"
    );
    assert_eq!(discord["username"], "cortex-status");
    let ntfy = by("/ntfy/topic");
    assert_eq!(ntfy.header("title"), Some("API is down"));
    assert_eq!(ntfy.header("priority"), Some("5"));
    assert!(ntfy.header("tags").unwrap().contains("rotating_light"));
    assert_eq!(ntfy.header("click"), Some("https://status.example.net/"));
    assert!(ntfy.body.contains("API is down since"));
    let quiet = by("/ntfy/quiet");
    assert_eq!(quiet.header("priority"), Some("2"));
    assert_eq!(
        quiet.header("authorization"),
        Some(format!("Bearer {ntfy_token}").as_str())
    );
    let tg = by("/bot");
    assert_eq!(tg.path, format!("/bot{token}/sendMessage"));
    assert_eq!(tg.json()["chat_id"], "-100123");
    assert!(
        tg.json()["text"]
            .as_str()
            .unwrap()
            .contains("https://status.example.net/")
    );
    assert_no_secret(&site, &d, &[token, ntfy_token]);
}

#[test]
fn an_email_arrives_with_both_parts_over_starttls() {
    email_through("starttls");
}

#[test]
fn an_email_arrives_over_implicit_tls() {
    email_through("implicit");
}

/// A real SMTP server (aiosmtpd) with TLS by `mode` and AUTH; one `down` email must arrive.
fn email_through(mode: &str) {
    let python = "/usr/bin/python3";
    let ca = TestCa::new("smtp test CA");
    let issued = ca.issue_for_days("smtp", &["localhost"], 30);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mail_dir = tempfile::tempdir().unwrap();
    let password = "smtp-pw-4a5b6c7d";
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/smtp.py");
    let mut server = Command::new(python)
        .args([script, &port.to_string(), mail_dir.path().to_str().unwrap()])
        .arg(&issued.cert_file)
        .arg(&issued.key_file)
        .args(["status@example.net", password, mode])
        .spawn()
        .expect("python3 with aiosmtpd (scripts/test installs python3-aiosmtpd)");
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _kill = Kill(&mut server);
    wait_until("the SMTP server", WAIT, || {
        mail_dir.path().join("ready").exists()
    });
    let peer = Peer::start(down());
    let alert = format!(
        "[[alert]]\nname = \"mail\"\nkind = \"email\"\nsmtp = \"localhost:{port}\"\ntls = \"{mode}\"\nusername = \"status@example.net\"\npassword = \"${{SMTP_PASSWORD}}\"\nfrom = \"status@example.net\"\nto = [\"ops@example.net\"]\nfailure_threshold = 1\n"
    );
    let site = site(&peer, "100ms", &alert);
    let ca_file = ca.ca_file();
    let d = start(
        &site,
        &[
            ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
            ("SMTP_PASSWORD", password),
        ],
    );
    let msg = mail_dir.path().join("msg-1.eml");
    wait_until("the email", WAIT, || msg.exists());
    // Quoted-printable may break long lines with a trailing `=`: join them back.
    let mail = std::fs::read_to_string(&msg)
        .unwrap()
        .replace("=\r\n", "")
        .replace("=\n", "");
    assert!(mail.contains("Subject: API is down"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("text/plain"), "{mail}");
    assert!(mail.contains("text/html"), "{mail}");
    assert!(mail.contains("https://status.example.net/"), "{mail}");
    assert_no_secret(&site, &d, &[password]);
}

#[test]
fn a_command_gets_the_event_on_stdin_and_no_secrets() {
    let peer = Peer::start(down());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("event.json");
    let env = dir.path().join("env.txt");
    let alert = format!(
        "[[alert]]\nname = \"script\"\nkind = \"command\"\ncommand = \"cat > {}.tmp; env > {}; mv {}.tmp {}\"\nfailure_threshold = 1\n\n{}",
        out.display(),
        env.display(),
        out.display(),
        out.display(),
        // A secret in the config, so there is one to leak.
        "[[alert]]\nname = \"other\"\nkind = \"ntfy\"\nurl = \"http://127.0.0.1:9/${NTFY_TOPIC}\"\nsend_on = [\"recovered\"]\n"
    );
    let site = site(&peer, "100ms", &alert);
    let secret = "topic-7a6b5c4d3e";
    let _d = start(&site, &[("NTFY_TOPIC", secret)]);
    wait_until("the command's output", WAIT, || out.exists());
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(event["event"], "down");
    assert_eq!(event["service"], "API");
    let env = std::fs::read_to_string(&env).unwrap();
    assert!(env.contains("CORTEX_ALERT_EVENT=down"), "{env}");
    assert!(env.contains("CORTEX_ALERT_SERVICE=API"), "{env}");
    assert!(
        !env.contains(secret),
        "a secret in the command's environment"
    );
    assert!(!env.contains("NTFY_TOPIC"), "{env}");
}

#[test]
fn alert_test_sends_through_each_channel_and_says_how_it_went() {
    let rx = Receiver::start();
    let dead = closed_port();
    let peer = Peer::start(Behaviour::ok());
    let alerts = format!(
        "{}{}",
        webhook("good", &rx.url("/hook"), ""),
        webhook("bad", &format!("http://{dead}/hook"), "")
    );
    let site = site(&peer, "1s", &alerts);
    let out = site.run(&["alert", "test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("good: sent"), "{stdout}");
    assert!(stdout.contains("bad: failed"), "{stdout}");
    assert_eq!(events(&rx.requests()), ["test"]);
    let out = site.run(&["alert", "test", "good"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(rx.requests().len(), 2);
    let out = site.run(&["alert", "test", "nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_reports_alert_problems_with_their_lines() {
    let site = Site::new(
        "[[service]]\nname = \"API\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n\n[[alert]]\nname = \"phone\"\nkind = \"ntfy\"\nurl = \"https://ntfy.sh/${UNSET_TOPIC_XYZ}\"\n\n[[alert]]\nname = \"x\"\nkind = \"pager\"\n\n[[alert]]\nname = \"y\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/\"\nservices = [\"nothing-*\"]\nfailure_threshold = 0\n",
    );
    let out = site.run(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success());
    assert!(
        text.contains(":12: alert[0].url") || text.contains("alert[0].url"),
        "{text}"
    );
    assert!(text.contains("UNSET_TOPIC_XYZ"), "{text}");
    assert!(text.contains("alert[1].kind"), "{text}");
    assert!(text.contains("alert[2].services"), "{text}");
    assert!(text.contains("alert[2].failure_threshold"), "{text}");
}

#[test]
fn a_corrupt_alert_state_is_moved_aside_and_reported() {
    let peer = Peer::start(down());
    let rx = Receiver::start();
    let site = site(
        &peer,
        "100ms",
        &webhook("hook", &rx.url("/hook"), "failure_threshold = 1"),
    );
    std::fs::create_dir_all(site.path("state")).unwrap();
    // Hostile: far larger than any alert state of one alert and one service can be.
    std::fs::write(site.path("state/alerts.json"), vec![b'['; 4 << 20]).unwrap();
    let _d = start(&site, &[]);
    // Alerting works from a fresh state, and the file that was there is kept for a look.
    assert_eq!(events(&rx.wait_for(1, WAIT)), ["down"]);
    let names = crate::common::names_in(&site.path("state"));
    assert!(
        names.iter().any(|n| n.starts_with("alerts.json.broken-")),
        "{names:?}"
    );
    let log = _d.log();
    assert!(log.contains("larger than alert state can be"), "{log}");
}

#[test]
fn a_receiver_that_never_answers_does_not_hold_up_the_cycle() {
    let peer = Peer::start(down());
    // Answers after two minutes: a delivery waited for in the cycle would stop the loop.
    let slow = Peer::start(Behaviour::ok().delayed(Duration::from_secs(120)));
    let alert = webhook(
        "slow",
        &slow.url("/hook"),
        "failure_threshold = 1\ntimeout = \"90s\"",
    );
    let site = site(&peer, "100ms", &alert);
    let d = start(&site, &[]);
    wait_until("the service down", WAIT, || {
        std::fs::read(site.out().join("status.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|v| v["services"][0]["status"] == "down")
    });
    // The message is due now; the loop goes on regardless.
    let c = d.health()["cycles"].as_u64().unwrap();
    d.wait_for_cycles(c + 30, WAIT);
}
