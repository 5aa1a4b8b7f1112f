//! The one place an answer's status is chosen, and the bodies answers are made of.
//!
//! A leaf of `serve`: the listener ([`super`]), the preview ([`super::preview`]) and the task
//! endpoint ([`super::tasks`]) all build their responses here, and this module imports none of
//! them. Every error under `/api/` is an [`ApiError`], which maps itself to a status, the
//! headers that go with it (`Retry-After`, `Allow`) and a JSON body, in [`ApiError::status`]
//! and [`ApiError::into_response_with`]. The preview's plain-text refusals (404, 405, 500) are
//! [`PageError`]. The one-shot 503 for a connection over the cap is written as raw bytes by the
//! listener before hyper sees the connection, so it cannot be a `Response`.

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Frame, SizeHint};
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use std::fs::File;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What every handler answers with: bytes in memory, or a file read as the client takes it.
pub type Body = Either<Full<Bytes>, FileBody>;

/// A header value we build ourselves: always valid, else a bug.
pub fn with_header(mut response: Response<Body>, name: HeaderName, value: &str) -> Response<Body> {
    response.headers_mut().insert(
        name,
        HeaderValue::from_str(value).expect("header value is visible ASCII"),
    );
    response
}

/// Every `/api/` answer: JSON, never cached.
pub fn json(status: StatusCode, body: &Value) -> Response<Body> {
    let mut bytes = serde_json::to_vec(body).expect("JSON value serialises");
    bytes.push(b'\n');
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(bytes))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn text(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from_static(text.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The preview's refusals, in plain text: it serves a site, not an API.
#[derive(Debug, Clone, Copy)]
pub enum PageError {
    NotFound,
    /// Anything but GET and HEAD.
    MethodNotAllowed,
    /// The blocking task that reads the file failed (a bug, or the runtime shutting down).
    Internal,
}

impl PageError {
    pub fn into_response(self) -> Response<Body> {
        match self {
            PageError::NotFound => text(StatusCode::NOT_FOUND, "404 not found\n"),
            PageError::MethodNotAllowed => with_header(
                text(StatusCode::METHOD_NOT_ALLOWED, "405 method not allowed\n"),
                header::ALLOW,
                "GET, HEAD",
            ),
            PageError::Internal => text(StatusCode::INTERNAL_SERVER_ERROR, "500 internal error\n"),
        }
    }
}

/// Every error under `/api/`, and so every status other than 200, 202 and 304 we answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("the password is missing or wrong (send it as Authorization: Bearer <password>)")]
    Unauthorized,
    /// A heartbeat ping without the service's token.
    #[error(
        "the token is missing or wrong (send the service's token as Authorization: Bearer <token>)"
    )]
    WrongToken,
    #[error("requests from the origin {0} are not allowed")]
    ForeignOrigin(String),
    #[error("no such endpoint: {0}")]
    NotFound(String),
    #[error("{method} is not allowed here; use {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("{0}")]
    TooLarge(String),
    #[error("send the prompt as application/json or application/x-www-form-urlencoded, not {0:?}")]
    UnsupportedType(String),
    #[error("too many wrong passwords from this address; try again in {0} s")]
    TooManyAttempts(u64),
    #[error("Symbiont answered {status}: {message}")]
    Upstream { status: u16, message: String },
    #[error("Symbiont cannot be reached: {0}")]
    Unreachable(String),
    #[error("tasks are not configured: {0}")]
    NotConfigured(String),
    #[error("the endpoint is busy; try again in a moment")]
    Busy,
    #[error("Symbiont did not answer within {0}")]
    Timeout(String),
    #[error("the request body did not arrive within {0} s")]
    SlowBody(u64),
    /// `/api/health` asked with another method than GET or HEAD.
    #[error("use GET for {0}")]
    GetOnly(&'static str),
    /// A path outside `/api/` while `serve_public` is off.
    #[error("this server only answers /api/ (serve_public is off)")]
    NotServed,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::SlowBody(_) => 408,
            ApiError::Unauthorized | ApiError::WrongToken => 401,
            ApiError::ForeignOrigin(_) => 403,
            ApiError::NotFound(_) | ApiError::NotServed => 404,
            ApiError::MethodNotAllowed { .. } | ApiError::GetOnly(_) => 405,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedType(_) => 415,
            ApiError::TooManyAttempts(_) => 429,
            ApiError::Upstream { .. } | ApiError::Unreachable(_) => 502,
            ApiError::NotConfigured(_) | ApiError::Busy => 503,
            ApiError::Timeout(_) => 504,
        }
    }

    /// The headers that go with the status: `Retry-After` for 429, `Allow` for 405.
    fn extra_header(&self) -> Option<(HeaderName, String)> {
        match self {
            ApiError::TooManyAttempts(s) => Some((header::RETRY_AFTER, s.to_string())),
            ApiError::MethodNotAllowed { allow, .. } => Some((header::ALLOW, (*allow).to_string())),
            ApiError::GetOnly(_) => Some((header::ALLOW, "GET, HEAD".to_string())),
            _ => None,
        }
    }

    /// The response: status, its headers, and `{"error": "…"}`, after `scrub` has had every
    /// string of the body (the task endpoint takes its secrets out there).
    pub fn into_response_with(self, scrub: impl FnOnce(&mut Value)) -> Response<Body> {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = self.body();
        scrub(&mut body);
        let response = json(status, &body);
        match self.extra_header() {
            Some((name, value)) => with_header(response, name, &value),
            None => response,
        }
    }

    /// The response, for errors whose text holds nothing secret.
    pub fn into_response(self) -> Response<Body> {
        self.into_response_with(|_| {})
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({ "error": self.to_string() });
        if let ApiError::Upstream { status, .. } = self {
            body["symbiont_status"] = json!(status);
        }
        body
    }
}

