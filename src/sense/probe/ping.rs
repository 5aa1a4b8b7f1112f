//! The `ping` probe: one ICMP echo through an unprivileged ICMP socket (`SOCK_DGRAM` with
//! `IPPROTO_ICMP`), so no root and no capability: the kernel allows it to the groups in
//! `net.ipv4.ping_group_range`, fills in the identifier and hands back only our replies.
//!
//! The round-trip time is the latency (`degraded_after` applies). Where the host forbids such
//! sockets the status is `unknown`, not `down`: we could not tell, and the message says how to
//! allow it. rustix makes the socket, so the crate stays free of `unsafe`.

use super::Outcome;
use crate::snapshot::Status;
use rustix::net::{AddressFamily, SocketFlags, SocketType, ipproto, socket_with};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::time::Instant;

/// The next echo's sequence number, shared by every ping probe of the process.
static SEQUENCE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// How to allow ICMP sockets, for the message of an `unknown` ping.
pub const HOW_TO_ALLOW: &str = "allow ICMP sockets for the service's group with sysctl net.ipv4.ping_group_range (e.g. \"0 2147483647\" in /etc/sysctl.d/)";

pub async fn check(host: &str, degraded_after: Option<Duration>) -> Outcome {
    let ip = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match tokio::net::lookup_host((host, 0)).await {
            Ok(mut addrs) => match addrs.next() {
                Some(a) => a.ip(),
                None => return Outcome::down(format!("{host} has no address")),
            },
            Err(e) => return Outcome::down(format!("{host} cannot be resolved: {e}")),
        },
    };
    let socket = match open(ip) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::new(
                Status::Unknown,
                None,
                Some(format!(
                    "this host does not allow ICMP sockets to this service ({e}); {HOW_TO_ALLOW}"
                )),
            );
        }
    };
    // The sequence number tells our reply from a late one of an earlier check.
    let seq = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request = packet(ip.is_ipv4(), seq);
    let start = Instant::now();
    if let Err(e) = socket.send_to(&request, SocketAddr::new(ip, 0)).await {
        return Outcome::down(format!("the echo request could not be sent: {e}"));
    }
    let mut buf = [0u8; 1500];
    let reply = if ip.is_ipv4() {
        ECHO_REPLY_V4
    } else {
        ECHO_REPLY_V6
    };
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(n) => n,
            Err(e) => return Outcome::down(format!("no echo reply: {e}")),
        };
        // The kernel gives an ICMP socket the ICMP message without the IP header.
        if n >= 8 && buf[0] == reply && u16::from_be_bytes([buf[6], buf[7]]) == seq {
            break;
        }
    }
    let latency = start.elapsed();
    let (status, error) = super::degrade_if_slow(Status::Up, None, latency, degraded_after);
    let mut outcome = Outcome::new(status, Some(latency), error);
    outcome
        .details
        .insert("address".into(), serde_json::json!(ip.to_string()));
    outcome
}

fn open(ip: IpAddr) -> std::io::Result<tokio::net::UdpSocket> {
    let (family, protocol) = if ip.is_ipv4() {
        (AddressFamily::INET, ipproto::ICMP)
    } else {
        (AddressFamily::INET6, ipproto::ICMPV6)
    };
    let fd = socket_with(
        family,
        SocketType::DGRAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        Some(protocol),
    )?;
    // A datagram socket like any other from here: tokio polls it for the reply.
    tokio::net::UdpSocket::from_std(std::net::UdpSocket::from(fd))
}

/// An echo request: type, code, checksum, identifier (the kernel's), sequence, a short payload.
fn packet(v4: bool, seq: u16) -> Vec<u8> {
    let mut p = vec![
        if v4 { ECHO_REQUEST_V4 } else { ECHO_REQUEST_V6 },
        0,
        0,
        0,
        0,
        0,
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"cortex-status");
    if v4 {
        // ICMPv6's checksum covers a pseudo-header the kernel fills in itself.
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_request_checksums_to_zero() {
        let p = packet(true, 0x1234);
        assert_eq!(p[0], 8);
        assert_eq!(&p[6..8], &[0x12, 0x34]);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
    }
}
