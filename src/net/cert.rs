//! What a TLS peer's certificate says, and why a handshake failed, in words.
//!
//! The probes (`http` over https, `tls`) read the leaf certificate the handshake already
//! received: its validity, issuer and subject become a service's `details`, and its expiry a
//! reason to warn. x509-parser reads the DER; rustls has already verified it. When rustls
//! refuses a certificate, [`handshake_words`] says why as a person would (expired on which day,
//! not for this name, not signed by a trusted CA), not as an enum's debug form.

use chrono::{DateTime, Utc};

/// The facts of a leaf certificate the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub issuer: String,
    pub subject: String,
}

/// Reads the validity, issuer and subject of a DER certificate; `None` when it does not parse
/// (rustls accepted it, so this would be a parser gap, not the peer's fault to report).
pub fn summary(der: &[u8]) -> Option<Summary> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    let time = |t: x509_parser::time::ASN1Time| DateTime::<Utc>::from_timestamp(t.timestamp(), 0);
    Some(Summary {
        not_before: time(validity.not_before)?,
        not_after: time(validity.not_after)?,
        issuer: name(cert.issuer()),
        subject: name(cert.subject()),
    })
}

/// A distinguished name as `CN=…, O=…`, bounded: it comes from the peer.
fn name(dn: &x509_parser::x509::X509Name<'_>) -> String {
    crate::redact::clip(&dn.to_string(), 200)
}

/// Why a TLS handshake failed, in words: the certificate errors rustls reports become what a
/// person checks next; anything else is rustls's own sentence.
pub fn handshake_words(error: &std::io::Error) -> String {
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(e) => rustls_words(e),
        None => error.to_string(),
    }
}

pub fn rustls_words(error: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let day = |t: &rustls::pki_types::UnixTime| {
        DateTime::<Utc>::from_timestamp(t.as_secs() as i64, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "an unreadable date".into())
    };
    match error {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired => "the certificate has expired".into(),
            C::ExpiredContext { not_after, .. } => {
                format!("the certificate expired on {}", day(not_after))
            }
            C::NotValidYet => "the certificate is not valid yet".into(),
            C::NotValidYetContext { not_before, .. } => {
                format!("the certificate is not valid until {}", day(not_before))
            }
            C::NotValidForName => "the certificate is for another name".into(),
            C::NotValidForNameContext { expected, presented } => format!(
                "the certificate is for {}, not {}",
                crate::redact::clip(
                    &presented
                        .iter()
                        .map(|n| bare_name(n))
                        .collect::<Vec<_>>()
                        .join(", "),
                    200
                ),
                crate::redact::clip(&expected.to_str(), 100)
            ),
            C::UnknownIssuer => {
                "the certificate is not signed by a trusted CA (install the CA in the host's store, or set SSL_CERT_FILE)".into()
            }
            C::BadSignature => "the certificate's signature is bad".into(),
            C::Revoked => "the certificate was revoked".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "the certificate is not for TLS servers".into()
            }
            other => format!("the certificate was refused: {other}"),
        },
        other => other.to_string(),
    }
}

/// webpki writes a presented name as `DnsName("example.net")`; a person reads `example.net`.
fn bare_name(name: &str) -> &str {
    match name.split_once("(\"") {
        Some((_, rest)) => rest.strip_suffix("\")").unwrap_or(rest),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_words() {
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert!(rustls_words(&e).contains("not signed by a trusted CA"));
        let e = rustls::Error::InvalidCertificate(rustls::CertificateError::ExpiredContext {
            time: rustls::pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(
                1_800_000_000,
            )),
            not_after: rustls::pki_types::UnixTime::since_unix_epoch(
                std::time::Duration::from_secs(1_700_000_000),
            ),
        });
        assert_eq!(
            rustls_words(&e),
            "the certificate expired on 2023-11-14 22:13 UTC"
        );
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName),
        );
        assert_eq!(handshake_words(&io), "the certificate is for another name");
        assert!(summary(b"not a certificate").is_none());
    }
}
