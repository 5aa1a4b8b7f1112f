//! What a message says, once, for every channel: the event as JSON (the webhook body, the
//! command's stdin) and as words (a title, a text, an HTML part). Each names the service, the
//! change, since when, the error and the page's URL, and what was held back by `min_gap`.

use super::policy::{Change, Held};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One message for one channel. Serialised as the webhook's documented body (README "Alerts").
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// The alert (channel) it goes through.
    pub alert: String,
    /// down, degraded, recovered, reminder or test.
    pub event: Change,
    pub service: String,
    pub slug: String,
    /// The service's status when the message was made.
    pub status: String,
    /// When the outage began (its first bad check); for `recovered`, the one that ended.
    pub since: DateTime<Utc>,
    pub at: DateTime<Utc>,
    /// How long the outage lasted (recovered) or has lasted so far.
    pub duration_seconds: i64,
    pub error: Option<String>,
    /// The status page (`public_url`); null when none is set.
    pub url: Option<String>,
    /// Changes held back since the last message by `min_gap` (the first ten), and how many.
    pub suppressed: Vec<Held>,
    pub suppressed_count: u32,
    /// The message in words, as the chat channels send it.
    pub text: String,
    pub title: String,
}

impl Event {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        alert: &str,
        change: Change,
        service: &str,
        slug: &str,
        status: &str,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
        error: Option<String>,
        url: Option<String>,
        suppressed: Vec<Held>,
        suppressed_count: u32,
    ) -> Event {
        let mut e = Event {
            alert: alert.into(),
            event: change,
            service: service.into(),
            slug: slug.into(),
            status: status.into(),
            since,
            at,
            duration_seconds: (at - since).num_seconds().max(0),
            error,
            url,
            suppressed,
            suppressed_count,
            text: String::new(),
            title: String::new(),
        };
        e.title = e.make_title();
        e.text = e.make_text();
        e
    }

    /// The message `alert test` sends.
    pub fn test(alert: &str, url: Option<String>) -> Event {
        let now = Utc::now();
        Event::new(
            alert,
            Change::Test,
            "cortex-status",
            "cortex-status",
            "up",
            now,
            now,
            None,
            url,
            Vec::new(),
            0,
        )
    }

    fn make_title(&self) -> String {
        let s = &self.service;
        match self.event {
            Change::Down => format!("{s} is down"),
            Change::Degraded => format!("{s} is degraded"),
            Change::Recovered => format!("{s} recovered"),
            Change::Reminder => format!("{s} is still {}", self.status_word()),
            Change::Test => format!("Test message from cortex-status (alert `{}`)", self.alert),
        }
    }

    fn status_word(&self) -> &str {
        match self.status.as_str() {
            "up" | "maintenance" | "unknown" => "down",
            other => other,
        }
    }

    /// Plain text: the title, since when and for how long, the error, what was held back, the link.
    fn make_text(&self) -> String {
        let mut t = self.title.clone();
        let since = crate::snapshot::format_time(&self.since);
        let took = humantime::format_duration(std::time::Duration::from_secs(
            self.duration_seconds as u64,
        ));
        match self.event {
            Change::Down | Change::Degraded | Change::Reminder => {
                t.push_str(&format!(" since {since} ({took})"));
            }
            Change::Recovered => t.push_str(&format!(" after {took} (since {since})")),
            Change::Test => t.push_str(": if you read this, the alert channel works"),
        }
        match (&self.error, self.event) {
            (Some(e), Change::Recovered) => t.push_str(&format!(". The last error was: {e}")),
            (Some(e), _) => t.push_str(&format!(". Error: {e}")),
            (None, _) => {}
        }
        if self.suppressed_count > 0 {
            let list: Vec<String> = self
                .suppressed
                .iter()
                .map(|h| format!("{} at {}", h.change.as_str(), h.at.format("%H:%M:%S")))
                .collect();
            let more =
                self.suppressed_count as usize - list.len().min(self.suppressed_count as usize);
            t.push_str(&format!(
                ". Since the last message, {} more change(s) were held back to avoid flooding: {}{}",
                self.suppressed_count,
                list.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            ));
        }
        if let Some(u) = &self.url {
            t.push_str(&format!(". {u}"));
        }
        t
    }

    /// The HTML part of an email: the same words, escaped, with the link as a link.
    pub fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let mut h = format!(
            "<!doctype html><html><body><h2>{}</h2><p>{}</p>",
            esc(&self.title),
            esc(&self.text)
        );
        if let Some(u) = &self.url {
            h.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", esc(u)));
        }
        h.push_str("</body></html>");
        h
    }

    /// ntfy's priority (1 to 5) and tags (emoji short codes) for this change.
    pub fn ntfy_priority(&self) -> u8 {
        match self.event {
            Change::Down => 5,
            Change::Reminder => 4,
            Change::Degraded => 4,
            Change::Recovered | Change::Test => 3,
        }
    }

    pub fn ntfy_tags(&self) -> &'static str {
        match self.event {
            Change::Down | Change::Reminder => "rotating_light,cortex-status",
            Change::Degraded => "warning,cortex-status",
            Change::Recovered => "white_check_mark,cortex-status",
            Change::Test => "test_tube,cortex-status",
        }
    }
}