/// Files are read and sent in pieces of this size: a page fits in one, and a large file never
/// sits whole in memory, however many clients ask for it.
const CHUNK: usize = 64 * 1024;

/// A file's content as a response body: the first piece read with the open (one trip to the
/// blocking pool serves a page), the rest a piece at a time as the client takes it.
pub struct FileBody {
    first: Option<Bytes>,
    file: Option<File>,
    /// Bytes still to send after `first`.
    left: u64,
    reading: Option<tokio::task::JoinHandle<(File, std::io::Result<Bytes>)>>,
}

impl FileBody {
    pub(super) fn start(file: &mut File, len: u64) -> std::io::Result<FileBody> {
        let first = read_piece(file, len)?;
        Ok(FileBody {
            left: len - first.len() as u64,
            first: Some(first),
            file: None,
            reading: None,
        })
    }

    /// A body that fits in its first piece goes out as plain bytes.
    pub(super) fn into_body(mut self, file: File) -> Body {
        if self.left == 0 {
            Either::Left(Full::new(self.first.take().unwrap_or_default()))
        } else {
            self.file = Some(file);
            Either::Right(self)
        }
    }
}

/// Up to [`CHUNK`] bytes (at most `left`); an early end of file is an error, since the length
/// was promised in the head already.
fn read_piece(file: &mut File, left: u64) -> std::io::Result<Bytes> {
    let want = left.min(CHUNK as u64) as usize;
    let mut buf = vec![0u8; want];
    file.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

impl hyper::body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if this.reading.is_none() {
            let (Some(mut file), true) = (this.file.take(), this.left > 0) else {
                return Poll::Ready(None);
            };
            let left = this.left;
            this.reading = Some(tokio::task::spawn_blocking(move || {
                let piece = read_piece(&mut file, left);
                (file, piece)
            }));
        }
        let reading = this.reading.as_mut().expect("set above");
        let (file, piece) = match Pin::new(reading).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(joined) => {
                this.reading = None;
                match joined {
                    Ok(done) => done,
                    Err(e) => return Poll::Ready(Some(Err(std::io::Error::other(e)))),
                }
            }
        };
        match piece {
            Ok(bytes) => {
                this.left -= bytes.len() as u64;
                this.file = Some(file);
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.first.as_ref().map_or(0, |b| b.len() as u64) + self.left)
    }
}
