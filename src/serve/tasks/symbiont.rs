//! Talking to the Symbiont API: submit a prompt, read a task's progress.
//!
//! Symbiont's answer is judged by its status first: any non-2xx is an error that carries its
//! status and message (the old dashboard treated a 401 as success). The token goes only in the
//! `Authorization` header, never in a URL or a body, and never into an error message.

use super::ApiError;
use crate::config::{Secret, TasksConfig};
use crate::net::client::{Client, Request};
use serde_json::{Map, Value, json};
use std::time::Duration;
use url::Url;

/// Symbiont's answers are small; anything past this is not read.
const ANSWER_CAP: usize = 256 * 1024;

pub struct Symbiont {
    base: Url,
    submit_path: String,
    progress_path: String,
    timeout: Duration,
    token: Option<Secret>,
    client: Client,
}

impl Symbiont {
    pub fn new(base: Url, tasks: &TasksConfig, token: Option<Secret>) -> Symbiont {
        Symbiont {
            base,
            submit_path: tasks.submit_path.clone(),
            progress_path: tasks.progress_path.clone(),
            timeout: tasks.timeout,
            token,
            client: Client::new(),
        }
    }

    /// `POST submit_path {"prompt": …}` → the new task's id.
    pub async fn submit(&self, prompt: &str) -> Result<String, ApiError> {
        let body = serde_json::to_vec(&json!({ "prompt": prompt })).expect("JSON");
        let answer = self.call("POST", &self.submit_path, &body).await?;
        let id = match answer.get("task_id").or_else(|| answer.get("id")) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(ApiError::Upstream {
                    status: 200,
                    message: "its answer has no task_id".into(),
                });
            }
        };
        Ok(id)
    }

    /// `GET progress_path` for a checked id → `{"task_id", "status", …}` with Symbiont's other
    /// fields kept.
    pub async fn progress(&self, id: &str) -> Result<Map<String, Value>, ApiError> {
        let path = self.progress_path.replace("{id}", id);
        let mut answer = self.call("GET", &path, b"").await?;
        answer.insert("task_id".into(), Value::String(id.to_string()));
        let status = match answer.get("status").or_else(|| answer.get("state")) {
            Some(Value::String(s)) => s.clone(),
            _ => "unknown".into(),
        };
        answer.insert("status".into(), Value::String(status));
        Ok(answer)
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Map<String, Value>, ApiError> {
        let url = self.base.join(path).map_err(|e| {
            ApiError::NotConfigured(format!(
                "the Symbiont URL does not take the path {path:?}: {e}"
            ))
        })?;
        let auth;
        let mut headers: Vec<(&str, &str)> = vec![("Accept", "application/json")];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        if let Some(token) = &self.token {
            auth = format!("Bearer {}", token.expose());
            headers.push(("Authorization", &auth));
        }
        let request = Request {
            method,
            url: &url,
            headers: &headers,
            body,
            body_cap: ANSWER_CAP,
        };
        // Each call gets its own connection: a task submission must never be sent twice, and
        // the endpoint's traffic is a person at a form.
        let mut conn = None;
        let sent = tokio::time::timeout(self.timeout, self.client.send(&mut conn, request)).await;
        let response = match sent {
            Err(_) => {
                return Err(ApiError::Timeout(
                    humantime::format_duration(self.timeout).to_string(),
                ));
            }
            Ok(Err(e)) => return Err(ApiError::Unreachable(crate::redact::text(&e.to_string()))),
            Ok(Ok(r)) => r,
        };
        let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
        if !(200..300).contains(&response.status) {
            return Err(ApiError::Upstream {
                status: response.status,
                message: message_of(parsed.as_ref(), &response.body, &response.reason),
            });
        }
        match parsed {
            Some(Value::Object(map)) => Ok(map),
            _ => Err(ApiError::Upstream {
                status: response.status,
                message: format!(
                    "its answer is not a JSON object: {}",
                    excerpt(&response.body)
                ),
            }),
        }
    }
}

/// What Symbiont said went wrong: its JSON `error`/`message`/`detail`, else its text.
fn message_of(parsed: Option<&Value>, body: &[u8], reason: &str) -> String {
    let from_json = parsed.and_then(|v| {
        ["error", "message", "detail"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str).map(str::to_string))
    });
    from_json
        .or_else(|| (!body.is_empty()).then(|| excerpt(body)))
        .unwrap_or_else(|| reason.to_string())
}

/// The start of a body as text, on one line, for a person to read.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 200 {
        format!("{}…", one_line.chars().take(200).collect::<String>())
    } else {
        one_line
    }
}
