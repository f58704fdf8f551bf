//! The rules of webhook delivery (DESIGN.md section 6): when a failed
//! attempt is tried again, which URLs an endpoint may have, and which event
//! types it may ask for.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::Duration;

use super::error::DomainError;
use super::events::EventType;
use super::top_ups::named;

// Where a delivery of one event to one endpoint stands: PENDING while
// attempts remain (or one is under way), SUCCEEDED once one was answered
// 2xx, FAILED after the last attempt or when its endpoint was deleted.
named!(DeliveryStatus { Pending => "PENDING", Succeeded => "SUCCEEDED", Failed => "FAILED", });

/// The wait after each failed attempt: the first retry within 10 s, then
/// growing delays, more than 24 h in all, so a receiver down for a day still
/// gets every event. After the last, the delivery is FAILED.
const RETRY_DELAYS_SECONDS: [i64; 8] = [5, 60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// Jitter spreads the retries of many deliveries that failed together (a
/// receiver that was down), so they do not all come back at one instant.
pub const JITTER_PERMILLE_MAX: i64 = 100;

/// Attempts a delivery gets in all: the first and one per retry delay.
pub const ATTEMPTS_MAX: i64 = RETRY_DELAYS_SECONDS.len() as i64 + 1;

/// The wait before the next attempt once `attempts` attempts have failed,
/// with `jitter_permille` (-100..=100, clamped) of jitter; `None` when that
/// was the last attempt. A jittered delay never falls below the previous
/// step's base, so the delays keep growing.
pub fn retry_delay(attempts: i64, jitter_permille: i64) -> Option<Duration> {
    let step = usize::try_from(attempts).ok()?.checked_sub(1)?;
    let base_ms = RETRY_DELAYS_SECONDS.get(step)? * 1000;
    let jitter = jitter_permille.clamp(-JITTER_PERMILLE_MAX, JITTER_PERMILLE_MAX);
    let floor_ms = step.checked_sub(1).map_or(0, |previous| RETRY_DELAYS_SECONDS[previous] * 1000);
    Some(Duration::milliseconds((base_ms + base_ms * jitter / 1000).max(floor_ms)))
}

/// Checks an endpoint URL: absolute http(s) with a host. With
/// `deny_private`, a host that is `localhost` or a loopback, private,
/// link-local or unspecified address is refused too (checked on the URL as
/// written; a name is not resolved here).
pub fn validate_url(text: &str, deny_private: bool) -> Result<url::Url, DomainError> {
    let invalid = |message: &str| DomainError::invalid("url", message.to_owned());
    // Not "url must ...": that is how the string checks of `domain::text` begin.
    let url = url::Url::parse(text).map_err(|_| invalid("an endpoint URL is an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("an endpoint URL is an http or https URL"));
    }
    let host = url.host().ok_or_else(|| invalid("an endpoint URL names a host"))?;
    if deny_private {
        let private = match host {
            url::Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                name == "localhost" || name.ends_with(".localhost")
            }
            url::Host::Ipv4(ip) => is_private(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_private(IpAddr::V6(ip)),
        };
        if private {
            return Err(invalid("this server refuses endpoint URLs of loopback, private or link-local addresses"));
        }
    }
    Ok(url)
}

/// Loopback, private (RFC 1918, unique local), link-local, unspecified, or
/// shared (carrier-grade NAT) addresses: ones that reach this machine or
/// its network rather than the internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_private_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    || ip == Ipv6Addr::LOCALHOST
            }
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || (a == 100 && (64..128).contains(&b))
}

/// The event types an endpoint asks for, each known; repeats are dropped.
/// Empty means every type.
pub fn validate_event_types(names: &[String]) -> Result<Vec<EventType>, DomainError> {
    let mut types = Vec::new();
    for name in names {
        let event_type = EventType::parse(name).ok_or_else(|| {
            DomainError::invalid("eventTypes", format!("{name:?} is not an event type (see docs/events.md)"))
        })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

/// Whether an endpoint asking for `types` (empty: all) gets `event_type`.
pub fn wants(types: &[String], event_type: &str) -> bool {
    types.is_empty() || types.iter().any(|t| t == event_type)
}

/// Whether an HTTP status delivers the event: any 2xx.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;

    #[test]
    fn retries_start_within_ten_seconds_grow_and_last_a_day() {
        let delays: Vec<i64> = (1..ATTEMPTS_MAX).map(|n| retry_delay(n, 0).unwrap().num_seconds()).collect();
        assert_eq!(delays, RETRY_DELAYS_SECONDS);
        for jitter in [-100, 0, 100, 1000, -1000] {
            assert!(retry_delay(1, jitter).unwrap() <= Duration::seconds(10), "{jitter}");
        }
        let total: Duration = (1..ATTEMPTS_MAX).filter_map(|n| retry_delay(n, -100)).sum();
        assert!(total >= Duration::hours(24), "{total}");
        assert_eq!(retry_delay(ATTEMPTS_MAX, 0), None, "the last attempt ends it");
        assert_eq!(retry_delay(0, 0), None);
    }

    #[test]
    fn jitter_stays_within_ten_percent_and_above_the_previous_base() {
        assert_eq!(retry_delay(3, 100), Some(Duration::seconds(330)));
        assert_eq!(retry_delay(3, -100), Some(Duration::seconds(270)));
        // 10 h minus 10 % would fall below the previous 10 h: it does not.
        assert_eq!(retry_delay(8, -100), Some(Duration::hours(10)));
        for n in 2..ATTEMPTS_MAX {
            assert!(retry_delay(n, -100) >= retry_delay(n - 1, 0), "{n}");
        }
    }

    #[test]
    fn urls_are_absolute_http_with_a_host() {
        for ok in ["https://example.com/hook", "http://127.0.0.1:9000/x", "http://[::1]/", "http://10.1.2.3/"] {
            assert!(validate_url(ok, false).is_ok(), "{ok}");
        }
        for bad in ["ftp://example.com/", "example.com/hook", "/hook", "", "http://", "file:///etc/passwd", "x"] {
            let error = validate_url(bad, false).unwrap_err();
            assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("url")), "{bad}");
        }
    }

    #[test]
    fn deny_private_refuses_this_machine_and_its_network() {
        for private in [
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
        ] {
            assert!(validate_url(private, true).is_err(), "{private}");
            assert!(validate_url(private, false).is_ok(), "{private}");
        }
        for public in ["https://example.com/", "http://8.8.8.8/", "http://[2001:db8::1]/", "http://172.32.0.1/"] {
            assert!(validate_url(public, true).is_ok(), "{public}");
        }
    }

    #[test]
    fn event_types_are_known_ones() {
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let types = validate_event_types(&names(&["tokens.purchased", "balance.low", "tokens.purchased"])).unwrap();
        assert_eq!(types, [EventType::TokensPurchased, EventType::BalanceLow]);
        assert_eq!(validate_event_types(&[]).unwrap(), []);
        let error = validate_event_types(&names(&["balance.low", "balance.lo"])).unwrap_err();
        assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("eventTypes")));
        assert!(error.to_string().contains("balance.lo"));
        assert!(wants(&[], "x") && wants(&names(&["a", "x"]), "x") && !wants(&names(&["a"]), "x"));
        assert!(delivered(200) && delivered(204) && !delivered(301) && !delivered(500) && !delivered(199));
    }
}
