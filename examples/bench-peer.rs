//! The loopback services of `scripts/bench-cycle` and `scripts/bench-peers`: N HTTP/1.1 servers
//! on 127.0.0.1 in one process on one thread, answering `GET /status` (and `/health`) with the
//! same small JSON body as bench-cycle's Python servers, keep-alive, head and body in one write.
//! `bench-peer N` prints the N ports on one line, then serves until its stdin closes (the script
//! holds it: when the script goes, so does this).
//!
//! **Why not the Python servers.** At 5,000 services they are one process of threads under one
//! interpreter lock: measured with `scripts/bench-cycle --services 5000 --peers 100`, the
//! latency the daemon reported was 18 to 27 ms, the servers' own queue, and their CPU competed
//! with the daemon's on this 2-core machine, which stretched the very wall per cycle being
//! measured. This answers a request in a few microseconds of CPU, so what the benchmark reports
//! at 1,000 services and more is the daemon's. The Python servers stay in the script
//! (`--peer-server python`) for a machine without a Rust toolchain.

use std::io::{Read, Write};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// As the script's `SERVICE_BODY` (`json.dumps` spacing included).
const BODY: &str =
    r#"{"status": "ok", "version": "1.2.3", "started_at": "2026-11-24T10:00:00Z", "tasks": 3}"#;
const NOT_FOUND: &str = r#"{"error":"not found"}"#;
/// A head longer than this is not a probe's: the connection is closed.
const HEAD_MAX: usize = 16 * 1024;

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut ports = Vec::with_capacity(n);
        for _ in 0..n {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            ports.push(listener.local_addr()?.port().to_string());
            tokio::spawn(accept(listener));
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", ports.join(" "))?;
        out.flush()?;
        drop(out);
        tokio::task::spawn_blocking(|| {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        })
        .await?;
        anyhow::Ok(())
    })?;
    // The connections' tasks are not waited for.
    std::process::exit(0);
}

async fn accept(listener: TcpListener) {
    loop {
        if let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream));
        }
    }
}

/// Answers each request of one connection until the client closes it or asks to.
async fn serve(mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            if buf.len() > HEAD_MAX {
                return;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let path = head.split_whitespace().nth(1).unwrap_or("");
        // `/health` for scripts/bench-peers, whose Monit config asks for it.
        let (code, body) = if matches!(path.split('?').next(), Some("/status" | "/health")) {
            ("200 OK", BODY)
        } else {
            ("404 Not Found", NOT_FOUND)
        };
        let close = head.contains("\r\nconnection: close");
        let reply = format!(
            "HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if stream.write_all(reply.as_bytes()).await.is_err() || close {
            return;
        }
        buf.drain(..end + 4);
    }
}
