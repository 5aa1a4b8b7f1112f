//! `kind = "webhook"`: the event as a JSON POST (the body is documented in the README), or the
//! output of the alert's `body_template` (tera, with the event's fields as its context).

use super::{Ctx, Event, post};
use url::Url;

pub async fn send(
    ctx: &Ctx,
    url: &Url,
    template: Option<&str>,
    event: &Event,
) -> Result<(), String> {
    let body = match template {
        None => serde_json::to_vec(event).map_err(|e| e.to_string())?,
        Some(t) => render(t, event)?.into_bytes(),
    };
    post(ctx, url, "application/json", &[], &body).await
}

/// The body from the user's template; autoescaping is off (the body is not HTML).
pub fn render(template: &str, event: &Event) -> Result<String, String> {
    let context = tera::Context::from_serialize(event).map_err(|e| e.to_string())?;
    tera::Tera::one_off(template, &context, false).map_err(|e| format!("body_template failed: {e}"))
}
