//! A minimal HTTP/1.1 client: one request on one connection, kept alive from cycle to cycle.
//!
//! Why not reqwest: the budgets (1 ms of CPU a cycle and 6 MiB of RSS at 10 services, see the
//! README) do not fit a pooled client with its channels, tower layers and HTTP/2 code; measured,
//! reqwest and hyper were half of a cycle's CPU, half a MiB of heap and most of the binary's
//! resident code. A probe needs much less: write one request, read one response with a capped
//! body, keep the socket for next time. `httparse` parses the head; this module frames the body
//! (Content-Length, chunked, or until close) and decides whether the connection can be reused.
//!
//! Redirects are not followed: a probe reports what its URL answers. TLS is rustls with the ring
//! provider, trusting the webpki roots and the host's store ([`crate::net::trust`]), set up the first
//! time an https URL is used.
//!
//! **Why one file of ~540 lines (and its tests).** Writing a request, framing the body
//! (length, chunked, until close) and deciding whether the connection may be reused are one
//! state machine over one socket; split, each part would need the others' invariants.

use base64::Engine as _;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use url::{Host, Url};

/// A response head larger than this is refused: no status endpoint needs it.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 64;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open connection to one origin, with any bytes read past the last response.
pub struct Conn {
    io: Box<dyn Io>,
    origin: String,
    /// The peer's leaf certificate (DER) when the connection is TLS: the probes report its
    /// expiry from the handshake they made anyway.
    peer_certificate: Option<Arc<[u8]>>,
}

/// A request to send. Only `GET` requests reuse a kept-alive connection (and retry once on a
/// fresh one if the kept one turns out closed); anything else gets a connection of its own,
/// so a request with effects is never sent twice.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Stop reading the body after this many bytes.
    pub body_cap: usize,
}

impl<'a> Request<'a> {
    pub fn get(url: &'a Url, body_cap: usize) -> Request<'a> {
        Request {
            method: "GET",
            url,
            headers: &[],
            body: &[],
            body_cap,
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
    /// From the start of the request (connect included, when a connection was opened) to the
    /// end of the response head.
    pub latency: Duration,
    /// The server's leaf certificate (DER), for https.
    pub peer_certificate: Option<Arc<[u8]>>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What went wrong, in words for the page. Never includes the URL (it may carry credentials).
// No `#[source]`: the message already ends with the cause, and `{:#}` would repeat it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("connection failed: {0}")]
    Io(std::io::Error),
    #[error("not a valid HTTP response: {0}")]
    Protocol(String),
}

/// Shared by every probe: holds the TLS setup once it is needed.
#[derive(Clone, Default)]
pub struct Client {
    tls: Arc<OnceLock<tokio_rustls::TlsConnector>>,
}

impl Client {
    pub fn new() -> Client {
        Client::default()
    }

    fn tls(&self) -> Result<tokio_rustls::TlsConnector, Error> {
        if let Some(c) = self.tls.get() {
            return Ok(c.clone());
        }
        let config = crate::net::trust::client_config(&[b"http/1.1"])
            .map_err(|e| Error::Tls(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        Ok(self.tls.get_or_init(|| connector).clone())
    }

    /// Sends `request`, on the kept connection in `kept` when it is to the same origin, and
    /// leaves in `kept` the connection to use next time (or `None` when it cannot be reused).
    pub async fn send(
        &self,
        kept: &mut Option<Conn>,
        request: Request<'_>,
    ) -> Result<Response, Error> {
        let origin = origin(request.url)?;
        let reusable = request.method == "GET";
        let old = kept.take().filter(|c| reusable && c.origin == origin);
        if let Some(mut conn) = old {
            match exchange(&mut conn, &request, Instant::now()).await {
                Ok((response, keep)) => {
                    *kept = keep.then_some(conn);
                    return Ok(response);
                }
                // The server closed the idle connection before reading our request: the usual
                // fate of keep-alive. Try once more on a fresh connection.
                Err(Failure::Stale) => {}
                Err(Failure::Error(e)) => return Err(e),
            }
        }
        let start = Instant::now();
        let mut conn = self.connect(request.url, origin).await?;
        match exchange(&mut conn, &request, start).await {
            Ok((response, keep)) => {
                *kept = (keep && reusable).then_some(conn);
                Ok(response)
            }
            Err(Failure::Stale) => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed without an answer",
            ))),
            Err(Failure::Error(e)) => Err(e),
        }
    }

    async fn connect(&self, url: &Url, origin: String) -> Result<Conn, Error> {
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = match url.host() {
            Some(Host::Ipv4(ip)) => TcpStream::connect((ip, port)).await,
            Some(Host::Ipv6(ip)) => TcpStream::connect((ip, port)).await,
            Some(Host::Domain(name)) => TcpStream::connect((name, port)).await,
            None => return Err(Error::Protocol("the URL has no host".into())),
        }
        .map_err(Error::Connect)?;
        // One small write per request: do not let Nagle hold it back.
        let _ = tcp.set_nodelay(true);
        let mut peer_certificate = None;
        let io: Box<dyn Io> = if url.scheme() == "https" {
            let host = url
                .host_str()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_string();
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|e| Error::Tls(e.to_string()))?;
            let tls = self
                .tls()?
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Tls(crate::net::cert::handshake_words(&e)))?;
            peer_certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::from(c.as_ref()));
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        Ok(Conn {
            io,
            origin,
            peer_certificate,
        })
    }
}

