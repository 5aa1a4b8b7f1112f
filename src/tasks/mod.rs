//! The task endpoint: `POST /api/tasks` and `GET /api/tasks/{id}`, relayed to Symbiont.
//!
//! Every failure is a JSON `{"error": "…"}` a person can act on, with its own status; the one
//! `match` in [`ApiError::status`] decides which. Requests are answered on threads of their
//! own (the listener hands them over), so a slow Symbiont never holds up `/api/health`, the
//! preview, or another request; the forwarding itself runs on the daemon's runtime.

mod guard;
mod symbiont;

use crate::config::{Config, Secret};
use guard::Limiter;
use serde_json::{Value, json};
use std::io::Read;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use symbiont::Symbiont;
use tiny_http::{Method, Request};
use url::Url;

/// A request body larger than this is refused unread.
pub const MAX_BODY: usize = 64 * 1024;
/// A prompt longer than this (in bytes) is refused.
pub const MAX_PROMPT: usize = 16 * 1024;
/// Task requests answered at once; more get 503 rather than unbounded threads.
const MAX_IN_FLIGHT: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the password is missing or wrong (send it as Authorization: Bearer <password>)")]
    Unauthorized,
    #[error("requests from the origin {0} are not allowed")]
    ForeignOrigin(String),
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("{method} is not allowed here; use {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("{0}")]
    TooLarge(String),
    #[error("send the prompt as application/json or application/x-www-form-urlencoded, not {0:?}")]
    UnsupportedType(String),
    #[error("too many wrong passwords from this address; try again in {0} s")]
    TooManyAttempts(u64),
    #[error("Symbiont answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("Symbiont cannot be reached: {0}")]
    Unreachable(String),
    #[error("tasks are not configured: {0}")]
    NotConfigured(String),
    #[error("the endpoint is busy; try again in a moment")]
    Busy,
    #[error("Symbiont did not answer within {0}")]
    Timeout(String),
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::ForeignOrigin(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedType(_) => 415,
            ApiError::TooManyAttempts(_) => 429,
            ApiError::Upstream { .. } | ApiError::Unreachable(_) => 502,
            ApiError::NotConfigured(_) | ApiError::Busy => 503,
            ApiError::Timeout(_) => 504,
        }
    }

    fn body(&self) -> Value {
        let mut body = json!({ "error": self.to_string() });
        if let ApiError::Upstream { status, .. } = self {
            body["symbiont_status"] = json!(status);
        }
        body
    }
}

pub struct TaskApi {
    password: Option<Secret>,
    symbiont: Option<Symbiont>,
    allowed_origins: Vec<Url>,
    trusted_proxies: Vec<IpAddr>,
    limiter: Limiter,
    runtime: tokio::runtime::Handle,
    in_flight: AtomicUsize,
}

/// Whether a path belongs to the task endpoint.
pub fn is_task_path(path: &str) -> bool {
    path == "/api/tasks" || path.starts_with("/api/tasks/")
}

