//! `[[alert]]` tables: a channel (where a message goes and how) plus its policy (when one is
//! sent). Read key by key like the rest of the config, so `check` lists every problem with its
//! line. Secrets (a webhook URL with a token, a bot token, an SMTP password) come in through
//! `${NAME}`; the values land in `Secrets::interpolated` and are scrubbed from every message.

use super::raw::{self, HttpUrl};
use super::read::{self, Reader, Span};
use super::resolve::{Bounds, DAY, HOUR, MILLI, duration};
use std::collections::HashSet;
use std::time::Duration;
use toml::de::DeTable;
use url::Url;

/// Keys every kind knows.
const COMMON_KEYS: &[&str] = &[
    "name",
    "kind",
    "services",
    "failure_threshold",
    "success_threshold",
    "remind_every",
    "send_on",
    "min_gap",
    "timeout",
];

/// Keys of each kind beyond the common ones.
fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "webhook" => &["url", "body_template"],
        "ntfy" => &["url", "token", "priority"],
        "slack" | "discord" => &["url"],
        "telegram" => &["bot_token", "chat_id", "api_url"],
        "email" => &["smtp", "tls", "username", "password", "from", "to"],
        "command" => &["command"],
        _ => &[],
    }
}

const KINDS: &str = "webhook, ntfy, slack, discord, telegram, email or command";

const MIN_GAP: Bounds = Bounds::new(Duration::from_secs(300), MILLI, DAY);
const REMIND: Bounds = Bounds::new(Duration::ZERO, MILLI, Duration::from_secs(30 * 24 * 3600));
const TIMEOUT: Bounds = Bounds::new(Duration::from_secs(10), MILLI, HOUR);
/// A threshold above this is a slip (at a 5 s interval it would be an hour and a half).
const MAX_THRESHOLD: u32 = 1000;

#[derive(Debug, Clone)]
pub struct AlertConfig {
    pub name: String,
    /// Slugs or globs (`*`, `?`); empty means every service.
    pub services: Vec<String>,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub remind_every: Option<Duration>,
    pub send_on: SendOn,
    /// At most one message per service per `min_gap`; changes in between are summarised.
    pub min_gap: Duration,
    /// How long one delivery attempt (or the command) may take.
    pub timeout: Duration,
    pub channel: Channel,
}

impl AlertConfig {
    /// Whether this alert watches the service `slug`.
    pub fn covers(&self, slug: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|g| glob(g, slug))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendOn {
    pub down: bool,
    pub degraded: bool,
    pub recovered: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server lacks it.
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS at all: only for a relay on this host.
    None,
}

/// Where a message goes. URLs here may carry a token: show them only through `redact`, and
/// better not at all (a Slack or Telegram token is in the path, which `redact::url` keeps).
#[derive(Debug, Clone)]
pub enum Channel {
    Webhook {
        url: Url,
        /// A tera template that replaces the JSON body.
        body_template: Option<String>,
    },
    Ntfy {
        url: Url,
        token: Option<String>,
        /// Overrides the priority chosen by the event (1 to 5).
        priority: Option<u8>,
    },
    Slack {
        url: Url,
    },
    Discord {
        url: Url,
    },
    Telegram {
        bot_token: String,
        chat_id: String,
        api_url: Url,
    },
    Email {
        host: String,
        port: u16,
        tls: SmtpTls,
        username: Option<String>,
        password: Option<String>,
        from: String,
        to: Vec<String>,
    },
    Command {
        command: String,
    },
}

impl Channel {
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Ntfy { .. } => "ntfy",
            Channel::Slack { .. } => "slack",
            Channel::Discord { .. } => "discord",
            Channel::Telegram { .. } => "telegram",
            Channel::Email { .. } => "email",
            Channel::Command { .. } => "command",
        }
    }
}

/// `*` matches any run of characters, `?` one; everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point: linear enough for slugs.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

