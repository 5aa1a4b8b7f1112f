//! `kind = "email"`: real SMTP through lettre, with STARTTLS (required, not optional: a server
//! that does not offer it is an error, never a plain-text fallback), implicit TLS, or none (a
//! relay on this host). The message has a plain-text and an HTML part. TLS trusts what every
//! TLS client of the process trusts (`crate::net::trust`: the webpki roots, the host's store,
//! `SSL_CERT_FILE`).

use super::Event;
use crate::config::{Channel, SmtpTls};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

pub async fn send(channel: &Channel, timeout: Duration, event: &Event) -> Result<(), String> {
    let Channel::Email {
        host,
        port,
        tls,
        username,
        password,
        from,
        to,
    } = channel
    else {
        return Err("not an email channel".into());
    };
    let params = || -> Result<TlsParameters, String> {
        let mut b =
            TlsParameters::builder(host.clone()).certificate_store(CertificateStore::WebpkiRoots);
        for der in &crate::net::trust::roots().host_certs {
            if let Ok(c) = Certificate::from_der(der.to_vec()) {
                b = b.add_root_certificate(c);
            }
        }
        b.build_rustls()
            .map_err(|e| format!("TLS setup failed: {e}"))
    };
    let tls = match tls {
        SmtpTls::Starttls => Tls::Required(params()?),
        SmtpTls::Implicit => Tls::Wrapper(params()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(*port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(u), Some(p)) = (username, password) {
        builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
    }
    let transport = builder.build();
    let message = message(from, to, event)?;
    transport
        .send(message)
        .await
        .map(drop)
        .map_err(|e| format!("SMTP: {e}"))
}

fn message(from: &str, to: &[String], event: &Event) -> Result<Message, String> {
    let mailbox = |a: &str| a.parse::<Mailbox>().map_err(|e| format!("{a:?}: {e}"));
    let mut b = Message::builder()
        .from(mailbox(from)?)
        .subject(event.title.clone());
    for a in to {
        b = b.to(mailbox(a)?);
    }
    b.multipart(MultiPart::alternative_plain_html(
        event.text.clone(),
        event.html(),
    ))
    .map_err(|e| format!("cannot build the message: {e}"))
}
