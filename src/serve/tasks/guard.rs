//! Who may use the task endpoint: the client's address, the Origin check, the password, and the
//! limit on failed attempts.
//!
//! The old dashboard compared `https://host:443` with `https://host` and refused its own page;
//! origins here are compared as (scheme, host, effective port). The password is compared in
//! constant time. Failed attempts are counted per client address, and that address comes from
//! `X-Forwarded-For` only when the connection itself is from a trusted proxy.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use url::Url;

/// Failed attempts allowed per address within [`WINDOW`] before 429.
pub const MAX_FAILURES: usize = 5;
pub const WINDOW: Duration = Duration::from_secs(60);

/// The client a request is from: the peer, or the address a trusted proxy forwarded for.
pub fn client_address(
    peer: Option<&SocketAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    // The proxy appends the address it saw; earlier entries are whatever the client claimed.
    let forwarded = forwarded_for
        .and_then(|list| list.rsplit(',').next())
        .and_then(|last| last.trim().parse().ok());
    Some(forwarded.unwrap_or(peer))
}

/// `scheme://host:port` with the port made explicit, so `https://h` equals `https://h:443`.
fn origin_key(url: &Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_ascii_lowercase(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

/// Whether a request's `Origin` may use the endpoint. No `Origin` (curl, a script) is allowed:
/// the password still guards it. A browser's `Origin` must be one of `allowed` or the origin
/// of the request itself (`http://` + its Host, the preview). `null` never matches.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[Url]) -> bool {
    let Some(origin) = origin else { return true };
    let Some(wanted) = Url::parse(origin.trim()).ok().as_ref().and_then(origin_key) else {
        return false;
    };
    let same_host = host
        .and_then(|h| Url::parse(&format!("http://{h}")).ok())
        .as_ref()
        .and_then(origin_key);
    allowed
        .iter()
        .filter_map(origin_key)
        .chain(same_host)
        .any(|o| o == wanted)
}

/// The password check, in time that does not depend on how much of it was right.
pub fn password_ok(given: Option<&str>, expected: &str) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
}

/// The bearer token of an `Authorization` header, if that is what it holds.
pub fn bearer(authorization: Option<&str>) -> Option<&str> {
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Failed password attempts per address, forgotten after [`WINDOW`].
#[derive(Default)]
pub struct Limiter {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl Limiter {
    /// `Err(seconds to wait)` when `who` has used up its attempts.
    pub fn check(&self, who: IpAddr, now: Instant) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = map.get_mut(&who) else {
            return Ok(());
        };
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() < MAX_FAILURES {
            if times.is_empty() {
                map.remove(&who);
            }
            return Ok(());
        }
        let oldest = *times.front().expect("full");
        let wait = WINDOW.saturating_sub(now.duration_since(oldest));
        Err(wait.as_secs().max(1))
    }

    pub fn fail(&self, who: IpAddr, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Forget addresses whose window has passed, so the map cannot grow without bound.
        if map.len() > 10_000 {
            map.retain(|_, t| {
                t.back()
                    .is_some_and(|last| now.duration_since(*last) < WINDOW)
            });
        }
        let times = map.entry(who).or_default();
        times.push_back(now);
        while times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<Url> {
        list.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn origins_compare_scheme_host_and_effective_port() {
        let allowed = urls(&["https://status.example.net"]);
        assert!(
            origin_allowed(None, None, &allowed),
            "no Origin: not a browser"
        );
        assert!(origin_allowed(
            Some("https://status.example.net"),
            None,
            &allowed
        ));
        assert!(origin_allowed(
            Some("https://status.example.net:443"),
            None,
            &allowed
        ));
        assert!(origin_allowed(
            Some("https://STATUS.example.net"),
            None,
            &allowed
        ));
        assert!(!origin_allowed(
            Some("http://status.example.net"),
            None,
            &allowed
        ));
        assert!(!origin_allowed(
            Some("https://status.example.net:8443"),
            None,
            &allowed
        ));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            None,
            &allowed
        ));
        assert!(!origin_allowed(Some("null"), None, &allowed));
        assert!(!origin_allowed(Some("garbage"), None, &allowed));
        // The preview: the page's own origin.
        assert!(origin_allowed(
            Some("http://127.0.0.1:4000"),
            Some("127.0.0.1:4000"),
            &[]
        ));
        assert!(!origin_allowed(
            Some("http://127.0.0.1:4001"),
            Some("127.0.0.1:4000"),
            &[]
        ));
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let loopback: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let trusted = ["127.0.0.1".parse().unwrap()];
        assert_eq!(
            client_address(
                Some(&loopback),
                Some("198.51.100.1, 198.51.100.7"),
                &trusted
            ),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(&remote), Some("198.51.100.7"), &trusted),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(&loopback), Some("not an ip"), &trusted),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            client_address(Some(&loopback), None, &trusted),
            Some("127.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn passwords_and_bearer_tokens() {
        assert!(password_ok(Some("hunter2"), "hunter2"));
        assert!(!password_ok(Some("hunter"), "hunter2"));
        assert!(!password_ok(None, "hunter2"));
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("abc")), None);
    }

    #[test]
    fn five_failures_a_minute_then_wait() {
        let l = Limiter::default();
        let a: IpAddr = "198.51.100.1".parse().unwrap();
        let b: IpAddr = "198.51.100.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..MAX_FAILURES {
            assert!(l.check(a, t0).is_ok(), "attempt {i}");
            l.fail(a, t0 + Duration::from_secs(i as u64));
        }
        let wait = l.check(a, t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(wait, 50);
        assert!(l.check(b, t0).is_ok(), "another address is not affected");
        assert!(
            l.check(a, t0 + Duration::from_secs(61)).is_ok(),
            "the window passes"
        );
    }
}
