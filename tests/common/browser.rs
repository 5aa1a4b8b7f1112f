//! A real browser for end-to-end tests: Debian's headless Chromium driven through chromedriver
//! (WebDriver) with fantoccini. chromedriver runs on a free loopback port, Chromium gets a fresh
//! profile in a temp dir, and both go away when the [`Browser`] is dropped, even after a panic.
//! Also here: [`StaticFiles`], a plain file server for pages no daemon keeps fresh.

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a wait for page content lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// A script for [`Browser::run`] or [`Browser::wait_for_script`]: the `fetch` requests the page
/// made so far, in order, as `path status, path status` (status 304 for a revalidated answer).
pub const FETCHES: &str = "return performance.getEntriesByType('resource')
    .filter(e => e.initiatorType === 'fetch')
    .map(e => new URL(e.name).pathname + ' ' + e.responseStatus).join(', ');";

/// How the browser is set up.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// False blocks JavaScript for every site, as a person who turned it off would have it.
    pub javascript: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { javascript: true }
    }
}

/// One chromedriver with one Chromium session in it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    port: u16,
    session: String,
    /// Chromium's profile and chromedriver's log; removed after both processes are gone.
    dir: tempfile::TempDir,
}

/// Finds `name` in PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One HTTP/1.1 request to chromedriver on loopback; `None` if it cannot be reached.
fn driver_request(port: u16, method: &str, target: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).ok()?;
    // chromedriver keeps the connection open whatever the request says: read the head, then
    // Content-Length bytes, rather than up to the end.
    let mut raw = Vec::new();
    let mut byte = [0u8];
    while !raw.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => raw.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(format!("{head}{}", String::from_utf8_lossy(&body)))
}

/// chromedriver's `GET /status` says `"ready": true`.
fn driver_ready(port: u16) -> bool {
    driver_request(port, "GET", "/status").is_some_and(|r| {
        let body = r.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_json::from_str::<Value>(body).is_ok_and(|v| v["value"]["ready"] == true)
    })
}

/// The legacy `POST /session/ID/se/log` that chromedriver still answers: the browser's console.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or("")))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type": "browser"}"#.into()))
    }
}

