//! An HTTP receiver for alert tests, plain or TLS, that records every request (method, path,
//! headers, body) and answers with the statuses the test scripts (200 when none is left).

use super::tls::Issued;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    tls: bool,
    requests: Arc<Mutex<Vec<Recorded>>>,
    script: Arc<Mutex<(VecDeque<u16>, u16)>>,
}

impl Receiver {
    pub fn start() -> Receiver {
        Receiver::start_inner(None)
    }

    /// A receiver speaking TLS with `issued` (a certificate for "localhost").
    pub fn start_tls(issued: &Issued) -> Receiver {
        Receiver::start_inner(Some(issued.server_config()))
    }

    fn start_inner(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new((VecDeque::new(), 200)));
        let (reqs, scr, is_tls) = (Arc::clone(&requests), Arc::clone(&script), tls.is_some());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let (reqs, scr, tls) = (Arc::clone(&reqs), Arc::clone(&scr), tls.clone());
                std::thread::spawn(move || match tls {
                    None => serve(stream, &reqs, &scr),
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(conn, stream), &reqs, &scr);
                    }
                });
            }
        });
        Receiver {
            addr,
            tls: is_tls,
            requests,
            script,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// The next answers, in order; then `then` for every request after.
    pub fn answer(&self, next: &[u16], then: u16) {
        let mut s = self.script.lock().unwrap();
        s.0 = next.iter().copied().collect();
        s.1 = then;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests came, and returns them all.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let start = Instant::now();
        loop {
            let got = self.requests();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < timeout,
                "waited {timeout:?} for {n} requests, got {}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(
    mut io: impl Read + Write,
    reqs: &Mutex<Vec<Recorded>>,
    script: &Mutex<(VecDeque<u16>, u16)>,
) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match io.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let len = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if io.read_exact(&mut body).is_err() {
        return;
    }
    let status = {
        let mut s = script.lock().unwrap();
        let then = s.1;
        s.0.pop_front().unwrap_or(then)
    };
    reqs.lock().unwrap().push(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let answer = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{{\"ok\":true}}"
    );
    let _ = io.write_all(answer.as_bytes());
    let _ = io.flush();
}