/// `scheme://host:port`, the key a kept connection is reused by.
fn origin(url: &Url) -> Result<String, Error> {
    match (url.scheme(), url.host_str(), url.port_or_known_default()) {
        (scheme @ ("http" | "https"), Some(host), Some(port)) => {
            Ok(format!("{scheme}://{host}:{port}"))
        }
        _ => Err(Error::Protocol(
            "only http:// and https:// URLs can be checked".into(),
        )),
    }
}

/// Why an exchange failed: `Stale` when nothing at all came back (on a kept connection, worth
/// one retry on a fresh one), else the error to report.
enum Failure {
    Stale,
    Error(Error),
}

/// Writes the request and reads the response; returns it and whether the connection can be
/// used again.
async fn exchange(
    conn: &mut Conn,
    request: &Request<'_>,
    start: Instant,
) -> Result<(Response, bool), Failure> {
    let head = request_head(request);
    let mut out = Vec::with_capacity(head.len() + request.body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(request.body);
    if conn.io.write_all(&out).await.is_err() {
        return Err(Failure::Stale);
    }
    let mut reader = Reader {
        io: &mut conn.io,
        buf: Vec::with_capacity(4096),
        pos: 0,
    };
    // The head, skipping any 1xx interim responses.
    let (status, reason, headers, version_1_1) = loop {
        let parsed = match reader.head().await {
            Ok(Some(p)) => p,
            Ok(None) => return Err(Failure::Stale),
            Err(e) => return Err(Failure::Error(e)),
        };
        if !(100..200).contains(&parsed.0) || parsed.0 == 101 {
            break parsed;
        }
    };
    let latency = start.elapsed();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let connection = header("connection").unwrap_or("").to_ascii_lowercase();
    let mut keep = if version_1_1 {
        !connection.contains("close")
    } else {
        connection.contains("keep-alive")
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    // Digits only (Rust's parse would take "+5"); a length past usize is refused, not wrapped.
    let length = header("content-length").map(|v| {
        let v = v.trim();
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        v.parse::<usize>().map_err(|_| ())
    });
    let no_body = request.method == "HEAD" || status == 204 || status == 304;
    let cap = request.body_cap;
    let read = if no_body {
        Ok((Vec::new(), false))
    } else if chunked {
        reader.chunked(cap).await
    } else {
        match length {
            Some(Ok(n)) => reader.exact(n, cap).await,
            Some(Err(())) => Err(Error::Protocol(
                "a Content-Length that is not a number of bytes".into(),
            )),
            None => {
                keep = false;
                reader.until_close(cap).await
            }
        }
    };
    let (body, truncated) = read.map_err(Failure::Error)?;
    // Bytes past the response, or a body left unread, make the connection unsafe to reuse.
    if truncated || reader.pos != reader.buf.len() {
        keep = false;
    }
    Ok((
        Response {
            status,
            reason,
            headers,
            body,
            truncated,
            latency,
            peer_certificate: conn.peer_certificate.clone(),
        },
        keep,
    ))
}

fn request_head(request: &Request<'_>) -> String {
    let url = request.url;
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let keep = if request.method == "GET" {
        "keep-alive"
    } else {
        "close"
    };
    let mut head = format!(
        "{} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cortex-status/{}\r\nAccept: application/json, */*;q=0.5\r\nConnection: {keep}\r\n",
        request.method,
        env!("CARGO_PKG_VERSION")
    );
    // Credentials in the URL become Basic auth, as browsers and curl do.
    if !url.username().is_empty() {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let pair = format!(
            "{}:{}",
            decode(url.username()),
            decode(url.password().unwrap_or(""))
        );
        head.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ));
    }
    for (name, value) in request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !request.body.is_empty() || request.method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");
    head
}

