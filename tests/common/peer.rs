//! HTTP peers on loopback that a test starts and steers: up, slow, failing, hanging, or not
//! speaking HTTP at all. Each connection is answered on its own thread and closed after one
//! response, so a slow answer never holds up another.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Answer with this status, content type and body after `delay`.
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
        delay: Duration,
    },
    /// Write bytes that are not HTTP, then close.
    Garbage,
}

impl Behaviour {
    pub fn json(status: u16, body: &str) -> Behaviour {
        Behaviour::Answer {
            status,
            content_type: "application/json",
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok() -> Behaviour {
        Behaviour::json(200, r#"{"status":"ok"}"#)
    }

    pub fn delayed(self, by: Duration) -> Behaviour {
        match self {
            Behaviour::Answer {
                status,
                content_type,
                body,
                ..
            } => Behaviour::Answer {
                status,
                content_type,
                body,
                delay: by,
            },
            other => other,
        }
    }
}

pub struct Peer {
    pub addr: SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
    hits: Arc<AtomicUsize>,
    load: Arc<Load>,
}

/// Requests being answered at once: now, and the most since the last [`Peer::reset_most`].
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Peer {
    pub fn start(behaviour: Behaviour) -> Peer {
        Peer::start_with(behaviour, false)
    }

    /// A peer that answers `200 {"status":"ok"}` and keeps each connection open for the next
    /// request (HTTP/1.1 keep-alive), as most real services do: a prober may keep them, and
    /// must bound how many it does.
    pub fn keep_alive() -> Peer {
        Peer::start_with(Behaviour::ok(), true)
    }

    fn start_with(behaviour: Behaviour, keep_alive: bool) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let behaviour = Arc::new(Mutex::new(behaviour));
        let hits = Arc::new(AtomicUsize::new(0));
        let load = Arc::new(Load::default());
        let (b, h, l) = (Arc::clone(&behaviour), Arc::clone(&hits), Arc::clone(&load));
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (b, h, l) = (Arc::clone(&b), Arc::clone(&h), Arc::clone(&l));
                std::thread::spawn(move || serve(stream, &b, &h, &l, keep_alive));
            }
        });
        Peer {
            addr,
            behaviour,
            hits,
            load,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The most requests answered at once since the last [`Peer::reset_most`] (or the start).
    pub fn most_at_once(&self) -> usize {
        self.load.most.load(Ordering::SeqCst)
    }

    pub fn reset_most(&self) {
        self.load.most.store(0, Ordering::SeqCst);
    }
}

/// An address where nothing listens (bound, then released).
pub fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn serve(
    mut stream: TcpStream,
    behaviour: &Mutex<Behaviour>,
    hits: &AtomicUsize,
    load: &Load,
    keep_alive: bool,
) {
    if keep_alive {
        // One request after another on the same connection, until the client closes it.
        while super::read_head(&mut stream).is_some() {
            hits.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"status":"ok"}"#;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
        return;
    }
    if super::read_head(&mut stream).is_none() {
        return;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
    load.most.fetch_max(now, Ordering::SeqCst);
    answer(stream, behaviour);
    load.now.fetch_sub(1, Ordering::SeqCst);
}

fn answer(mut stream: TcpStream, behaviour: &Mutex<Behaviour>) {
    let behaviour = behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Garbage => {
            let _ = stream.write_all(b"\x00\xffthis is not HTTP at all\r\n\r\n\x7f");
        }
        Behaviour::Answer {
            status,
            content_type,
            body,
            delay,
        } => {
            std::thread::sleep(delay);
            let response = format!(
                "HTTP/1.1 {status} Whatever\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    }
}
