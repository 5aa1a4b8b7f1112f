//! The task endpoint against a fake Symbiont that speaks real HTTP and records what it gets.

use crate::common::symbiont::{FakeSymbiont, Mode, PASSWORD, TOKEN};
use crate::common::{Daemon, Reply, Site, request};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Setup {
    site: Site,
    daemon: Daemon,
    symbiont: FakeSymbiont,
}

/// The daemon with tasks configured; `timeout` is how long it waits for Symbiont.
fn setup_with(timeout: &str) -> Setup {
    let symbiont = FakeSymbiont::start();
    let top = "interval = \"1s\"\npublic_url = \"https://status.example.net\"";
    let (site, daemon) = symbiont.daemon(top, timeout, PASSWORD, TOKEN);
    Setup {
        site,
        daemon,
        symbiont,
    }
}

fn setup() -> Setup {
    setup_with("1s")
}

fn submit(s: &Setup, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    request(s.daemon.addr(), "POST", "/api/tasks", headers, body)
}

/// An authorised JSON submission, as the form sends it.
fn post_json(addr: std::net::SocketAddr, body: &[u8]) -> Reply {
    let a = auth();
    request(
        addr,
        "POST",
        "/api/tasks",
        &[("Authorization", &a), ("Content-Type", "application/json")],
        body,
    )
}

fn auth() -> String {
    format!("Bearer {PASSWORD}")
}

fn json_of(r: &Reply) -> Value {
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

#[test]
fn a_prompt_is_forwarded_byte_for_byte_with_the_token_as_bearer() {
    let s = setup();
    let prompt = "Résumé: \"quotes\", 'single', back\\slash\nnew line\ttab — 日本語 🚀";
    let body = serde_json::to_vec(&json!({ "prompt": prompt })).unwrap();
    let a = auth();
    let r = submit(
        &s,
        &[("Authorization", &a), ("Content-Type", "application/json")],
        &body,
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(json_of(&r), json!({"task_id": "t-1"}));
    let got = s.symbiont.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("POST", "/task")
    );
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let sent: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(
        sent,
        json!({ "prompt": prompt }),
        "the prompt arrives exactly, and nothing else"
    );
    assert!(
        !got[0].target.contains(TOKEN) && !String::from_utf8_lossy(&got[0].body).contains(TOKEN)
    );
    assert!(
        !got[0]
            .body
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password stays here"
    );

    // A form body works the same.
    let r = submit(
        &s,
        &[
            ("Authorization", &a),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"prompt=caf%C3%A9+%26+more",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let sent: Value = serde_json::from_slice(&s.symbiont.received()[1].body).unwrap();
    assert_eq!(sent["prompt"], "café & more");

    // Neither secret reaches the log or out_dir.
    let log = s.daemon.log();
    assert!(!log.contains(PASSWORD) && !log.contains(TOKEN), "{log}");
    for entry in walk(&s.site.out()) {
        // A publish's temporary file may be renamed away between listing and reading.
        let Ok(text) = std::fs::read(&entry) else {
            continue;
        };
        assert!(
            !text.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "{entry:?}"
        );
        assert!(
            !text
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{entry:?}"
        );
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
fn progress_is_relayed_and_normalised() {
    let s = setup();
    let a = auth();
    let r = request(
        s.daemon.addr(),
        "GET",
        "/api/tasks/t-7-done",
        &[("Authorization", &a)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(v["task_id"], "t-7-done");
    assert_eq!(v["status"], "completed");
    assert_eq!(v["progress"], 0.5, "Symbiont's other fields are kept");
    let got = s.symbiont.received();
    assert_eq!(
        (got[0].method.as_str(), got[0].target.as_str()),
        ("GET", "/task/t-7-done")
    );
    assert_eq!(
        got[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[test]
fn every_refusal_has_its_status_and_a_message() {
    let s = setup();
    let a = auth();
    let ok_json = br#"{"prompt": "hi"}"#;
    let big_prompt = serde_json::to_vec(&json!({ "prompt": "x".repeat(17 * 1024) })).unwrap();
    let big_body = vec![b'x'; 65 * 1024];
    // (method, target, headers, body, expected status, a word the message must contain)
    type Case<'a> = (
        &'a str,
        &'a str,
        Vec<(&'a str, &'a str)>,
        &'a [u8],
        u16,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/api/tasks",
            vec![("Content-Type", "application/json")],
            ok_json,
            401,
            "password",
        ),
        (
            "POST",
            "/api/tasks",
            vec![
                ("Authorization", "Bearer nope"),
                ("Content-Type", "application/json"),
            ],
            ok_json,
            401,
            "password",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a), ("Content-Type", "text/plain")],
            ok_json,
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a)],
            ok_json,
            415,
            "application/json",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a), ("Content-Type", "application/json")],
            &big_body,
            413,
            "64 KiB",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a), ("Content-Type", "application/json")],
            &big_prompt,
            413,
            "16 KiB",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a), ("Content-Type", "application/json")],
            b"{not json",
            400,
            "JSON",
        ),
        (
            "POST",
            "/api/tasks",
            vec![("Authorization", &a), ("Content-Type", "application/json")],
            br#"{"prompt": "  "}"#,
            400,
            "empty",
        ),
        (
            "POST",
            "/api/tasks",
            vec![
                ("Authorization", &a),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"other=1",
            400,
            "prompt",
        ),
        (
            "GET",
            "/api/tasks",
            vec![("Authorization", &a)],
            b"",
            405,
            "POST",
        ),
        (
            "DELETE",
            "/api/tasks/t-1",
            vec![("Authorization", &a)],
            b"",
            405,
            "GET",
        ),
    ];
    for (method, target, headers, body, status, word) in cases {
        let r = request(s.daemon.addr(), method, target, &headers, body);
        assert_eq!(
            r.status,
            status,
            "{method} {target} {headers:?}: {}",
            r.text()
        );
        let error = json_of(&r)["error"].as_str().unwrap().to_string();
        assert!(error.contains(word), "{status}: {error:?} lacks {word:?}");
    }
    assert!(
        s.symbiont.received().is_empty(),
        "no refused request reached Symbiont"
    );
}

