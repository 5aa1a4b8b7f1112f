//! What the user wrote in the TOML file, parsed strictly but not yet resolved.
//!
//! Every key is optional; unknown keys are errors (a typo must not be silently ignored). Value
//! types that can be checked alone (durations, URLs, times, the host figures) are checked here,
//! so serde reports them with the key's line. Checks that need more than one key (a kind's
//! required fields, unique slugs, maintenance naming a service) live in `config::resolve`.

use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub title: Option<String>,
    pub public_url: Option<HttpUrl>,
    pub out_dir: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
    pub templates_dir: Option<PathBuf>,
    pub interval: Option<Dur>,
    pub on_publish: Option<String>,
    /// How long an `on_publish` run may take before it is killed (default 60s).
    pub on_publish_timeout: Option<Dur>,
    pub host: Option<RawHost>,
    #[serde(default)]
    pub service: Vec<toml::Spanned<RawService>>,
    #[serde(default)]
    pub maintenance: Vec<toml::Spanned<RawMaintenance>>,
    pub tasks: Option<RawTasks>,
    pub api: Option<RawApi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub disks: Option<Vec<String>>,
    pub public: Option<Vec<HostFigure>>,
}

/// The host figures `[host] public` may list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostFigure {
    Load,
    Memory,
    Disks,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: String,
    pub kind: crate::snapshot::Kind,
    pub url: Option<HttpUrl>,
    pub address: Option<String>,
    pub unit: Option<String>,
    pub timeout: Option<Dur>,
    pub degraded_after: Option<Dur>,
    pub expect_status: Option<ExpectStatus>,
}

/// `expect_status = 204` or `expect_status = [200, 301]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ExpectStatus {
    One(u16),
    Many(Vec<u16>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    pub services: Vec<String>,
    pub start: Time,
    pub end: Time,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTasks {
    pub symbiont_url: Option<HttpUrl>,
    pub submit_path: Option<String>,
    pub progress_path: Option<String>,
    /// How long to wait for Symbiont (default 10s).
    pub timeout: Option<Dur>,
    /// Task statuses after which the form stops polling (default completed, failed).
    pub terminal_statuses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub listen: Option<String>,
    pub serve_public: Option<bool>,
    pub allowed_origins: Option<Vec<HttpUrl>>,
    /// Peers whose `X-Forwarded-For` is believed (default: loopback, where Caddy sits).
    pub trusted_proxies: Option<Vec<String>>,
}

/// A duration written as text: "5s", "250ms", "1m 30s".
#[derive(Debug, Clone, Copy)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text)
            .map(Dur)
            .map_err(serde::de::Error::custom)
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("expected a duration like \"5s\" or \"250ms\", found {text:?}"))
}

/// An absolute http:// or https:// URL.
#[derive(Debug, Clone)]
pub struct HttpUrl(pub url::Url);

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_http_url(&text)
            .map(HttpUrl)
            .map_err(serde::de::Error::custom)
    }
}

pub fn parse_http_url(text: &str) -> Result<url::Url, String> {
    let expected = || format!("expected an http:// or https:// URL, found {text:?}");
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        Ok(_) => Err(expected()),
        Err(e) => Err(format!("{} ({e})", expected())),
    }
}

/// A point in time: a TOML datetime (`2026-12-01T02:00:00Z`) or the same text quoted.
#[derive(Debug, Clone, Copy)]
pub struct Time(pub chrono::DateTime<chrono::Utc>);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Either::deserialize(d) {
            Ok(Either::Text(t)) => t,
            Ok(Either::Toml(t)) => t.to_string(),
            Err(_) => {
                return Err(serde::de::Error::custom(
                    "expected a time like \"2026-12-01T02:00:00Z\"",
                ));
            }
        };
        chrono::DateTime::parse_from_rfc3339(&text)
            .map(|t| Time(t.with_timezone(&chrono::Utc)))
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "expected a time with its offset like \"2026-12-01T02:00:00Z\", found {text:?} ({e})"
                ))
            })
    }
}
