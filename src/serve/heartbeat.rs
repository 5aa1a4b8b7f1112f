//! `POST /api/heartbeat/{slug}`: a job says it ran (healthchecks.io's conventions).
//!
//! `…/{slug}` is a success, `…/{slug}/start` the start of a run (its duration is measured to
//! the next success or failure), `…/{slug}/fail` a failure, and `?exit=N` a job's exit status
//! (0 a success, anything else a failure). The service's token comes as
//! `Authorization: Bearer`; a wrong one is 401 and counts toward the same per-address limit as
//! the task endpoint's passwords (429 after a few). GET is taken too, as healthchecks.io does,
//! so `curl` lines port over. The body (a job's log, for healthchecks.io) is not read.
//!
//! It owns the route; what a ping means and where it is kept is `sense::probe::heartbeat`.

use super::Body;
use super::response::{ApiError, json};
use super::tasks::guard;
use crate::sense::probe::heartbeat::{self, Refused, Signal};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

/// The route's prefix.
pub const PREFIX: &str = "/api/heartbeat/";

fn limiter() -> &'static guard::Limiter {
    static LIMITER: OnceLock<guard::Limiter> = OnceLock::new();
    LIMITER.get_or_init(guard::Limiter::default)
}

fn trusted() -> &'static RwLock<Vec<IpAddr>> {
    static TRUSTED: OnceLock<RwLock<Vec<IpAddr>>> = OnceLock::new();
    TRUSTED.get_or_init(|| RwLock::new(Vec::new()))
}

/// Takes a (new) config: the heartbeat services and their tokens, the last pings from
/// `state_dir`, and the proxies whose `X-Forwarded-For` names the client. Returns a problem
/// for the log.
pub fn configure(config: &crate::config::Config) -> Option<String> {
    *trusted().write().unwrap_or_else(|p| p.into_inner()) = config.api.trusted_proxies.clone();
    heartbeat::store().configure(&config.state_dir, &config.services)
}

pub async fn handle(request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    match answer(&request, peer) {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Err(e) => e.into_response(),
    }
}

fn answer(request: &Request<Incoming>, peer: SocketAddr) -> Result<(), ApiError> {
    let path = request.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let (slug, action) = match rest.split_once('/') {
        Some((slug, action)) => (slug, action),
        None => (rest, ""),
    };
    if !matches!(
        request.method(),
        &Method::POST | &Method::GET | &Method::HEAD
    ) {
        return Err(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow: "POST",
        });
    }
    let exit = match request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("exit=")))
    {
        None => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| {
            ApiError::BadRequest(format!(
                "exit must be a whole number (the job's exit status), not {:?}",
                crate::redact::clip(n, 20)
            ))
        })?),
    };
    let signal = match (action, exit) {
        ("", None | Some(0)) => Signal::Success(exit),
        ("", Some(n)) => Signal::Fail(Some(n)),
        ("start", _) => Signal::Start,
        ("fail", e) => Signal::Fail(e),
        _ => return Err(ApiError::NotFound(crate::redact::clip(path, 200))),
    };
    let headers = request.headers();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let trusted = trusted().read().unwrap_or_else(|p| p.into_inner()).clone();
    let client = guard::client_address(Some(&peer), header("x-forwarded-for"), &trusted)
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let now = Instant::now();
    limiter()
        .check(client, now)
        .map_err(ApiError::TooManyAttempts)?;
    let token = guard::bearer(header("authorization"));
    match heartbeat::store().ping(slug, token, signal, chrono::Utc::now()) {
        Ok(()) => Ok(()),
        Err(Refused::Unknown) => Err(ApiError::NotFound(format!(
            "no heartbeat service has the slug {:?}",
            crate::redact::clip(slug, 100)
        ))),
        Err(Refused::NoToken) => Err(ApiError::NotFound(format!(
            "the heartbeat {:?} has no token, so it takes no pings over HTTP (it watches its path)",
            crate::redact::clip(slug, 100)
        ))),
        Err(Refused::WrongToken) => {
            limiter().fail(client, now);
            tracing::warn!("heartbeat {slug}: wrong or missing token from {client}");
            Err(ApiError::WrongToken)
        }
    }
}
