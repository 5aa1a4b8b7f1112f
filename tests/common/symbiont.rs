//! A fake Symbiont API on loopback: real HTTP, records every request, answers as told.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The task form's password and Symbiont's token in every test that needs them.
pub const PASSWORD: &str = "correct horse battery staple";
pub const TOKEN: &str = "sym-token-s3cret";

#[derive(Debug, Clone)]
pub enum Mode {
    /// `POST /task` → 200 `{"task_id": "t-N"}`; `GET /task/ID` → 200 progress: "completed"
    /// at once when ID ends with "done", else "running" (progress 0.5) for the first 2 GETs of
    /// that ID and "completed" (progress 1.0, result "all done") from the 3rd on.
    Normal,
    /// Every request gets this status and body (JSON content type).
    Status(u16, &'static str),
    /// 200 with a text body where JSON was expected.
    Text,
    /// Normal, after a delay.
    Slow(Duration),
    /// Bytes that are not HTTP at all.
    Garbage,
    /// A careless API that echoes secrets: `POST` → 401 `{"error": "invalid token: <the
    /// Authorization header>", …}`, `GET` → 200 progress whose fields (and a key) carry the
    /// header, the token and the task password, plain and percent-encoded.
    Echo,
    /// `POST` → 200 with a task id made of the Authorization header.
    EchoId,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct FakeSymbiont {
    pub addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// How many `GET /task/ID` each ID has had, in the modes that answer normally.
type Polls = Mutex<HashMap<String, usize>>;

impl FakeSymbiont {
    pub fn start() -> FakeSymbiont {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mode = Arc::new(Mutex::new(Mode::Normal));
        let received = Arc::new(Mutex::new(Vec::new()));
        let polls: Arc<Polls> = Arc::default();
        let (m, r) = (Arc::clone(&mode), Arc::clone(&received));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (m, r, p) = (Arc::clone(&m), Arc::clone(&r), Arc::clone(&polls));
                std::thread::spawn(move || serve(stream, &m, &r, &p));
            }
        });
        FakeSymbiont {
            addr,
            mode,
            received,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Starts the daemon with its task endpoint pointed here. `top` holds top-level config keys;
    /// `timeout` is how long the endpoint waits for Symbiont.
    pub fn daemon(
        &self,
        top: &str,
        timeout: &str,
        password: &str,
        token: &str,
    ) -> (super::Site, super::Daemon) {
        let site = super::Site::new(&format!(
            "{top}\n[tasks]\nsymbiont_url = \"{}\"\ntimeout = \"{timeout}\"\n",
            self.url()
        ));
        let mut cmd = site.command(&["run"]);
        cmd.env("STATUS_TASK_PASSWORD", password)
            .env("SYMBIONT_TOKEN", token);
        let daemon = site.start_with(cmd);
        (site, daemon)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(
    mut stream: TcpStream,
    mode: &Mutex<Mode>,
    received: &Mutex<Vec<Received>>,
    polls: &Polls,
) {
    let Some(head) = super::read_head(&mut stream) else {
        return;
    };
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0u8; length];
    if stream.read_exact(&mut body).is_err() {
        return;
    }
    let n = {
        let mut r = received.lock().unwrap();
        r.push(Received {
            method: method.clone(),
            target: target.clone(),
            headers,
            body,
        });
        r.len()
    };
    let mode = mode.lock().unwrap().clone();
    let (status, content_type, body) = match mode {
        Mode::Garbage => {
            let _ = stream.write_all(b"\x00\x01 this is not HTTP \xff\r\n\r\n");
            return;
        }
        Mode::Status(status, body) => (status, "application/json", body.to_string()),
        Mode::Text => (
            200,
            "text/plain",
            "Internal error, please retry\n".to_string(),
        ),
        Mode::Echo | Mode::EchoId => echo(&mode, &method, &headers_of(received, n)),
        Mode::Slow(d) => {
            std::thread::sleep(d);
            normal(&method, &target, n, polls)
        }
        Mode::Normal => normal(&method, &target, n, polls),
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn headers_of(received: &Mutex<Vec<Received>>, n: usize) -> Vec<(String, String)> {
    received.lock().unwrap()[n - 1].headers.clone()
}

fn echo(mode: &Mode, method: &str, headers: &[(String, String)]) -> (u16, &'static str, String) {
    let auth = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let encoded = |s: &str| s.replace(' ', "+");
    let body = match (mode, method) {
        (Mode::EchoId, "POST") => {
            return (
                200,
                "application/json",
                serde_json::json!({ "task_id": auth }).to_string(),
            );
        }
        (_, "POST") => serde_json::json!({
            "error": format!("invalid token: {auth} (the password was {PASSWORD}?)"),
        }),
        _ => serde_json::json!({
            "status": "running",
            "note": format!("called with {auth}; form: password={}", encoded(PASSWORD)),
            "list": [TOKEN, {"deep": PASSWORD}],
            TOKEN: "a key that is a secret",
        }),
    };
    let status = if method == "POST" { 401 } else { 200 };
    (status, "application/json", body.to_string())
}

fn normal(method: &str, target: &str, n: usize, polls: &Polls) -> (u16, &'static str, String) {
    if method == "POST" {
        (
            200,
            "application/json",
            format!("{{\"task_id\": \"t-{n}\"}}"),
        )
    } else {
        let id = target.rsplit('/').next().unwrap_or("");
        let body = if id.ends_with("done") {
            format!(
                "{{\"status\": \"completed\", \"progress\": 0.5, \"result\": \"ok\", \"id_seen\": \"{id}\"}}"
            )
        } else {
            let seen = {
                let mut polls = polls.lock().unwrap();
                let count = polls.entry(id.to_string()).or_default();
                *count += 1;
                *count
            };
            if seen <= 2 {
                format!("{{\"status\": \"running\", \"progress\": 0.5, \"id_seen\": \"{id}\"}}")
            } else {
                format!(
                    "{{\"status\": \"completed\", \"progress\": 1.0, \"result\": \"all done\", \"id_seen\": \"{id}\"}}"
                )
            }
        };
        (200, "application/json", body)
    }
}
