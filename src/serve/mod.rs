//! On the side, serve: the HTTP listener (`/healthz`, the preview of `out_dir`, `/api/tasks`).
//!
//! It owns the listener and its bounds, the routes ([`preview`], [`tasks`]), and the one place
//! an error becomes an HTTP status ([`response`], [`tasks::ApiError`]). It takes the config and
//! a [`Health`] the daemon updates after each cycle; it hands on HTTP responses. It must not
//! run a cycle, read the history or block the runtime's thread: a slow client stalls only its
//! own connection, never a cycle.
//!
//! The one HTTP listener (hyper, HTTP/1.1, on `[api] listen`): `/api/*` routes, and the preview
//! of `out_dir` when `[api] serve_public` is on.
//!
//! It runs on the daemon's own runtime, one task per connection and no thread of its own: a
//! thousand idle connections are a thousand small futures, not a thousand threads. A slow client
//! stalls only its own task; a cycle never waits on the listener because handlers do no blocking
//! work on the runtime's thread (file reads go to the blocking pool, Symbiont is awaited). What
//! holds a hostile or broken client to a bounded cost:
//!
//! - a request head over [`MAX_HEAD`] gets 431 and the connection is closed;
//! - a head (the first, or the next on a kept-alive connection) must arrive within
//!   [`HEAD_TIMEOUT`], so idle and slow-header connections are closed;
//! - every write must make progress within [`WRITE_TIMEOUT`] ([`io::TimedIo`]), so a client that
//!   never reads its answers is dropped;
//! - at most [`MAX_CONNECTIONS`] connections at once (fewer if the descriptor limit is low);
//!   past that a new connection gets a one-shot 503 and is closed at once.
//!
//! Every answer under `/api/` is JSON, errors included (`{"error": "…"}`).

pub mod heartbeat;
pub mod preview;
pub mod response;
pub mod tasks;

mod io;

use response::{ApiError, PageError};
use tasks::TaskApi;

use chrono::{DateTime, Utc};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

/// A request head (request line and headers) larger than this gets 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// How long a client has to send a whole request head, from the moment we wait for one: on a
/// new connection, and between requests on a kept-alive one (so it is also the idle timeout).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body (a task's prompt) may take to arrive.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one write may make no progress before the connection is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once, at most; the descriptor limit may lower it (see [`connection_cap`]).
pub const MAX_CONNECTIONS: usize = crate::net::fdlimit::LISTENER_CONNECTIONS as usize;
/// Descriptors kept free for everything else the process opens (probes, publish, history).
const FD_RESERVE: u64 = crate::net::fdlimit::RESERVE;
/// How long a stop waits for answers in flight.
const DRAIN: Duration = Duration::from_secs(1);

pub use response::Body;

/// What `/api/health` reports; the loop updates it after each cycle, and the cycle updates the
/// failing alert channels as it reads them for `errors` (before publishing).
#[derive(Debug, Default)]
pub struct Health {
    publish: Mutex<PublishState>,
    cycles: AtomicU64,
    last_cycle_micros: AtomicU64,
    /// Alert channels whose last message finally failed: (alert, why).
    alerts_failing: Mutex<Vec<(String, String)>>,
}

#[derive(Debug, Default)]
struct PublishState {
    /// When the last snapshot was made, published or not: the loop is alive.
    last_snapshot: Option<DateTime<Utc>>,
    /// The last snapshot whose every output was written.
    last_publish_ok: Option<DateTime<Utc>>,
    /// Why the last cycle's outputs were not all written; `None` when they were.
    failure: Option<String>,
}

impl Health {
    /// `failure` says why the cycle's outputs were not all written (`None`: they were).
    pub fn record(
        &self,
        generated_at: DateTime<Utc>,
        failure: Option<&str>,
        took: std::time::Duration,
    ) {
        self.cycles.fetch_add(1, Ordering::Relaxed);
        self.last_cycle_micros
            .store(took.as_micros() as u64, Ordering::Relaxed);
        let mut state = self.publish.lock().unwrap_or_else(|p| p.into_inner());
        state.last_snapshot = Some(generated_at);
        state.failure = failure.map(str::to_string);
        if failure.is_none() {
            state.last_publish_ok = Some(generated_at);
        }
    }

    /// The alert channels failing now (empty when all deliver).
    pub fn set_alerts_failing(&self, failing: Vec<(String, String)>) {
        let mut now = self
            .alerts_failing
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if *now != failing {
            *now = failing;
        }
    }

    fn to_json(&self) -> serde_json::Value {
        let state = self.publish.lock().unwrap_or_else(|p| p.into_inner());
        let status = match (&state.failure, state.last_snapshot) {
            (Some(_), _) => "error",
            (None, Some(_)) => "ok",
            (None, None) => "starting",
        };
        let mut body = json!({
            "status": status,
            "last_snapshot": state.last_snapshot.as_ref().map(crate::snapshot::format_time),
            "last_publish_ok": state.last_publish_ok.as_ref().map(crate::snapshot::format_time),
            "cycles": self.cycles.load(Ordering::Relaxed),
            "last_cycle_ms": self.last_cycle_micros.load(Ordering::Relaxed) as f64 / 1000.0,
        });
        if let Some(reason) = &state.failure {
            body["reason"] = json!(reason);
        }
        let failing = self
            .alerts_failing
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        body["alerts_failing"] = failing
            .iter()
            .map(|(alert, error)| json!({"alert": alert, "error": error}))
            .collect();
        body
    }
}