#[test]
fn symbiont_failures_are_relayed_not_swallowed() {
    let s = setup();
    let a = auth();
    let headers = [
        ("Authorization", a.as_str()),
        ("Content-Type", "application/json"),
    ];
    let body = br#"{"prompt": "hi"}"#;
    s.symbiont
        .set(Mode::Status(401, r#"{"error": "invalid token"}"#));
    let r = submit(&s, &headers, body);
    assert_eq!(r.status, 502, "a 401 from Symbiont is never a success");
    let v = json_of(&r);
    assert_eq!(v["error"], "Symbiont answered 401: invalid token");
    assert_eq!(v["symbiont_status"], 401);
    s.symbiont.set(Mode::Status(500, "oops, not json"));
    let v = json_of(&submit(&s, &headers, body));
    assert_eq!(v["error"], "Symbiont answered 500: oops, not json");
    s.symbiont.set(Mode::Text);
    let r = submit(&s, &headers, body);
    assert_eq!(r.status, 502);
    assert!(
        json_of(&r)["error"]
            .as_str()
            .unwrap()
            .contains("not a JSON object")
    );
    s.symbiont.set(Mode::Garbage);
    let r = submit(&s, &headers, body);
    assert_eq!(r.status, 502);
    let error = json_of(&r)["error"].as_str().unwrap().to_string();
    assert!(error.contains("not a valid HTTP response"), "{error}");
    s.symbiont.set(Mode::Slow(Duration::from_secs(3)));
    let r = submit(&s, &headers, body);
    assert_eq!(r.status, 504);
    assert_eq!(json_of(&r)["error"], "Symbiont did not answer within 1s");
}

#[test]
fn an_unreachable_symbiont_or_a_missing_password_say_so() {
    let closed = crate::common::peer::closed_port();
    let site = Site::new(&format!(
        "interval = \"1s\"\n[tasks]\nsymbiont_url = \"http://{closed}\"\n"
    ));
    let mut cmd = site.command(&["run"]);
    cmd.env("STATUS_TASK_PASSWORD", PASSWORD);
    let daemon = site.start_with(cmd);
    let r = post_json(daemon.addr(), br#"{"prompt":"x"}"#);
    assert_eq!(r.status, 502);
    assert!(
        json_of(&r)["error"]
            .as_str()
            .unwrap()
            .starts_with("Symbiont cannot be reached: cannot connect")
    );

    let site = Site::new("interval = \"1s\"\n");
    let daemon = site.start();
    let r = post_json(daemon.addr(), br#"{"prompt":"x"}"#);
    assert_eq!(r.status, 503);
    assert!(
        json_of(&r)["error"]
            .as_str()
            .unwrap()
            .contains("STATUS_TASK_PASSWORD")
    );
}

#[test]
fn the_origin_matrix() {
    let s = setup();
    let a = auth();
    let body = br#"{"prompt": "hi"}"#;
    let host = s.daemon.addr().to_string();
    let same = format!("http://{host}");
    for (origin, status) in [
        (None, 202),
        (Some("https://status.example.net"), 202),
        (Some("https://status.example.net:443"), 202),
        (Some(same.as_str()), 202),
        (Some("https://evil.example"), 403),
        (Some("http://status.example.net"), 403),
        (Some("null"), 403),
    ] {
        let mut headers = vec![
            ("Authorization", a.as_str()),
            ("Content-Type", "application/json"),
        ];
        if let Some(o) = origin {
            headers.push(("Origin", o));
        }
        let r = submit(&s, &headers, body);
        assert_eq!(r.status, status, "Origin {origin:?}: {}", r.text());
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "no CORS is opened"
        );
    }
}

#[test]
fn ids_that_could_change_the_path_never_reach_symbiont() {
    let s = setup();
    let a = auth();
    let long = format!("/api/tasks/{}", "x".repeat(129));
    for target in [
        "/api/tasks/..",
        "/api/tasks/../task",
        "/api/tasks/%2e%2e",
        "/api/tasks/a%2fb",
        "/api/tasks/a/b",
        long.as_str(),
    ] {
        let r = request(
            s.daemon.addr(),
            "GET",
            target,
            &[("Authorization", &a)],
            b"",
        );
        assert_eq!(r.status, 400, "{target}: {}", r.text());
    }
    // A query is not part of the id, and is not passed on.
    let r = request(
        s.daemon.addr(),
        "GET",
        "/api/tasks/t-1?x=1",
        &[("Authorization", &a)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let targets: Vec<String> = s
        .symbiont
        .received()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(targets, vec!["/task/t-1"]);
}

#[test]
fn fifty_concurrent_submissions_are_each_forwarded_once() {
    let s = setup();
    let addr = s.daemon.addr();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            std::thread::spawn(move || {
                let body = serde_json::to_vec(&json!({ "prompt": format!("prompt {i}") })).unwrap();
                post_json(addr, &body).status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    let mut prompts: Vec<String> = s
        .symbiont
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["prompt"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    prompts.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("prompt {i}")).collect();
    expected.sort();
    assert_eq!(prompts, expected, "each exactly once");
}

#[test]
fn the_rate_limit_holds_per_address() {
    let s = setup();
    let body = br#"{"prompt": "hi"}"#;
    // The test connects from loopback, a trusted proxy: X-Forwarded-For names the client.
    let from = |ip: &'static str, password: &str| {
        let authz = format!("Bearer {password}");
        submit(
            &s,
            &[
                ("Authorization", &authz),
                ("Content-Type", "application/json"),
                ("X-Forwarded-For", ip),
            ],
            body,
        )
    };
    for _ in 0..5 {
        assert_eq!(from("198.51.100.1", "wrong").status, 401);
    }
    let r = from("198.51.100.1", PASSWORD);
    assert_eq!(r.status, 429, "locked out, even with the right password");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert!(
        json_of(&r)["error"]
            .as_str()
            .unwrap()
            .contains("try again in")
    );
    assert_eq!(
        from("198.51.100.2", PASSWORD).status,
        202,
        "another address still works"
    );
}

#[test]
fn health_answers_while_requests_wait_on_a_slow_symbiont() {
    let s = setup_with("10s");
    // Health says "ok" from the first publish on; under load that may take a while.
    s.daemon.wait_for_cycles(1, Duration::from_secs(20));
    s.symbiont.set(Mode::Slow(Duration::from_secs(3)));
    let addr = s.daemon.addr();
    let waiting: Vec<_> = (0..20)
        .map(|_| std::thread::spawn(move || post_json(addr, br#"{"prompt":"slow"}"#).status))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let h = s.daemon.health();
    let took = start.elapsed();
    assert_eq!(h["status"], "ok", "{h}");
    // A bound, not a timing: the slow calls take 3 s each; health must not queue behind them.
    assert!(took < Duration::from_secs(2), "health took {took:?}");
    let statuses: Vec<u16> = waiting.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
}

/// A Symbiont that echoes what it was sent: neither the token nor the password may reach the
/// client (error, progress, task id) or the log.
#[test]
fn an_echoing_symbiont_never_gets_a_secret_relayed() {
    let s = setup();
    let a = auth();
    let encoded = PASSWORD.replace(' ', "+");
    let secrets = [PASSWORD, TOKEN, encoded.as_str()];
    let leaks = |what: &str, text: &str| {
        for secret in secrets {
            assert!(!text.contains(secret), "{what} holds {secret:?}: {text}");
        }
    };
    s.symbiont.set(Mode::Echo);
    let r = post_json(s.daemon.addr(), br#"{"prompt": "hi"}"#);
    assert_eq!(r.status, 502, "{}", r.text());
    let error = json_of(&r)["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("invalid token: Bearer [redacted]"),
        "{error}"
    );
    leaks("the error", &r.text());

    let r = request(
        s.daemon.addr(),
        "GET",
        "/api/tasks/t-1",
        &[("Authorization", &a)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(v["status"], "running");
    assert!(v["note"].as_str().unwrap().contains("[redacted]"), "{v}");
    leaks("the progress", &r.text());

    s.symbiont.set(Mode::EchoId);
    let r = post_json(s.daemon.addr(), br#"{"prompt": "hi"}"#);
    assert_eq!(r.status, 202, "{}", r.text());
    leaks("the task id", &r.text());

    // The fake did get the token: the echo was real.
    assert!(
        s.symbiont
            .received()
            .iter()
            .all(|r| r.header("authorization") == Some(format!("Bearer {TOKEN}").as_str()))
    );
    std::thread::sleep(Duration::from_millis(200));
    leaks("the log", &s.daemon.log());
}
