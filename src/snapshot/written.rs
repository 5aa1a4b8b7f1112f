//! Incidents written by people (files in `incidents_dir`), as `status.json` and the pages show
//! them: `incidents_open` and `incidents_recent`. The files are read by `sense::incidents`; the
//! types live here, beside the rest of the contract, so outputs need not import a sense module.

use super::{Status, rfc3339, rfc3339_opt};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How bad a written incident says things are. Ordered: `down` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Notice,
    Maintenance,
    Degraded,
    Down,
}

impl Severity {
    /// The status an open incident raises `overall` to at least; a notice raises nothing.
    pub fn status(self) -> Option<Status> {
        match self {
            Severity::Notice => None,
            Severity::Maintenance => Some(Status::Maintenance),
            Severity::Degraded => Some(Status::Degraded),
            Severity::Down => Some(Status::Down),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Maintenance => "maintenance",
            Severity::Degraded => "degraded",
            Severity::Down => "down",
        }
    }
}

/// What an update says about the incident's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateKind {
    Investigating,
    Identified,
    Monitoring,
    Update,
    Resolved,
}

impl UpdateKind {
    pub const ALL: [UpdateKind; 5] = [
        UpdateKind::Investigating,
        UpdateKind::Identified,
        UpdateKind::Monitoring,
        UpdateKind::Update,
        UpdateKind::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Investigating => "investigating",
            UpdateKind::Identified => "identified",
            UpdateKind::Monitoring => "monitoring",
            UpdateKind::Update => "update",
            UpdateKind::Resolved => "resolved",
        }
    }

    /// As the heading and the page write it: `Identified`.
    pub fn label(self) -> &'static str {
        match self {
            UpdateKind::Investigating => "Investigating",
            UpdateKind::Identified => "Identified",
            UpdateKind::Monitoring => "Monitoring",
            UpdateKind::Update => "Update",
            UpdateKind::Resolved => "Resolved",
        }
    }
}

/// One incident file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WrittenIncident {
    /// From the file's name (`2026-11-24-db.md` → `2026-11-24-db`): its page is
    /// `incidents/<slug>.html`.
    pub slug: String,
    pub title: String,
    pub severity: Severity,
    /// Slugs of the services it concerns.
    pub services: Vec<String>,
    #[serde(with = "rfc3339")]
    pub started: DateTime<Utc>,
    /// `null` while it is open.
    #[serde(with = "rfc3339_opt", default)]
    pub resolved: Option<DateTime<Utc>>,
    /// From `started` to `resolved`, or to `generated_at` while open.
    #[serde(default)]
    pub duration_seconds: u64,
    /// Its page: absolute under `public_url`, else relative to the site's root.
    pub url: String,
    /// Newest first.
    pub updates: Vec<IncidentUpdate>,
}

/// One `## <time> · <kind>` section of an incident file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    #[serde(with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub kind: UpdateKind,
    /// The markdown as written.
    pub text: String,
    /// The markdown rendered, raw HTML escaped, only http(s) and mailto links.
    pub html: String,
}
