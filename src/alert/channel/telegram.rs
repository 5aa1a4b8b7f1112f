//! `kind = "telegram"`: the Bot API's `sendMessage`, a JSON POST to
//! `{api_url}/bot{token}/sendMessage` with `chat_id` and `text` (plain text, no parse mode, so
//! nothing in an error message can break the markup). The token is in the path: the URL is
//! never shown, and an error is scrubbed of the token.

use super::{Ctx, Event, post};
use url::Url;

pub async fn send(
    ctx: &Ctx,
    api_url: &Url,
    token: &str,
    chat_id: &str,
    event: &Event,
) -> Result<(), String> {
    let base = api_url.as_str().trim_end_matches('/');
    let url = Url::parse(&format!("{base}/bot{token}/sendMessage"))
        .map_err(|_| "api_url and bot_token do not make a valid URL".to_string())?;
    let body = serde_json::json!({
        "chat_id": chat_id,
        // Telegram's limit is 4096 characters.
        "text": crate::redact::clip(&event.text, 4096),
        "disable_web_page_preview": true,
    });
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    post(ctx, &url, "application/json", &[], &body).await
}
