//! TLS peers for the tests: a certificate authority the test makes, certificates it issues
//! (valid, expiring soon, expired, for another name), and a TLS server on loopback that answers
//! every connection with fixed bytes after the handshake.
//!
//! The daemon is told to trust the CA through `SSL_CERT_FILE` ([`TestCa::ca_file`]), as a host
//! with an internal CA would through its certificate store.

use chrono::{DateTime, Datelike, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub dir: tempfile::TempDir,
}

/// A certificate and its key, as PEM text and as files in the CA's directory.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// The day of `at`, as rcgen takes validity times.
macro_rules! rcgen_time {
    ($at:expr) => {{
        let at: DateTime<Utc> = $at;
        rcgen::date_time_ymd(at.year(), at.month() as u8, at.day() as u8)
    }};
}

impl TestCa {
    /// A new CA named `name`, valid from a year ago for ten years.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "cortex-status tests");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = Utc::now();
        params.not_before = rcgen_time!(now - Duration::days(365));
        params.not_after = rcgen_time!(now + Duration::days(3650));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
        TestCa { issuer, dir }
    }

    /// The CA's certificate as a PEM file: give it to the daemon as `SSL_CERT_FILE`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (DNS names or IP addresses), valid between the two
    /// times (whole days: X.509 validity is kept to the day here), saved as `<file>.pem` and
    /// `<file>.key`.
    pub fn issue(
        &self,
        file: &str,
        names: &[&str],
        valid_from: DateTime<Utc>,
        valid_to: DateTime<Utc>,
    ) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().copied().unwrap_or("test"));
        params.distinguished_name = dn;
        params.not_before = rcgen_time!(valid_from);
        params.not_after = rcgen_time!(valid_to);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_file: self.dir.path().join(format!("{file}.pem")),
            key_file: self.dir.path().join(format!("{file}.key")),
        };
        std::fs::write(&issued.cert_file, &issued.cert_pem).unwrap();
        std::fs::write(&issued.key_file, &issued.key_pem).unwrap();
        issued
    }

    /// A certificate for `names` valid from a week ago until `days` from now (negative: expired).
    pub fn issue_for_days(&self, file: &str, names: &[&str], days: i64) -> Issued {
        let now = Utc::now();
        let from = now - Duration::days(7).max(Duration::days(1 - days));
        self.issue(file, names, from, now + Duration::days(days))
    }
}

/// A TLS server on 127.0.0.1 (port 0): after each handshake it reads what the client sends
/// (up to a blank line, or nothing for a non-HTTP client) and writes `answer`, then closes.
pub struct TlsServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Issued {
    /// A rustls server config presenting this certificate (ring, as the binary is built).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key =
            rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Arc::new(config)
    }
}

impl TlsServer {
    pub fn start(issued: &Issued, answer: &[u8]) -> TlsServer {
        let config = issued.server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answer = answer.to_vec();
        let stopping = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, answer) = (Arc::clone(&config), answer.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    // Read the request head if one comes (HTTP); a bare TLS client sends none.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                        match tls.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => break,
                        }
                    }
                    let _ = tls.write_all(&answer);
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        TlsServer { addr, stop }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// A plain HTTP answer with `body`, closing the connection.
pub fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The helper itself: a client trusting only the test CA completes a handshake with a
    /// valid certificate and refuses an expired one.
    #[test]
    fn a_client_trusting_the_ca_accepts_valid_and_refuses_expired() {
        let ca = TestCa::new("Test CA");
        let good = TlsServer::start(&ca.issue_for_days("good", &["localhost"], 30), b"hi");
        let old = TlsServer::start(&ca.issue_for_days("old", &["localhost"], -2), b"hi");
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::CertificateDer::pem_file_iter(ca.ca_file()).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        );
        let fetch = |addr: SocketAddr| {
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            let conn = rustls::ClientConnection::new(Arc::clone(&config), name).unwrap();
            let mut tls =
                rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr).unwrap());
            tls.write_all(b"GET / HTTP/1.1\r\n\r\n")?;
            let mut out = Vec::new();
            tls.read_to_end(&mut out).map(|_| out)
        };
        assert_eq!(fetch(good.addr).unwrap(), b"hi");
        let err = fetch(old.addr).unwrap_err().to_string();
        assert!(err.to_lowercase().contains("expired"), "{err}");
    }
}