impl TaskApi {
    /// `runtime` runs the calls to Symbiont; it must be driven (the daemon's `block_on`).
    pub fn new(config: &Config, runtime: tokio::runtime::Handle) -> TaskApi {
        TaskApi {
            password: config.secrets.task_password.clone(),
            symbiont: config.tasks.symbiont_url.clone().map(|url| {
                Symbiont::new(url, &config.tasks, config.secrets.symbiont_token.clone())
            }),
            allowed_origins: config
                .public_url
                .iter()
                .chain(&config.api.allowed_origins)
                .cloned()
                .collect(),
            trusted_proxies: config.api.trusted_proxies.clone(),
            limiter: Limiter::default(),
            runtime,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Takes a request for [`is_task_path`] and answers it on a thread of its own.
    pub fn dispatch(self: &std::sync::Arc<Self>, request: Request) {
        if self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            respond(request, Err(ApiError::Busy));
            return;
        }
        let api = std::sync::Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("task".into())
            .spawn(move || {
                let mut request = request;
                let answer = api.answer(&mut request);
                respond(request, answer);
                api.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start a thread for a task request: {e}");
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Checks, in order: route and method, Origin, configuration, attempts, password; then the
    /// body (POST) or the id (GET); then asks Symbiont.
    fn answer(&self, request: &mut Request) -> Result<(u16, Value), ApiError> {
        let url = request.url().to_string();
        let path = url.split('?').next().unwrap_or("");
        let id = path.strip_prefix("/api/tasks/");
        let method = request.method().clone();
        match (id, &method) {
            (None, Method::Post) | (Some(_), Method::Get) => {}
            (None, m) => {
                return Err(ApiError::MethodNotAllowed {
                    method: m.to_string(),
                    allow: "POST",
                });
            }
            (Some(_), m) => {
                return Err(ApiError::MethodNotAllowed {
                    method: m.to_string(),
                    allow: "GET",
                });
            }
        }
        let origin = header(request, "Origin");
        if !guard::origin_allowed(
            origin.as_deref(),
            header(request, "Host").as_deref(),
            &self.allowed_origins,
        ) {
            return Err(ApiError::ForeignOrigin(origin.unwrap_or_default()));
        }
        let (Some(password), Some(symbiont)) = (&self.password, &self.symbiont) else {
            return Err(ApiError::NotConfigured(
                "set STATUS_TASK_PASSWORD (or STATUS_TASK_PASSWORD_FILE) and [tasks] symbiont_url (or SYMBIONT_URL)".into(),
            ));
        };
        let client = guard::client_address(
            request.remote_addr(),
            header(request, "X-Forwarded-For").as_deref(),
            &self.trusted_proxies,
        )
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let now = Instant::now();
        self.limiter
            .check(client, now)
            .map_err(ApiError::TooManyAttempts)?;
        let authorization = header(request, "Authorization");
        if !guard::password_ok(guard::bearer(authorization.as_deref()), password.expose()) {
            self.limiter.fail(client, now);
            tracing::warn!("task endpoint: wrong or missing password from {client}");
            return Err(ApiError::Unauthorized);
        }
        match id {
            None => {
                let prompt = read_prompt(request)?;
                let task_id = self.runtime.block_on(symbiont.submit(&prompt))?;
                tracing::info!(
                    "task {task_id} submitted for {client} ({} bytes of prompt)",
                    prompt.len()
                );
                Ok((202, json!({ "task_id": task_id })))
            }
            Some(id) => {
                check_id(id)?;
                let progress = self.runtime.block_on(symbiont.progress(id))?;
                Ok((200, Value::Object(progress)))
            }
        }
    }
}

/// Task ids go into the path sent to Symbiont, so they are held to letters, digits, `.`, `_`
/// and `-`, at most 128, and not made of dots alone (`..` would climb the path).
fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !id.bytes().all(|b| b == b'.');
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "a task id is 1 to 128 letters, digits, '.', '_' or '-'".into(),
        ))
    }
}

/// The prompt from a JSON or form body, within the limits.
fn read_prompt(request: &mut Request) -> Result<String, ApiError> {
    let content_type = header(request, "Content-Type").unwrap_or_default();
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if kind != "application/json" && kind != "application/x-www-form-urlencoded" {
        return Err(ApiError::UnsupportedType(content_type));
    }
    let too_large =
        || ApiError::TooLarge(format!("the request body is over {} KiB", MAX_BODY / 1024));
    if request.body_length().is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::BadRequest(format!("the request body could not be read: {e}")))?;
    if body.len() > MAX_BODY {
        return Err(too_large());
    }
    let prompt = if kind == "application/json" {
        #[derive(serde::Deserialize)]
        struct Submit {
            prompt: String,
        }
        serde_json::from_slice::<Submit>(&body)
            .map_err(|e| {
                ApiError::BadRequest(format!(
                    "the body must be JSON like {{\"prompt\": \"…\"}}: {e}"
                ))
            })?
            .prompt
    } else {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "prompt")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| ApiError::BadRequest("the form has no prompt field".into()))?
    };
    if prompt.trim().is_empty() {
        return Err(ApiError::BadRequest("the prompt is empty".into()));
    }
    if prompt.len() > MAX_PROMPT {
        return Err(ApiError::TooLarge(format!(
            "the prompt is over {} KiB",
            MAX_PROMPT / 1024
        )));
    }
    Ok(prompt)
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

fn respond(request: Request, answer: Result<(u16, Value), ApiError>) {
    let (status, body, retry_after) = match answer {
        Ok((status, body)) => (status, body, None),
        Err(e) => {
            let retry = match &e {
                ApiError::TooManyAttempts(s) => Some(*s),
                _ => None,
            };
            (e.status(), e.body(), retry)
        }
    };
    let mut response = crate::server::json_response(status, &body);
    if let Some(seconds) = retry_after {
        response.add_header(crate::server::header("Retry-After", &seconds.to_string()));
    }
    if let Err(e) = request.respond(response) {
        tracing::debug!("task response not delivered: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_change_the_path_are_refused() {
        for good in ["abc", "A-1_b.2", &"x".repeat(128)] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "%2e%2e",
            "a?x=1",
            "a b",
            &"x".repeat(129),
            "ü",
        ] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(ApiError::TooManyAttempts(3).status(), 429);
        assert_eq!(
            ApiError::Upstream {
                status: 401,
                message: "bad token".into()
            }
            .status(),
            502
        );
        let body = ApiError::Upstream {
            status: 401,
            message: "bad token".into(),
        }
        .body();
        assert_eq!(body["error"], "Symbiont answered 401: bad token");
        assert_eq!(body["symbiont_status"], 401);
        assert_eq!(ApiError::Timeout("10s".into()).status(), 504);
        assert_eq!(ApiError::NotConfigured("x".into()).status(), 503);
    }
}