/// A Chrome DevTools Protocol command, through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session in it.
    pub async fn start() -> Browser {
        Browser::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Browser {
        let chromedriver = on_path("chromedriver").unwrap_or_else(|| {
            panic!(
                "chromedriver is not on PATH: run scripts/test or apt-get install chromium-driver"
            )
        });
        let chromium = on_path("chromium").unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        assert!(
            chromium.is_file(),
            "no {}: run scripts/test or apt-get install chromium",
            chromium.display()
        );
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile");
        std::fs::create_dir(&profile).unwrap();
        let log_path = dir.path().join("chromedriver.log");

        // The port is free when looked up but could be taken before chromedriver binds it:
        // try a few times.
        let mut attempt = 0;
        let (driver, port) = loop {
            attempt += 1;
            let port = free_port();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
            let start = Instant::now();
            let ready = loop {
                if driver_ready(port) {
                    break true;
                }
                if driver.try_wait().unwrap().is_some() || start.elapsed() > WAIT {
                    break false;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            if ready {
                break (driver, port);
            }
            let _ = driver.kill();
            let _ = driver.wait();
            assert!(
                attempt < 3,
                "chromedriver did not get ready on 127.0.0.1:{port}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        };

        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1200,1000",
                ],
                "prefs": if options.javascript {
                    json!({})
                } else {
                    json!({ "profile.managed_default_content_settings.javascript": 2 })
                },
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let connected = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        let mut browser = Browser {
            client: match connected {
                Ok(client) => client,
                Err(e) => {
                    let mut driver = driver;
                    let _ = driver.kill();
                    let _ = driver.wait();
                    panic!(
                        "no Chromium session: {e}\nchromedriver's log:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    )
                }
            },
            driver,
            port,
            session: String::new(),
            dir,
        };
        browser.session = browser
            .client
            .session_id()
            .await
            .unwrap()
            .expect("a session id");
        browser
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// The element for a CSS selector; fails the test if there is none.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no {css}: {e}\npage text:\n{}", self.page_text().await),
        }
    }

    /// The rendered text of an element (empty while it is hidden).
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Types into a field, as keystrokes.
    pub async fn type_into(&self, css: &str, keys: &str) {
        self.find(css).await.send_keys(keys).await.unwrap();
    }

    /// The page's visible text (`document.body.innerText`), for failure messages.
    pub async fn page_text(&self) -> String {
        match self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await
        {
            Ok(Value::String(s)) => s,
            Ok(other) => other.to_string(),
            Err(e) => format!("(cannot read the page: {e})"),
        }
    }

    /// Waits until the rendered text of `css` contains `needle`, and returns that text; fails
    /// the test with the page's text after [`WAIT`].
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = e.text().await
            {
                if text.contains(needle) {
                    return text;
                }
                last = text;
            }
            if start.elapsed() > WAIT {
                panic!(
                    "{css} did not show {needle:?} within {WAIT:?} (last text {last:?})\npage text:\n{}\nconsole:\n{:#?}",
                    self.page_text().await,
                    self.try_console().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page (a function body: `return …`) and returns its result.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("cannot run {script:?}: {e}"))
    }

    /// Waits until `script` returns a string containing `needle`, and returns it; for text
    /// WebDriver does not count as rendered (a visually hidden live region).
    pub async fn wait_for_script(&self, script: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let got = self.run(script).await;
            let text = got.as_str().unwrap_or_default().to_string();
            if text.contains(needle) {
                return text;
            }
            if start.elapsed() > WAIT {
                panic!(
                    "{script:?} did not give {needle:?} within {WAIT:?} (last {got})\npage text:\n{}",
                    self.page_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Marks the document on screen, for [`Browser::same_document`]: a property set on
    /// `window` survives anything a page does in place, and nothing that loads a page.
    pub async fn mark_document(&self) {
        self.run("window.cortexTestMark = 'same document'; return true;")
            .await;
    }

    /// Whether the document marked by [`Browser::mark_document`] is still the one on screen
    /// (false after a reload or a navigation).
    pub async fn same_document(&self) -> bool {
        self.run("return window.cortexTestMark === 'same document';")
            .await
            == Value::Bool(true)
    }

    /// The `fetch` requests the page made so far, as in [`FETCHES`].
    pub async fn fetches(&self) -> Vec<String> {
        let got = self.run(FETCHES).await;
        got.as_str()
            .unwrap_or_default()
            .split(", ")
            .filter(|f| !f.is_empty())
            .map(String::from)
            .collect()
    }

    /// Makes pages see `prefers-color-scheme: dark` (or light again).
    pub async fn prefer_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] }),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot emulate {scheme} mode: {e}"));
    }

    /// Makes the viewport a phone's: `width` CSS pixels wide (390 is an iPhone 12–15's),
    /// `height` tall, as a mobile device (the page's `viewport` meta applies). The height can
    /// be more than a phone's, so one screenshot shows more of the page.
    pub async fn phone(&self, width: u32, height: u32) {
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setDeviceMetricsOverride",
                params: json!({
                    "width": width, "height": height, "deviceScaleFactor": 1, "mobile": true,
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot emulate a {width} px phone: {e}"));
    }

    /// Saves a screenshot of the viewport as `target/test-artifacts/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The console messages since the last read, as `(level, message)`; levels are
    /// chromedriver's (`SEVERE` for errors, failed loads included).
    pub async fn console(&self) -> Vec<(String, String)> {
        self.try_console()
            .await
            .unwrap_or_else(|e| panic!("cannot read the console: {e}"))
    }

    async fn try_console(&self) -> Result<Vec<(String, String)>, fantoccini::error::CmdError> {
        let log = self.client.issue_cmd(BrowserLog).await?;
        Ok(log
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or("").to_string(),
                    e["message"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect())
    }

    /// The console errors since the last read of the console.
    pub async fn console_errors(&self) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE")
            .map(|(_, message)| message)
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium (a killed chromedriver would
        // leave it running); then chromedriver itself goes.
        let _ = driver_request(self.port, "DELETE", &format!("/session/{}", self.session));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A plain static file server on loopback for a directory: 200 with the file or 404, no
/// validators, no refresh; what a web server shows of an out_dir nobody updates any more.
pub struct StaticFiles {
    pub addr: SocketAddr,
}

impl StaticFiles {
    pub fn serve(dir: &Path) -> StaticFiles {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let Some(head) = super::read_head(&mut stream) else {
                        return;
                    };
                    let target = head.split(' ').nth(1).unwrap_or("/");
                    let path = target
                        .split('?')
                        .next()
                        .unwrap_or("/")
                        .trim_start_matches('/');
                    let path = if path.is_empty() { "index.html" } else { path };
                    let file = (!path.contains(".."))
                        .then(|| std::fs::read(dir.join(path)).ok())
                        .flatten();
                    let (status, body) = match file {
                        Some(body) => ("200 OK", body),
                        None => ("404 Not Found", b"not found".to_vec()),
                    };
                    let kind = match path.rsplit('.').next() {
                        Some("html") => "text/html; charset=utf-8",
                        Some("json") => "application/json",
                        Some("css") => "text/css",
                        Some("js") => "text/javascript",
                        Some("svg") => "image/svg+xml",
                        _ => "application/octet-stream",
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(&body);
                });
            }
        });
        StaticFiles { addr }
    }

    pub fn url(&self, page: &str) -> String {
        format!("http://{}/{page}", self.addr)
    }
}
