//! The channels, one file each, each speaking its service's real protocol. A channel takes an
//! [`Event`] and makes one attempt; retries and backoff are `deliver`'s. An error is words for
//! the log, `errors` and `/api/health`: it never quotes the channel's URL (Slack, Discord and
//! Telegram keep their token in the path), and `Ctx::scrub` removes every secret a receiver
//! might echo back.

mod command;
mod discord;
mod email;
mod ntfy;
mod slack;
mod telegram;
mod webhook;

use super::message::Event;
use crate::config::{AlertConfig, Channel};
use crate::net::client::{Client, Request};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A receiver's answer is read this far (for the error message), no further.
const BODY_CAP: usize = 4096;

/// What every attempt needs besides the event.
#[derive(Clone)]
pub struct Ctx {
    pub client: Client,
    /// Every secret value of the config, to scrub from what a receiver answers.
    pub secrets: Arc<Vec<String>>,
}

impl Ctx {
    /// The client and the config's secrets, for the daemon's alerts and `alert test` alike.
    pub fn new(config: &crate::config::Config) -> Ctx {
        Ctx {
            client: Client::new(),
            secrets: Arc::new(
                config
                    .secrets
                    .values()
                    .into_iter()
                    .map(String::from)
                    .collect(),
            ),
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let text = crate::redact::secrets(text, &secrets);
        crate::redact::clip(&crate::redact::text(&text), 300)
    }
}

/// One attempt to deliver `event` through `alert`'s channel, within its timeout.
pub async fn send(alert: &AlertConfig, event: &Event, ctx: &Ctx) -> Result<(), String> {
    let attempt = async {
        match &alert.channel {
            Channel::Webhook { url, body_template } => {
                webhook::send(ctx, url, body_template.as_deref(), event).await
            }
            Channel::Ntfy {
                url,
                token,
                priority,
            } => ntfy::send(ctx, url, token.as_deref(), *priority, event).await,
            Channel::Slack { url } => slack::send(ctx, url, event).await,
            Channel::Discord { url } => discord::send(ctx, url, event).await,
            Channel::Telegram {
                bot_token,
                chat_id,
                api_url,
            } => telegram::send(ctx, api_url, bot_token, chat_id, event).await,
            Channel::Email { .. } => email::send(&alert.channel, alert.timeout, event).await,
            Channel::Command { command } => command::send(command, alert.timeout, event).await,
        }
    };
    // The command enforces its own timeout (it must kill the process group); the others are
    // bounded here.
    let limit = alert.timeout + Duration::from_millis(500);
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ctx.scrub(&e)),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(alert.timeout)
        )),
    }
}

/// POSTs `body` to `url` and wants a 2xx back.
async fn post(
    ctx: &Ctx,
    url: &Url,
    content_type: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), String> {
    let mut all: Vec<(&str, &str)> = vec![("Content-Type", content_type)];
    all.extend_from_slice(headers);
    let mut kept = None;
    let request = Request {
        method: "POST",
        url,
        headers: &all,
        body,
        body_cap: BODY_CAP,
    };
    let response = ctx
        .client
        .send(&mut kept, request)
        .await
        .map_err(|e| e.to_string())?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        let said = String::from_utf8_lossy(&response.body);
        let said = said.trim();
        Err(if said.is_empty() {
            format!(
                "the receiver answered {} {}",
                response.status, response.reason
            )
        } else {
            format!(
                "the receiver answered {} {}: {}",
                response.status,
                response.reason,
                crate::redact::clip(said, 200)
            )
        })
    }
}
