//! The `tcp` probe: can a connection be opened, and how fast.

use super::{Outcome, degrade_if_slow};
use crate::snapshot::Status;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

pub async fn check(address: &str, degraded_after: Option<Duration>) -> Outcome {
    let start = Instant::now();
    match TcpStream::connect(address).await {
        Ok(_stream) => {
            let latency = start.elapsed();
            let (status, error) = degrade_if_slow(Status::Up, None, latency, degraded_after);
            Outcome::new(status, Some(latency), error)
        }
        Err(e) => Outcome::down(format!("cannot connect: {e}")),
    }
}
