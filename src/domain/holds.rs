//! Holds (DESIGN.md, rule 7): credits reserved for a running generation,
//! then captured (charged, possibly less) or released.
use chrono::{DateTime, Utc};

use super::error::DomainError;
use super::lots::LotSplit;
use super::money::Credits;

/// Bounds of a hold's time limit: long enough for a slow video, short enough
/// that a crashed backend does not freeze a wallet for days.
pub const TTL_SECONDS_MIN: i64 = 10;
pub const TTL_SECONDS_MAX: i64 = 24 * 3_600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Open,
    Captured,
    Released,
    /// Released by itself at its time limit.
    Expired,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Open => "OPEN",
            ReservationStatus::Captured => "CAPTURED",
            ReservationStatus::Released => "RELEASED",
            ReservationStatus::Expired => "EXPIRED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [ReservationStatus::Open, ReservationStatus::Captured, ReservationStatus::Released, ReservationStatus::Expired]
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: i64,
    pub account_id: String,
    pub credits: Credits,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub lot_split: LotSplit,
    pub idempotency_key: String,
    pub usage_event_id: Option<i64>,
    /// When it was reserved: the day its credits count on (spend limits).
    pub created_at: DateTime<Utc>,
}

impl Reservation {
    pub fn timed_out(&self, now: DateTime<Utc>) -> bool {
        self.status == ReservationStatus::Open && self.expires_at <= now
    }
}

pub fn validate_ttl(ttl_seconds: Option<i64>, default_seconds: i64) -> Result<i64, DomainError> {
    match ttl_seconds {
        None => Ok(default_seconds),
        Some(ttl) if (TTL_SECONDS_MIN..=TTL_SECONDS_MAX).contains(&ttl) => Ok(ttl),
        Some(_) => Err(DomainError::invalid(
            "ttlSeconds",
            format!("ttlSeconds must be between {TTL_SECONDS_MIN} and {TTL_SECONDS_MAX}"),
        )),
    }
}

/// What a capture of `credits` out of a hold charges and gives back: the
/// charge comes from the lots drawn first (the soonest-expiring), the rest
/// returns to the lots drawn last.
pub fn capture_split(split: &[(i64, Credits)], credits: Credits) -> Result<(LotSplit, LotSplit), DomainError> {
    let held: Credits = split.iter().map(|(_, c)| *c).sum();
    if credits.get() < 0 || credits > held {
        return Err(DomainError::invalid("credits", format!("credits must be between 0 and the {held} held")));
    }
    let mut left = credits;
    let (mut charged, mut returned) = (Vec::new(), Vec::new());
    for (lot, share) in split {
        let charge = left.min(*share);
        // `charge` is at most `left` and at most `share`: neither can overflow.
        left = left.checked_sub(charge).ok_or_else(|| DomainError::overflow("credits"))?;
        let rest = share.checked_sub(charge).ok_or_else(|| DomainError::overflow("credits"))?;
        if charge.is_positive() {
            charged.push((*lot, charge));
        }
        if rest.is_positive() {
            returned.push((*lot, rest));
        }
    }
    Ok((charged, returned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(parts: &[(i64, i64)]) -> Vec<(i64, Credits)> {
        parts.iter().map(|(lot, c)| (*lot, Credits::new(*c))).collect()
    }

    #[test]
    fn a_capture_charges_the_first_lots_and_returns_the_rest() {
        let held = split(&[(1, 5), (2, 10), (3, 20)]);
        assert_eq!(
            capture_split(&held, Credits::new(12)).unwrap(),
            (split(&[(1, 5), (2, 7)]), split(&[(2, 3), (3, 20)]))
        );
        assert_eq!(capture_split(&held, Credits::new(35)).unwrap(), (held.clone(), vec![]));
        assert_eq!(capture_split(&held, Credits::ZERO).unwrap(), (vec![], held.clone()));
        assert!(capture_split(&held, Credits::new(36)).is_err());
        assert!(capture_split(&held, Credits::new(-1)).is_err());
    }

    #[test]
    fn ttl_is_bounded() {
        assert_eq!(validate_ttl(None, 900), Ok(900));
        assert_eq!(validate_ttl(Some(10), 900), Ok(10));
        assert!(validate_ttl(Some(9), 900).is_err());
        assert!(validate_ttl(Some(TTL_SECONDS_MAX + 1), 900).is_err());
    }
}