/// Buffered reading from the connection; `buf[pos..]` is read but not yet used.
struct Reader<'a> {
    io: &'a mut Box<dyn Io>,
    buf: Vec<u8>,
    pos: usize,
}

type Head = (u16, String, Vec<(String, String)>, bool);

impl Reader<'_> {
    /// Reads more bytes; 0 means the peer closed.
    async fn more(&mut self) -> Result<usize, Error> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        // Straight into the buffer's spare room: a stack array here would be part of every
        // probe task's state (8 KiB each, all in memory at once).
        self.buf.reserve(4096);
        self.io.read_buf(&mut self.buf).await.map_err(Error::Io)
    }

    /// The next response head; `None` if the peer closed before sending a byte of it.
    async fn head(&mut self) -> Result<Option<Head>, Error> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[self.pos..]) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = (
                        response.code.unwrap_or(0),
                        response.reason.unwrap_or("").to_string(),
                        response
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_string(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                        response.version == Some(1),
                    );
                    self.pos += len;
                    return Ok(Some(head));
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(Error::Protocol(e.to_string())),
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(Error::Protocol("the response head is too large".into()));
            }
            let started = self.buf.len() > self.pos;
            match self.more().await {
                Ok(0) if started => {
                    return Err(Error::Protocol(
                        "the connection closed in the middle of the head".into(),
                    ));
                }
                Ok(0) => return Ok(None),
                Ok(_) => {}
                // A kept connection the server has closed answers with a reset rather than an
                // end of file when our request reached it after the close: stale, not broken.
                Err(Error::Io(e))
                    if !started
                        && matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionReset
                                | std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::BrokenPipe
                        ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes up to `n` buffered-or-read bytes into `out`, stopping at `cap`. Returns false if the
    /// peer closed first.
    async fn take(&mut self, mut n: usize, out: &mut Vec<u8>, cap: usize) -> Result<bool, Error> {
        while n > 0 {
            if self.pos == self.buf.len() && self.more().await? == 0 {
                return Ok(false);
            }
            let have = (self.buf.len() - self.pos).min(n);
            let room = cap.saturating_sub(out.len()).min(have);
            out.extend_from_slice(&self.buf[self.pos..self.pos + room]);
            self.pos += have;
            n -= have;
            if out.len() >= cap && n > 0 {
                return Ok(true);
            }
        }
        Ok(true)
    }

    async fn exact(&mut self, n: usize, cap: usize) -> Result<(Vec<u8>, bool), Error> {
        let mut body = Vec::with_capacity(n.min(cap));
        if n > cap {
            self.take(cap, &mut body, cap).await?;
            return Ok((body, true));
        }
        if !self.take(n, &mut body, cap).await? {
            return Err(Error::Protocol(format!(
                "the body ended after {} of {n} bytes",
                body.len()
            )));
        }
        Ok((body, false))
    }

    async fn until_close(&mut self, cap: usize) -> Result<(Vec<u8>, bool), Error> {
        let mut body = Vec::new();
        loop {
            let have = self.buf.len() - self.pos;
            let room = cap - body.len();
            body.extend_from_slice(&self.buf[self.pos..self.pos + have.min(room)]);
            self.pos = self.buf.len();
            if body.len() >= cap {
                return Ok((body, true));
            }
            if self.more().await? == 0 {
                return Ok((body, false));
            }
        }
    }

    /// One CRLF-terminated line (without the CRLF), at most 4 KiB.
    async fn line(&mut self) -> Result<String, Error> {
        loop {
            if let Some(end) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                let line =
                    String::from_utf8_lossy(&self.buf[self.pos..self.pos + end]).into_owned();
                self.pos += end + 2;
                return Ok(line);
            }
            if self.buf.len() - self.pos > 4096 {
                return Err(Error::Protocol("a chunk line is too long".into()));
            }
            if self.more().await? == 0 {
                return Err(Error::Protocol("the chunked body broke off".into()));
            }
        }
    }

    async fn chunked(&mut self, cap: usize) -> Result<(Vec<u8>, bool), Error> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            // Hex digits only (from_str_radix would take a sign); the text quoted is clipped.
            let size = Some(size_text)
                .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|t| usize::from_str_radix(t, 16).ok())
                .ok_or_else(|| {
                    Error::Protocol(format!(
                        "a bad chunk size {:?}",
                        crate::redact::clip(size_text, 40)
                    ))
                })?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line().await?.is_empty() {}
                return Ok((body, false));
            }
            // `size` is the peer's number, up to usize::MAX: compare without adding to it.
            if size > cap - body.len() {
                let room = cap - body.len();
                self.take(room, &mut body, cap).await?;
                return Ok((body, true));
            }
            if !self.take(size, &mut body, cap).await? {
                return Err(Error::Protocol("the chunked body broke off".into()));
            }
            if !self.line().await?.is_empty() {
                return Err(Error::Protocol("a chunk is longer than its size".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server that answers each request with the next scripted bytes. `close` ends the
    /// connection after each answer. Records every request head it read.
    struct Script {
        addr: SocketAddr,
        connections: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<String>>>,
    }

    fn script(answers: Vec<&'static [u8]>, close: bool) -> Script {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
        std::thread::spawn(move || {
            let mut answers = answers.into_iter();
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                c.fetch_add(1, Ordering::SeqCst);
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => break,
                        }
                    }
                    if !head.ends_with(b"\r\n\r\n") {
                        break;
                    }
                    r.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).into_owned());
                    let Some(answer) = answers.next() else { return };
                    stream.write_all(answer).unwrap();
                    if close {
                        break;
                    }
                }
            }
        });
        Script {
            addr,
            connections,
            requests,
        }
    }

    fn url(addr: SocketAddr, path: &str) -> Url {
        Url::parse(&format!("http://{addr}{path}")).unwrap()
    }

    async fn get(client: &Client, kept: &mut Option<Conn>, url: &Url) -> Result<Response, Error> {
        client.send(kept, Request::get(url, 1024)).await
    }

    #[tokio::test]
    async fn keeps_the_connection_and_frames_each_kind_of_body() {
        let s = script(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
                b"HTTP/1.1 204 No Content\r\n\r\n",
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ],
            false,
        );
        let client = Client::new();
        let mut kept = None;
        let u = url(s.addr, "/status?x=1");
        let r = get(&client, &mut kept, &u).await.unwrap();
        assert_eq!(
            (r.status, r.reason.as_str(), r.body.as_slice()),
            (200, "OK", &b"hello"[..])
        );
        assert!(kept.is_some(), "HTTP/1.1 keeps the connection");
        let r = get(&client, &mut kept, &u).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"abcde"[..]));
        let r = get(&client, &mut kept, &u).await.unwrap();
        assert_eq!((r.status, r.body.len()), (204, 0));
        let r = get(&client, &mut kept, &u).await.unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"ok"[..]),
            "1xx is skipped"
        );
        assert_eq!(
            s.connections.load(Ordering::SeqCst),
            1,
            "four requests, one connection"
        );
        let first = &s.requests.lock().unwrap()[0];
        assert!(first.starts_with("GET /status?x=1 HTTP/1.1\r\n"), "{first}");
        assert!(first.contains(&format!("Host: {}\r\n", s.addr)));
    }

    #[tokio::test]
    async fn a_closed_kept_connection_is_retried_once_on_a_fresh_one() {
        let s = script(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
            ],
            true,
        );
        let client = Client::new();
        let mut kept = None;
        let u = url(s.addr, "/");
        assert_eq!(get(&client, &mut kept, &u).await.unwrap().body, b"a");
        assert!(kept.is_some(), "the server did not say close");
        // The server closed it anyway; the next request notices and reconnects.
        assert_eq!(get(&client, &mut kept, &u).await.unwrap().body, b"b");
        assert_eq!(s.connections.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn close_delimited_and_http_1_0_bodies_end_the_connection() {
        let s = script(vec![b"HTTP/1.0 200 OK\r\n\r\nall of it"], true);
        let client = Client::new();
        let mut kept = None;
        let r = get(&client, &mut kept, &url(s.addr, "/")).await.unwrap();
        assert_eq!(r.body, b"all of it");
        assert!(kept.is_none());
    }

    #[tokio::test]
    async fn bodies_are_capped() {
        static BIG: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n";
        let s = script(vec![BIG], false);
        let client = Client::new();
        let mut kept = None;
        // The server sends only the head: a capped read must not wait for the 4000 bytes.
        let r = client
            .send(&mut kept, Request::get(&url(s.addr, "/"), 0))
            .await
            .unwrap();
        assert!(r.truncated && r.body.is_empty());
        assert!(
            kept.is_none(),
            "an unread body makes the connection unusable"
        );
    }

    #[tokio::test]
    async fn garbage_and_broken_bodies_are_errors_with_words() {
        let s = script(vec![b"\x00\xffnot http\r\n\r\n"], true);
        let e = get(&Client::new(), &mut None, &url(s.addr, "/"))
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("not a valid HTTP response"),
            "{e}"
        );
        let s = script(
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
            true,
        );
        let e = get(&Client::new(), &mut None, &url(s.addr, "/"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("ended after 5 of 10 bytes"), "{e}");
        let s = script(
            vec![b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
            true,
        );
        let e = get(&Client::new(), &mut None, &url(s.addr, "/"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("bad chunk size"), "{e}");
        let closed = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = get(&Client::new(), &mut None, &url(closed, "/"))
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("cannot connect"), "{e}");
    }

    #[tokio::test]
    async fn huge_lengths_and_chunk_sizes_are_capped_or_refused_never_overflowed() {
        let s = script(
            vec![
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\nffffffffffffffff\r\nbc",
                b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nxyz",
                b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: +3\r\n\r\nabc",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n",
            ],
            true,
        );
        let client = Client::new();
        let u = url(s.addr, "/");
        let r = get(&client, &mut None, &u).await.unwrap();
        assert!(r.truncated && r.body.starts_with(b"a"), "{r:?}");
        let r = get(&client, &mut None, &u).await.unwrap();
        assert!(r.truncated && r.body == b"xyz", "{r:?}");
        for _ in 0..2 {
            let e = get(&client, &mut None, &u).await.unwrap_err();
            assert!(e.to_string().contains("Content-Length"), "{e}");
        }
        let e = get(&client, &mut None, &u).await.unwrap_err();
        assert!(e.to_string().contains("bad chunk size"), "{e}");
    }

    #[tokio::test]
    async fn credentials_in_the_url_become_basic_auth_and_post_sends_its_body() {
        let s = script(
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
            ],
            false,
        );
        let client = Client::new();
        let mut kept = None;
        let with_user = Url::parse(&format!("http://us%20er:p%40ss@{}/", s.addr)).unwrap();
        get(&client, &mut kept, &with_user).await.unwrap();
        let head = s.requests.lock().unwrap()[0].clone();
        // base64("us er:p@ss")
        assert!(
            head.contains("Authorization: Basic dXMgZXI6cEBzcw==\r\n"),
            "{head}"
        );
        let request = Request {
            method: "POST",
            url: &url(s.addr, "/task"),
            headers: &[("Content-Type", "application/json")],
            body: b"{}",
            body_cap: 1024,
        };
        let r = client.send(&mut kept, request).await.unwrap();
        assert_eq!(r.status, 202);
        assert!(kept.is_none(), "a POST never leaves a connection for reuse");
    }

    mod properties {
        //! Any bytes a server may answer, and heads with random framing numbers, through the
        //! response reader: it never panics, and a body it returns is within the cap.
        use super::*;
        use proptest::prelude::*;

        const CAP: usize = 4096;

        /// Runs one exchange against a server that answers `response` and closes.
        fn exchange_with(response: Vec<u8>) -> Option<Response> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let (client, mut server) = tokio::io::duplex(1 << 16);
                let mut conn = Conn {
                    io: Box::new(client),
                    origin: "http://peer:80".into(),
                    peer_certificate: None,
                };
                let url = Url::parse("http://peer/").unwrap();
                let ask = async move {
                    let result =
                        exchange(&mut conn, &Request::get(&url, CAP), Instant::now()).await;
                    // Closing our end ends a server still writing past the cap.
                    drop(conn);
                    result
                };
                let answer = async move {
                    let _ = server.write_all(&response).await;
                    let _ = server.shutdown().await;
                };
                let (result, ()) = tokio::join!(ask, answer);
                match result {
                    Ok((response, _)) => Some(response),
                    Err(_) => None,
                }
            })
        }

        /// A number where a length or chunk size goes, as a server might write it.
        fn number() -> impl Strategy<Value = String> {
            prop_oneof![
                (0usize..10_000).prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<u128>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                any::<u64>().prop_map(|n| format!("{n:x}")),
                prop::sample::select(vec![
                    "",
                    "+5",
                    "-1",
                    "ffffffffffffffff",
                    "10000000000000000",
                    " 5 ",
                    "5, 6",
                    "0x10",
                    "1e3",
                ])
                .prop_map(str::to_string),
            ]
        }

        fn framed() -> impl Strategy<Value = Vec<u8>> {
            (
                prop_oneof![Just(true), Just(false)],
                number(),
                proptest::collection::vec((number(), 0usize..64), 0..6),
                proptest::collection::vec(any::<u8>(), 0..256),
            )
                .prop_map(|(chunked, length, chunks, tail)| {
                    let mut out = if chunked {
                        let mut head =
                            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                        for (size, len) in chunks {
                            head.extend_from_slice(format!("{size}\r\n").as_bytes());
                            head.extend(std::iter::repeat_n(b'x', len));
                            head.extend_from_slice(b"\r\n");
                        }
                        head
                    } else {
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n").into_bytes()
                    };
                    out.extend_from_slice(&tail);
                    out
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn framing_numbers_never_panic_and_bodies_stay_capped(response in framed()) {
                if let Some(r) = exchange_with(response) {
                    prop_assert!(r.body.len() <= CAP);
                }
            }

            #[test]
            fn any_bytes_never_panic(response in proptest::collection::vec(any::<u8>(), 0..3000)) {
                if let Some(r) = exchange_with(response) {
                    prop_assert!(r.body.len() <= CAP);
                }
            }
        }
    }
}
