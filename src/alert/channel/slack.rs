//! `kind = "slack"`: an incoming webhook, `{"text": …}`; Slack links the page URL at its end.

use super::{Ctx, Event, post};
use url::Url;

pub fn body(event: &Event) -> serde_json::Value {
    serde_json::json!({ "text": event.text })
}

pub async fn send(ctx: &Ctx, url: &Url, event: &Event) -> Result<(), String> {
    let body = serde_json::to_vec(&body(event)).map_err(|e| e.to_string())?;
    post(ctx, url, "application/json", &[], &body).await
}
