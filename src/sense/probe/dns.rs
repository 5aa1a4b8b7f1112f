//! The `dns` probe: resolve `query` for one record type with hickory-resolver, and compare the
//! answers with `expect`.
//!
//! A resolver is built per check (from `resolver = "ip:port"`, or the host's
//! `/etc/resolv.conf`) with no cache, one attempt and the service's timeout, so every check
//! asks the server and a check never outlives its timeout. Up when every expected answer is
//! present (or, without `expect`, when there is any answer); down on NXDOMAIN, no records,
//! SERVFAIL or a refusal, a timeout, or a mismatch — always with the answer shown.

use super::Outcome;
use crate::config::DnsRecord;
use crate::snapshot::Status;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// At most this many answers are kept in `details` and shown in a message.
const MAX_ANSWERS: usize = 16;

pub async fn check(
    query: &str,
    record: DnsRecord,
    resolver: Option<SocketAddr>,
    expect: &[String],
    timeout: Duration,
    degraded_after: Option<Duration>,
) -> Outcome {
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    let provider = TokioRuntimeProvider::default();
    let builder = match resolver {
        Some(addr) => {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for c in &mut server.connections {
                c.port = addr.port();
            }
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), vec![server]),
                provider,
            )
        }
        None => match TokioResolver::builder(provider) {
            Ok(b) => b,
            Err(e) => {
                return Outcome::new(
                    Status::Unknown,
                    None,
                    Some(format!("the host's resolvers cannot be read: {e}")),
                );
            }
        },
    };
    let mut builder = builder;
    *builder.options_mut() = opts;
    let resolver = match builder.build() {
        Ok(r) => r,
        Err(e) => return Outcome::down(format!("the resolver cannot be set up: {e}")),
    };
    let start = Instant::now();
    let result = resolver.lookup(query, record_type(record)).await;
    let latency = start.elapsed();
    let mut outcome = match result {
        Err(e) => {
            let why = if e.is_nx_domain() {
                format!("{query} does not exist (NXDOMAIN)")
            } else if e.is_no_records_found() {
                format!("{query} has no {} record", record.as_str())
            } else if matches!(e, hickory_resolver::net::NetError::Timeout) {
                "the DNS server did not answer (timeout)".to_string()
            } else {
                format!("the lookup failed: {e}")
            };
            let mut o = Outcome::down(why);
            o.latency = Some(latency);
            o
        }
        Ok(lookup) => {
            let answers: Vec<String> = lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == record_type(record))
                .map(|r| answer_text(&r.data))
                .take(MAX_ANSWERS)
                .collect();
            let (status, error) = compare(&answers, expect);
            let (status, error) = super::degrade_if_slow(status, error, latency, degraded_after);
            let mut o = Outcome::new(status, Some(latency), error);
            o.details.insert(
                "answers".into(),
                Value::Array(answers.into_iter().map(Value::String).collect()),
            );
            o
        }
    };
    outcome.details.insert("query".into(), json!(query));
    outcome
        .details
        .insert("record".into(), json!(record.as_str()));
    outcome
}

fn record_type(r: DnsRecord) -> RecordType {
    match r {
        DnsRecord::A => RecordType::A,
        DnsRecord::Aaaa => RecordType::AAAA,
        DnsRecord::Cname => RecordType::CNAME,
        DnsRecord::Mx => RecordType::MX,
        DnsRecord::Txt => RecordType::TXT,
        DnsRecord::Ns => RecordType::NS,
    }
}

/// One answer as written in a zone file, names without the final dot: what `expect` holds.
fn answer_text(data: &RData) -> String {
    let name =
        |n: &hickory_resolver::proto::rr::Name| n.to_string().trim_end_matches('.').to_string();
    let text = match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::CNAME(c) => name(&c.0),
        RData::NS(n) => name(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference, name(&mx.exchange)),
        RData::TXT(txt) => txt
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    };
    // A TXT record is anyone's text: a URL in it loses its userinfo and query, as everywhere.
    crate::redact::clip(&crate::redact::text(&text), 256)
}

/// Up when every expected answer is among the answers (names compared without case or final
/// dot); with nothing expected, when there is an answer at all.
fn compare(answers: &[String], expect: &[String]) -> (Status, Option<String>) {
    let norm = |s: &str| s.trim().trim_end_matches('.').to_ascii_lowercase();
    let have: Vec<String> = answers.iter().map(|a| norm(a)).collect();
    let shown = if answers.is_empty() {
        "no answer".to_string()
    } else {
        answers.join(", ")
    };
    if expect.is_empty() {
        return if answers.is_empty() {
            (Status::Down, Some("no answer".into()))
        } else {
            (Status::Up, None)
        };
    }
    let missing: Vec<&String> = expect.iter().filter(|e| !have.contains(&norm(e))).collect();
    if missing.is_empty() {
        (Status::Up, None)
    } else {
        let want: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        (
            Status::Down,
            Some(format!("expected {}, answered {shown}", want.join(", "))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_when_every_expected_one_is_there() {
        let a = vec!["10.1.2.3".to_string(), "Mail.Example.net.".to_string()];
        assert_eq!(compare(&a, &["10.1.2.3".into()]).0, Status::Up);
        assert_eq!(compare(&a, &["mail.example.net".into()]).0, Status::Up);
        assert_eq!(compare(&a, &[]).0, Status::Up);
        let (s, e) = compare(&a, &["10.9.9.9".into()]);
        assert_eq!(s, Status::Down);
        assert_eq!(
            e.unwrap(),
            "expected 10.9.9.9, answered 10.1.2.3, Mail.Example.net."
        );
        assert_eq!(compare(&[], &[]).1.unwrap(), "no answer");
    }
}
