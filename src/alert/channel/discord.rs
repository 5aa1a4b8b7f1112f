//! `kind = "discord"`: an incoming webhook, `{"content": …, "username": "cortex-status"}`.
//! Discord refuses content over 2000 characters, so the text is cut to fit.

use super::{Ctx, Event, post};
use url::Url;

pub async fn send(ctx: &Ctx, url: &Url, event: &Event) -> Result<(), String> {
    let body = serde_json::json!({
        "content": crate::redact::clip(&event.text, 2000),
        "username": "cortex-status",
    });
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    post(ctx, url, "application/json", &[], &body).await
}
