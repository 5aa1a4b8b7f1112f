//! The certificates TLS trusts: the built-in webpki roots plus the host's own store.
//!
//! An internal CA installed on the host (`/etc/ssl/certs`, or `update-ca-certificates`) must
//! work for probes and alert channels alike, and tests add a CA of their own with
//! `SSL_CERT_FILE`. rustls-native-certs reads the system store and honours `SSL_CERT_FILE` and
//! `SSL_CERT_DIR`, as OpenSSL does. The store is read once per process: it is a few hundred
//! certificates, and reading it every cycle would cost more than the probes.

use std::sync::{Arc, OnceLock};

/// What was trusted, and what of the host's store could not be read (for the log).
pub struct Roots {
    pub store: Arc<rustls::RootCertStore>,
    /// Certificates taken from the host's store (0 where it has none).
    pub from_host: usize,
    /// The host's certificates themselves, for a client that takes certificates rather than a
    /// store (lettre, for email alerts).
    pub host_certs: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// Problems reading the host's store; the built-in roots are trusted regardless.
    pub problems: Vec<String>,
}

/// The roots every TLS client of the process uses; built on first use.
pub fn roots() -> &'static Roots {
    static ROOTS: OnceLock<Roots> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let found = rustls_native_certs::load_native_certs();
        let problems: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
        let host_certs = found.certs.clone();
        let (from_host, _ignored) = store.add_parsable_certificates(found.certs);
        for p in &problems {
            tracing::warn!("TLS: part of the host's certificate store could not be read: {p}");
        }
        Roots {
            store: Arc::new(store),
            from_host,
            host_certs,
            problems,
        }
    })
}

/// A rustls client config trusting [`roots`], with the ring provider the binary is built with.
pub fn client_config(alpn: &[&[u8]]) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(Arc::clone(&roots().store))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roots_are_always_there() {
        let roots = roots();
        assert!(roots.store.len() >= webpki_roots::TLS_SERVER_ROOTS.len());
        assert!(client_config(&[b"http/1.1"]).is_ok());
    }
}
