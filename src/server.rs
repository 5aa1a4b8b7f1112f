//! The one HTTP listener (tiny_http on `[api] listen`): `/api/*` routes, and the preview of
//! `out_dir` when `[api] serve_public` is on.
//!
//! It runs on its own thread, apart from the snapshot loop, so a slow client never delays a
//! cycle. Every answer under `/api/` is JSON, errors included (`{"error": "…"}`).

use crate::preview;
use crate::tasks::{self, TaskApi};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tiny_http::{Header, Method, Request, Response, StatusCode};

/// What `/api/health` reports; the loop updates it after each cycle.
#[derive(Debug, Default)]
pub struct Health {
    last_good: Mutex<Option<DateTime<Utc>>>,
    cycles: AtomicU64,
    last_cycle_micros: AtomicU64,
}

impl Health {
    pub fn record(&self, generated_at: DateTime<Utc>, published: bool, took: std::time::Duration) {
        self.cycles.fetch_add(1, Ordering::Relaxed);
        self.last_cycle_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        if published {
            *self.last_good.lock().unwrap_or_else(|p| p.into_inner()) = Some(generated_at);
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let last_good = *self.last_good.lock().unwrap_or_else(|p| p.into_inner());
        json!({
            "status": if last_good.is_some() { "ok" } else { "starting" },
            "last_snapshot": last_good.as_ref().map(crate::snapshot::format_time),
            "cycles": self.cycles.load(Ordering::Relaxed),
            "last_cycle_ms": self.last_cycle_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        })
    }
}

/// The task endpoint in use; a config reload puts a new one in.
pub type TaskSlot = std::sync::RwLock<Arc<TaskApi>>;

pub struct Server {
    inner: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub addr: SocketAddr,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port; see [`Server::addr`]) and starts serving.
    pub fn start(
        listen: SocketAddr,
        public_dir: Option<PathBuf>,
        health: Arc<Health>,
        tasks: Arc<TaskSlot>,
    ) -> anyhow::Result<Server> {
        let inner = tiny_http::Server::http(listen)
            .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = inner
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("{listen} is not an IP address"))?;
        let inner = Arc::new(inner);
        let serving = Arc::clone(&inner);
        let thread = std::thread::Builder::new()
            .name("http".into())
            .spawn(move || {
                for request in serving.incoming_requests() {
                    handle(request, public_dir.as_deref(), &health, &tasks);
                }
            })?;
        Ok(Server {
            inner,
            thread: Some(thread),
            addr,
        })
    }

    /// Stops accepting requests and waits for the serving thread to end.
    pub fn stop(mut self) {
        self.inner.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(
    request: Request,
    public_dir: Option<&std::path::Path>,
    health: &Health,
    task_api: &TaskSlot,
) {
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or("");
    let method = request.method().clone();
    if tasks::is_task_path(path) {
        // Answered on a thread of its own: Symbiont may be slow, this thread must not be.
        let api = Arc::clone(&task_api.read().unwrap_or_else(|e| e.into_inner()));
        api.dispatch(request);
        return;
    }
    if path == "/api" || path.starts_with("/api/") {
        let (status, body) = match (path, &method) {
            ("/api/health", Method::Get | Method::Head) => (200, health.to_json()),
            ("/api/health", _) => (405, json!({"error": "use GET for /api/health"})),
            _ => (404, json!({"error": format!("no such endpoint: {path}")})),
        };
        respond(request, json_response(status, &body));
        return;
    }
    let Some(dir) = public_dir else {
        respond(
            request,
            json_response(
                404,
                &json!({"error": "this server only answers /api/ (serve_public is off)"}),
            ),
        );
        return;
    };
    if !matches!(method, Method::Get | Method::Head) {
        let mut r = text_response(405, "405 method not allowed\n");
        r.add_header(header("Allow", "GET, HEAD"));
        respond(request, r);
        return;
    }
    match preview::response(dir, &request) {
        Some(response) => respond(request, response),
        None => respond(request, text_response(404, "404 not found\n")),
    }
}

fn respond(request: Request, response: Response<Box<dyn std::io::Read + Send>>) {
    // A client that hung up is not our problem, and must not end the serving thread.
    if let Err(e) = request.respond(response) {
        tracing::debug!("response not delivered: {e}");
    }
}

pub(crate) fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("static header is valid")
}

/// Every `/api/` answer: JSON, never cached.
pub(crate) fn json_response(
    status: u16,
    body: &serde_json::Value,
) -> Response<Box<dyn std::io::Read + Send>> {
    let mut bytes = serde_json::to_vec(body).expect("JSON value serialises");
    bytes.push(b'\n');
    Response::from_data(bytes)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("Cache-Control", "no-store"))
        .boxed()
}

fn text_response(status: u16, text: &str) -> Response<Box<dyn std::io::Read + Send>> {
    Response::from_string(text)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
        .boxed()
}
