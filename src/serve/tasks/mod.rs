//! The task endpoint: `POST /api/tasks` and `GET /api/tasks/{id}`, relayed to Symbiont.
//!
//! Every failure is a JSON `{"error": "…"}` a person can act on, with its own status; the one
//! `match` in [`ApiError::status`] decides which. Each request is a task on the daemon's runtime
//! that awaits Symbiont, so a slow Symbiont never holds up `/api/health`, the preview, or
//! another request, and costs no thread; at most [`MAX_IN_FLIGHT`] are answered at once.
//!
//! Nothing relayed from Symbiont (its error messages, a task's progress, a task id) reaches the
//! client or the log before both secrets are scrubbed from it: a Symbiont that answers
//! "invalid token: Bearer …" must not hand our token to whoever asked.

pub(crate) mod guard;
mod symbiont;

use crate::config::{Config, Secret};
use crate::serve::response::{self, Body};
use guard::Limiter;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderMap, HeaderName};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use symbiont::Symbiont;
use tokio::sync::Semaphore;
use url::Url;

/// A request body larger than this is refused unread.
pub const MAX_BODY: usize = 64 * 1024;
/// A prompt longer than this (in bytes) is refused.
pub const MAX_PROMPT: usize = 16 * 1024;
/// Task requests answered at once; more get 503 rather than an unbounded queue at Symbiont.
pub const MAX_IN_FLIGHT: usize = 256;

pub use crate::serve::response::ApiError;

pub struct TaskApi {
    password: Option<Secret>,
    symbiont: Option<Symbiont>,
    allowed_origins: Vec<Url>,
    trusted_proxies: Vec<IpAddr>,
    limiter: Limiter,
    in_flight: Semaphore,
    /// What must never be relayed: the password and Symbiont's token.
    secrets: Vec<Secret>,
}

/// Whether a path belongs to the task endpoint.
pub fn is_task_path(path: &str) -> bool {
    path == "/api/tasks" || path.starts_with("/api/tasks/")
}

impl TaskApi {
    pub fn new(config: &Config) -> TaskApi {
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
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            secrets: [
                &config.secrets.task_password,
                &config.secrets.symbiont_token,
            ]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
        }
    }

    /// Answers a request for [`is_task_path`].
    pub async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Body> {
        let answer = match self.in_flight.try_acquire() {
            Ok(_permit) => self.answer(request, peer).await,
            Err(_) => Err(ApiError::Busy),
        };
        self.respond(answer)
    }

    /// Checks, in order: route and method, Origin, configuration, attempts, password; then the
    /// body (POST) or the id (GET); then asks Symbiont.
    async fn answer(
        &self,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Result<(StatusCode, Value), ApiError> {
        let (parts, body) = request.into_parts();
        let path = parts.uri.path();
        let id = path.strip_prefix("/api/tasks/");
        let headers = &parts.headers;
        match (id, &parts.method) {
            (None, &Method::POST) | (Some(_), &Method::GET) => {}
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
        let origin = header(headers, header::ORIGIN);
        if !guard::origin_allowed(
            origin.as_deref(),
            header(headers, header::HOST).as_deref(),
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
            Some(&peer),
            header(headers, HeaderName::from_static("x-forwarded-for")).as_deref(),
            &self.trusted_proxies,
        )
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let now = Instant::now();
        self.limiter
            .check(client, now)
            .map_err(ApiError::TooManyAttempts)?;
        let authorization = header(headers, header::AUTHORIZATION);
        if !guard::password_ok(guard::bearer(authorization.as_deref()), password.expose()) {
            self.limiter.fail(client, now);
            tracing::warn!("task endpoint: wrong or missing password from {client}");
            return Err(ApiError::Unauthorized);
        }
        match id {
            None => {
                let prompt = read_prompt(headers, body).await?;
                let task_id = self.scrub_text(&symbiont.submit(&prompt).await?);
                tracing::info!(
                    "task {task_id} submitted for {client} ({} bytes of prompt)",
                    prompt.len()
                );
                Ok((StatusCode::ACCEPTED, json!({ "task_id": task_id })))
            }
            Some(id) => {
                check_id(id)?;
                let progress = symbiont.progress(id).await?;
                Ok((StatusCode::OK, Value::Object(progress)))
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
async fn read_prompt(headers: &HeaderMap, body: Incoming) -> Result<String, ApiError> {
    let content_type = header(headers, header::CONTENT_TYPE).unwrap_or_default();
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
    // A stated length over the limit is refused before a byte of the body is read.
    if body.size_hint().lower() > MAX_BODY as u64 {
        return Err(too_large());
    }
    let limit = crate::serve::BODY_TIMEOUT;
    let read = tokio::time::timeout(limit, Limited::new(body, MAX_BODY).collect()).await;
    let body = match read {
        Err(_) => return Err(ApiError::SlowBody(limit.as_secs())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Ok(Err(e)) => {
            return Err(ApiError::BadRequest(format!(
                "the request body could not be read: {e}"
            )));
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
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

/// A header's value as text. Bytes that are not UTF-8 become U+FFFD rather than making the
/// header count as absent: an `Origin` the check cannot read must not pass as "no Origin".
fn header(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

impl TaskApi {
    /// The answer as JSON, with `Retry-After` for 429, `Allow` for 405, and no secret in it.
    fn respond(&self, answer: Result<(StatusCode, Value), ApiError>) -> Response<Body> {
        match answer {
            Ok((status, mut body)) => {
                self.scrub(&mut body);
                response::json(status, &body)
            }
            Err(e) => e.into_response_with(|body| self.scrub(body)),
        }
    }

    /// Every string in `value` (keys too) with the secrets replaced.
    fn scrub(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.scrub_text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub(v)),
            Value::Object(map) => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let mut v = map.remove(&key).unwrap_or(Value::Null);
                    self.scrub(&mut v);
                    map.insert(self.scrub_text(&key), v);
                }
            }
            _ => {}
        }
    }

    /// `text` without the secrets, as written or percent-encoded (an echo of a URL or form).
    fn scrub_text(&self, text: &str) -> String {
        let encoded: Vec<String> = self
            .secrets
            .iter()
            .map(|s| url::form_urlencoded::byte_serialize(s.expose().as_bytes()).collect())
            .collect();
        let mut all: Vec<&str> = self.secrets.iter().map(Secret::expose).collect();
        all.extend(encoded.iter().map(String::as_str));
        crate::redact::secrets(text, &all)
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