pub(super) fn resolve_alerts(
    r: &mut Reader,
    root: &DeTable<'_>,
    slugs: &HashSet<String>,
) -> Vec<AlertConfig> {
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, (t, span)) in r.tables(root, "alert").into_iter().enumerate() {
        let prefix = format!("alert[{i}]");
        let before = r.count();
        let alert = resolve_alert(r, t, &span, &prefix, slugs);
        if let Some(a) = alert
            && r.count() == before
        {
            if !names.insert(a.name.clone()) {
                r.problem(
                    Some(&span),
                    &read::path(&prefix, "name"),
                    format!(
                        "{} is the name of another alert already",
                        raw::shown(&a.name)
                    ),
                );
                continue;
            }
            out.push(a);
        }
    }
    out
}

fn resolve_alert(
    r: &mut Reader,
    t: &DeTable<'_>,
    table_span: &Span,
    prefix: &str,
    slugs: &HashSet<String>,
) -> Option<AlertConfig> {
    let key = |k: &str| read::path(prefix, k);
    let given = |name: &str| t.iter().any(|(k, _)| k.get_ref() == name);
    let name = r.get::<String>(t, prefix, "name");
    if name.is_none() && !given("name") {
        r.problem(
            Some(table_span),
            &key("name"),
            "every alert needs a name, like name = \"phone\" (it names the channel in messages)",
        );
    }
    if let Some((n, span)) = &name
        && (n.trim().is_empty() || n.chars().any(char::is_control) || n.len() > 64)
    {
        r.problem(
            Some(span),
            &key("name"),
            "must be 1 to 64 printable characters",
        );
    }
    let kind = r.get::<String>(t, prefix, "kind");
    let kind = match kind {
        None => {
            if !given("kind") {
                r.problem(
                    Some(table_span),
                    &key("kind"),
                    format!("every alert needs a kind: {KINDS}"),
                );
            }
            None
        }
        Some((k, span)) => {
            if kind_keys(&k).is_empty() {
                r.problem(
                    Some(&span),
                    &key("kind"),
                    format!(
                        "{} is not a kind of alert; the kinds are {KINDS}",
                        raw::shown(&k)
                    ),
                );
                None
            } else {
                Some(k)
            }
        }
    };
    let mut known: Vec<&str> = COMMON_KEYS.to_vec();
    match &kind {
        Some(k) => known.extend(kind_keys(k)),
        // Without a kind, any kind's key is not a typo worth reporting.
        None => {
            for k in ["webhook", "ntfy", "telegram", "email", "command"] {
                known.extend(kind_keys(k));
            }
        }
    }
    r.unknown_keys(t, prefix, &known);

    let services = match r.get::<Vec<String>>(t, prefix, "services") {
        None => Vec::new(),
        Some((list, span)) => {
            for g in &list {
                let globby = g.contains(['*', '?']);
                let matches = slugs.iter().any(|s| glob(g, s));
                if !matches {
                    let what = if globby {
                        "matches no configured service"
                    } else {
                        "is not the slug of a configured service"
                    };
                    r.problem(
                        Some(&span),
                        &key("services"),
                        format!("{} {what}", raw::shown(g)),
                    );
                }
            }
            list
        }
    };
    let threshold = |r: &mut Reader, name: &str, default: u32| match r.get::<i64>(t, prefix, name) {
        None => default,
        Some((n, span)) if n < 1 || n > i64::from(MAX_THRESHOLD) => {
            r.problem(
                Some(&span),
                &read::path(prefix, name),
                format!("{n} is out of range; a count of checks from 1 to {MAX_THRESHOLD}"),
            );
            default
        }
        Some((n, _)) => n as u32,
    };
    let failure_threshold = threshold(r, "failure_threshold", 3);
    let success_threshold = threshold(r, "success_threshold", 2);
    let remind_every =
        given("remind_every").then(|| duration(r, t, prefix, "remind_every", REMIND));
    let remind_every = remind_every.filter(|d| !d.is_zero());
    let min_gap = duration(r, t, prefix, "min_gap", MIN_GAP);
    let timeout = duration(r, t, prefix, "timeout", TIMEOUT);
    let send_on = match r.get::<Vec<String>>(t, prefix, "send_on") {
        None => SendOn {
            down: true,
            degraded: false,
            recovered: true,
        },
        Some((list, span)) => {
            let mut s = SendOn {
                down: false,
                degraded: false,
                recovered: false,
            };
            for word in &list {
                match word.as_str() {
                    "down" => s.down = true,
                    "degraded" => s.degraded = true,
                    "recovered" => s.recovered = true,
                    other => r.problem(
                        Some(&span),
                        &key("send_on"),
                        format!(
                            "{} is not an event; the events are down, degraded and recovered",
                            raw::shown(other)
                        ),
                    ),
                }
            }
            s
        }
    };

    let kind = kind?;
    let need = |r: &mut Reader, name: &str, example: &str| {
        if !given(name) {
            r.problem(
                Some(table_span),
                &key(name),
                format!("kind = \"{kind}\" needs {name}, like {name} = {example}"),
            );
        }
    };
    let url = |r: &mut Reader, example: &str| {
        let u = r.get::<HttpUrl>(t, prefix, "url").map(|(u, _)| u.0);
        if u.is_none() {
            need(r, "url", example);
        }
        u
    };
    let channel = match kind.as_str() {
        "webhook" => {
            let url = url(r, "\"https://hooks.example.net/${HOOK_TOKEN}\"");
            let body_template =
                r.get::<String>(t, prefix, "body_template")
                    .and_then(|(tpl, span)| {
                        // Compiled now so `check` finds a broken template, not the first outage.
                        let mut tera = tera::Tera::default();
                        match tera.add_raw_template("body", &tpl) {
                            Ok(()) => Some(tpl),
                            Err(e) => {
                                let mut msg = e.to_string();
                                let mut source = std::error::Error::source(&e);
                                while let Some(s) = source {
                                    msg = format!("{msg}: {s}");
                                    source = s.source();
                                }
                                r.problem(
                                    Some(&span),
                                    &key("body_template"),
                                    format!("not a valid template: {msg}"),
                                );
                                None
                            }
                        }
                    });
            url.map(|url| Channel::Webhook { url, body_template })
        }
        "ntfy" => {
            let url = url(r, "\"https://ntfy.sh/${NTFY_TOPIC}\"");
            let token = r.get::<String>(t, prefix, "token").map(|(v, _)| v);
            let priority = match r.get::<i64>(t, prefix, "priority") {
                Some((p, _)) if (1..=5).contains(&p) => Some(p as u8),
                Some((p, span)) => {
                    r.problem(
                        Some(&span),
                        &key("priority"),
                        format!("{p} is not an ntfy priority (1 to 5)"),
                    );
                    None
                }
                None => None,
            };
            url.map(|url| Channel::Ntfy {
                url,
                token,
                priority,
            })
        }
        "slack" => url(r, "\"https://hooks.slack.com/services/${SLACK_HOOK}\"")
            .map(|url| Channel::Slack { url }),
        "discord" => url(r, "\"https://discord.com/api/webhooks/${DISCORD_HOOK}\"")
            .map(|url| Channel::Discord { url }),
        "telegram" => {
            let bot_token = r.get::<String>(t, prefix, "bot_token");
            let chat_id = r.get::<ChatId>(t, prefix, "chat_id");
            let api_url = r
                .get::<HttpUrl>(t, prefix, "api_url")
                .map(|(u, _)| u.0)
                .unwrap_or_else(|| Url::parse("https://api.telegram.org").expect("a valid URL"));
            if bot_token.is_none() {
                need(r, "bot_token", "\"${TELEGRAM_BOT_TOKEN}\"");
            }
            if chat_id.is_none() {
                need(r, "chat_id", "\"-1001234567890\"");
            }
            if let Some((tok, span)) = &bot_token
                && (tok.is_empty() || tok.contains(['/', '?', '#', ' ']))
            {
                // Not quoted: it is a secret.
                r.problem(
                    Some(span),
                    &key("bot_token"),
                    "is not a Telegram bot token (the value is not shown)",
                );
            }
            match (bot_token, chat_id) {
                (Some((bot_token, _)), Some((ChatId(chat_id), _))) => Some(Channel::Telegram {
                    bot_token,
                    chat_id,
                    api_url,
                }),
                _ => None,
            }
        }
        "email" => {
            let smtp = r.get::<String>(t, prefix, "smtp");
            let tls = match r.get::<String>(t, prefix, "tls") {
                None => SmtpTls::Starttls,
                Some((w, span)) => match w.as_str() {
                    "starttls" => SmtpTls::Starttls,
                    "implicit" => SmtpTls::Implicit,
                    "none" => SmtpTls::None,
                    _ => {
                        r.problem(
                            Some(&span),
                            &key("tls"),
                            format!("{} is not one of starttls, implicit, none", raw::shown(&w)),
                        );
                        SmtpTls::Starttls
                    }
                },
            };
            let username = r.get::<String>(t, prefix, "username").map(|(v, _)| v);
            let password = r.get::<String>(t, prefix, "password").map(|(v, _)| v);
            if username.is_some() != password.is_some() {
                r.problem(
                    Some(table_span),
                    &key("password"),
                    "username and password go together: set both or neither",
                );
            }
            let mailbox = |r: &mut Reader, text: &str, span: &Span, name: &str| {
                if text.parse::<lettre::message::Mailbox>().is_err() {
                    r.problem(
                        Some(span),
                        &key(name),
                        format!("{} is not an email address", raw::shown(text)),
                    );
                }
            };
            let from = r.get::<String>(t, prefix, "from");
            if let Some((f, span)) = &from {
                mailbox(r, f, span, "from");
            } else {
                need(r, "from", "\"status@example.net\"");
            }
            let to = r.get::<Vec<String>>(t, prefix, "to");
            match &to {
                Some((list, span)) => {
                    if list.is_empty() {
                        r.problem(Some(span), &key("to"), "needs at least one address");
                    }
                    for a in list {
                        mailbox(r, a, span, "to");
                    }
                }
                None => need(r, "to", "[\"ops@example.net\"]"),
            }
            let server = match smtp {
                None => {
                    need(r, "smtp", "\"mail.example.net:587\"");
                    None
                }
                Some((text, span)) => match text
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                {
                    Some((host, port)) if !host.is_empty() && port > 0 => {
                        Some((host.trim_matches(['[', ']']).to_string(), port))
                    }
                    _ => {
                        r.problem(
                            Some(&span),
                            &key("smtp"),
                            format!(
                                "expected host:port like \"mail.example.net:587\", found {}",
                                raw::shown_url(&text)
                            ),
                        );
                        None
                    }
                },
            };
            match (server, from, to) {
                (Some((host, port)), Some((from, _)), Some((to, _))) => Some(Channel::Email {
                    host,
                    port,
                    tls,
                    username,
                    password,
                    from,
                    to,
                }),
                _ => None,
            }
        }
        "command" => match r.get::<String>(t, prefix, "command") {
            None => {
                need(r, "command", "\"/usr/local/bin/page-me\"");
                None
            }
            Some((c, span)) if c.trim().is_empty() => {
                r.problem(Some(&span), &key("command"), "is empty");
                None
            }
            Some((command, _)) => Some(Channel::Command { command }),
        },
        _ => None,
    };
    Some(AlertConfig {
        name: name?.0,
        services,
        failure_threshold,
        success_threshold,
        remind_every,
        send_on,
        min_gap,
        timeout,
        channel: channel?,
    })
}

/// A Telegram chat id: a number, or `@channelname`; TOML may hold the number as an integer.
struct ChatId(String);

impl<'de> serde::Deserialize<'de> for ChatId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Either {
            Int(i64),
            Text(String),
        }
        match Either::deserialize(d) {
            Ok(Either::Int(n)) => Ok(ChatId(n.to_string())),
            Ok(Either::Text(t)) if !t.is_empty() && !t.chars().any(char::is_control) => {
                Ok(ChatId(t))
            }
            _ => Err(serde::de::Error::custom(
                "expected a chat id like -1001234567890 or \"@mychannel\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs_match_slugs() {
        assert!(glob("*", "api"));
        assert!(glob("api", "api"));
        assert!(!glob("api", "api-2"));
        assert!(glob("api-*", "api-2"));
        assert!(glob("*-db", "main-db"));
        assert!(glob("a?i", "api"));
        assert!(!glob("a?i", "apii"));
        assert!(glob("*a*b*", "xxaxxbxx"));
        assert!(!glob("*a*b", "xxaxxbxxc"));
    }
}
