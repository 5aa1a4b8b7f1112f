//! `kind = "ntfy"`: the text as the body of a POST to the topic URL, with ntfy's `Title`,
//! `Priority` (5 for down, 4 for degraded and reminders, 3 for recovered) and `Tags` headers,
//! and `Click` to the page. An access token goes as `Authorization: Bearer`.

use super::{Ctx, Event, post};
use url::Url;

pub async fn send(
    ctx: &Ctx,
    url: &Url,
    token: Option<&str>,
    priority: Option<u8>,
    event: &Event,
) -> Result<(), String> {
    let priority = priority
        .unwrap_or_else(|| event.ntfy_priority())
        .to_string();
    // Header values must be one line of visible characters.
    let title = crate::redact::clip(&event.title, 200);
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("Title", title.as_str()),
        ("Priority", priority.as_str()),
        ("Tags", event.ntfy_tags()),
    ];
    if let Some(u) = &event.url {
        headers.push(("Click", u.as_str()));
    }
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    post(
        ctx,
        url,
        "text/plain; charset=utf-8",
        &headers,
        event.text.as_bytes(),
    )
    .await
}