/// The task endpoint in use; a config reload puts a new one in.
pub type TaskSlot = std::sync::RwLock<Arc<TaskApi>>;

/// The listener's task on the runtime; [`Server::stop`] ends it.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// What every connection's requests are answered from.
struct App {
    public_dir: Option<PathBuf>,
    health: Arc<Health>,
    tasks: Arc<TaskSlot>,
}

impl Server {
    /// Binds `listen` (port 0 picks a free port; see [`Server::addr`]) and starts serving on the
    /// current runtime.
    pub fn start(
        listen: SocketAddr,
        public_dir: Option<PathBuf>,
        health: Arc<Health>,
        tasks: Arc<TaskSlot>,
    ) -> anyhow::Result<Server> {
        let bind = || -> std::io::Result<tokio::net::TcpListener> {
            let socket = if listen.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.bind(listen)?;
            // A burst of connections waits in the kernel's queue rather than being refused.
            socket.listen(1024)
        };
        let listener = bind().map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr()?;
        let app = Arc::new(App {
            public_dir,
            health,
            tasks,
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, app, connection_cap(), stopped));
        Ok(Server {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// Stops accepting, gives answers in flight a moment to finish, and returns.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// How many connections may be open at once: [`MAX_CONNECTIONS`], or fewer when the descriptor
/// limit would run out first. The soft limit was raised to the hard one first
/// ([`crate::net::fdlimit::raise`]; systemd's default soft limit is 1024): a listener that runs
/// out of descriptors cannot even refuse cleanly.
fn connection_cap() -> usize {
    let soft = crate::net::fdlimit::raise().soft;
    let cap = soft.map_or(MAX_CONNECTIONS as u64, |s| {
        s.saturating_sub(FD_RESERVE).min(MAX_CONNECTIONS as u64)
    });
    let cap = (cap as usize).max(8);
    if cap < MAX_CONNECTIONS {
        tracing::warn!(
            "the descriptor limit ({}) allows {cap} connections at once, not {MAX_CONNECTIONS}",
            soft.unwrap_or(0)
        );
    }
    cap
}

/// The accept loop: one task per connection, at most `cap` at once.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    cap: usize,
    mut stopped: oneshot::Receiver<()>,
) {
    let limit = Arc::new(Semaphore::new(cap));
    let mut http = http1::Builder::new();
    // Without a timer hyper silently drops its header timeout.
    http.timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_header_size(MAX_HEAD)
        // The read buffer must hold a whole head below the limit; it bounds the write buffer too.
        .max_buf_size(MAX_HEAD + 16 * 1024);
    let graceful = GracefulShutdown::new();
    let mut warned: Option<Instant> = None;
    // Says a problem at most once a minute: an attack must not flood the log either.
    let mut warn = |what: &dyn std::fmt::Display| {
        if warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            tracing::warn!("{what}");
            warned = Some(Instant::now());
        }
    };
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of descriptors or buffers: the pending connection stays queued. Wait
                // rather than spin on the same error.
                warn(&format_args!("cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            warn(&format_args!(
                "{cap} connections are open; refusing new ones until some close"
            ));
            refuse(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = Arc::clone(&app);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app);
            async move { Ok::<_, std::convert::Infallible>(app.route(request, peer).await) }
        });
        let io = TokioIo::new(io::TimedIo::new(tcp, WRITE_TIMEOUT));
        let connection = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            // Timeouts, resets and 431s end up here; they are the client's business.
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("some connections were still busy at shutdown");
    }
}

/// Answers a connection over the cap with a 503 if its send buffer takes it at once (it always
/// does on a new socket), and closes it. Never waits.
fn refuse(tcp: tokio::net::TcpStream) {
    const BODY: &str = "{\"error\": \"too many connections; try again in a moment\"}\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
         Cache-Control: no-store\r\nRetry-After: 1\r\nConnection: close\r\n\
         Content-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tcp.try_write(answer.as_bytes());
}

impl App {
    async fn route(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let path = request.uri().path().to_string();
        if tasks::is_task_path(&path) {
            let api = Arc::clone(&self.tasks.read().unwrap_or_else(|e| e.into_inner()));
            return api.handle(request, peer).await;
        }
        if path.starts_with(heartbeat::PREFIX) {
            return heartbeat::handle(request, peer).await;
        }
        let method = request.method().clone();
        if path == "/api" || path.starts_with("/api/") {
            return match (path.as_str(), &method) {
                ("/api/health", &Method::GET | &Method::HEAD) => {
                    response::json(StatusCode::OK, &self.health.to_json())
                }
                ("/api/health", _) => ApiError::GetOnly("/api/health").into_response(),
                _ => ApiError::NotFound(path).into_response(),
            };
        }
        let Some(dir) = self.public_dir.clone() else {
            return ApiError::NotServed.into_response();
        };
        if method != Method::GET && method != Method::HEAD {
            return PageError::MethodNotAllowed.into_response();
        }
        let target = request
            .uri()
            .path_and_query()
            .map_or_else(|| path.clone(), |p| p.as_str().to_string());
        let wanted = preview::Conditions::of(request.headers(), method == Method::HEAD);
        // Opening and reading a file may block (a cold disk); not on the runtime's thread.
        let found =
            tokio::task::spawn_blocking(move || preview::response(&dir, &target, &wanted)).await;
        match found {
            Ok(Some(response)) => response,
            Ok(None) => PageError::NotFound.into_response(),
            Err(e) => {
                tracing::error!("serving {path} failed: {e}");
                PageError::Internal.into_response()
            }
        }
    }
}
