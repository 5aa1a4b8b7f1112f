//! The `tls` probe, and the certificate facts every TLS check reports.
//!
//! `kind = "tls"` connects to `address`, completes a TLS handshake for `server_name` (default:
//! the address's host) against the roots of [`crate::net::trust`], and sends nothing: it checks
//! services that speak TLS but not HTTP (SMTPS, IMAPS, a database). The leaf certificate's
//! expiry, issuer and subject go into `details` ([`certificate`]), as for https services;
//! `cert_warn` turns a certificate that expires sooner `degraded`. A refused certificate is
//! `down` with the reason in words ([`crate::net::cert`]).

use super::{Outcome, degrade_if_slow};
use crate::net::cert::{self, Summary};
use crate::snapshot::{Status, format_time};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub async fn check(
    address: &str,
    server_name: Option<&str>,
    cert_warn: Duration,
    degraded_after: Option<Duration>,
) -> Outcome {
    let start = Instant::now();
    let host = server_name.map(str::to_string).unwrap_or_else(|| {
        address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_string()
    });
    let name = match rustls::pki_types::ServerName::try_from(host) {
        Ok(n) => n,
        Err(e) => return Outcome::down(format!("not a server name: {e}")),
    };
    let tcp = match TcpStream::connect(address).await {
        Ok(t) => t,
        Err(e) => return Outcome::down(format!("cannot connect: {e}")),
    };
    let connector = match connector() {
        Ok(c) => c,
        Err(e) => return Outcome::down(format!("TLS cannot be set up: {e}")),
    };
    let tls = match connector.connect(name, tcp).await {
        Ok(t) => t,
        Err(e) => return Outcome::down(format!("TLS failed: {}", cert::handshake_words(&e))),
    };
    let latency = start.elapsed();
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let (status, error) = degrade_if_slow(Status::Up, None, latency, degraded_after);
    let mut outcome = Outcome::new(status, Some(latency), error);
    certificate(&mut outcome, der.as_deref(), cert_warn);
    outcome
}

/// One connector for every `tls` probe of the process, without ALPN (the service is not HTTP).
fn connector() -> Result<tokio_rustls::TlsConnector, rustls::Error> {
    static CONNECTOR: OnceLock<tokio_rustls::TlsConnector> = OnceLock::new();
    if let Some(c) = CONNECTOR.get() {
        return Ok(c.clone());
    }
    let config = crate::net::trust::client_config(&[])?;
    Ok(CONNECTOR
        .get_or_init(|| tokio_rustls::TlsConnector::from(Arc::new(config)))
        .clone())
}

/// Adds the leaf certificate's facts to `details`, and turns an `up` outcome `degraded` when
/// the certificate expires within `cert_warn`.
pub fn certificate(outcome: &mut Outcome, der: Option<&[u8]>, cert_warn: Duration) {
    let Some(summary) = der.and_then(cert::summary) else {
        return;
    };
    let now = chrono::Utc::now();
    apply(outcome, &summary, now, cert_warn);
}

fn apply(
    outcome: &mut Outcome,
    c: &Summary,
    now: chrono::DateTime<chrono::Utc>,
    cert_warn: Duration,
) {
    let left = c.not_after - now;
    let days_left = left.num_seconds().div_euclid(86_400);
    let d = &mut outcome.details;
    d.insert("cert_expires_at".into(), json!(format_time(&c.not_after)));
    d.insert("cert_days_left".into(), json!(days_left));
    d.insert("cert_issuer".into(), Value::String(c.issuer.clone()));
    d.insert("cert_subject".into(), Value::String(c.subject.clone()));
    let warn = chrono::Duration::from_std(cert_warn).unwrap_or(chrono::Duration::MAX);
    if outcome.status == Status::Up && left < warn {
        outcome.status = Status::Degraded;
        outcome.error = Some(format!(
            "the certificate expires in {} ({}), within cert_warn {}",
            in_words(left),
            c.not_after.format("%Y-%m-%d %H:%M UTC"),
            humantime::format_duration(cert_warn)
        ));
    }
}

/// "3 days", "1 day", "5 hours": how long until expiry, as a person says it.
fn in_words(left: chrono::Duration) -> String {
    let days = left.num_days();
    if days >= 2 {
        format!("{days} days")
    } else if days == 1 {
        "1 day".into()
    } else {
        let hours = left.num_hours().max(0);
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn summary(days: i64, now: chrono::DateTime<chrono::Utc>) -> Summary {
        Summary {
            not_before: now - chrono::Duration::days(30),
            not_after: now + chrono::Duration::days(days) + chrono::Duration::minutes(5),
            issuer: "CN=Test CA".into(),
            subject: "CN=localhost".into(),
        }
    }

    #[test]
    fn expiry_within_cert_warn_is_degraded_with_the_reason() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 24, 10, 0, 0)
            .unwrap();
        let warn = Duration::from_secs(14 * 86_400);
        let mut o = Outcome::new(Status::Up, None, None);
        apply(&mut o, &summary(3, now), now, warn);
        assert_eq!(o.status, Status::Degraded);
        let e = o.error.unwrap();
        assert!(
            e.starts_with("the certificate expires in 3 days (2026-11-27"),
            "{e}"
        );
        assert_eq!(o.details["cert_days_left"], 3);
        assert_eq!(o.details["cert_expires_at"], "2026-11-27T10:05:00Z");
        let mut o = Outcome::new(Status::Up, None, None);
        apply(&mut o, &summary(30, now), now, warn);
        assert_eq!((o.status, o.error), (Status::Up, None));
        assert_eq!(o.details["cert_issuer"], "CN=Test CA");
    }
}
