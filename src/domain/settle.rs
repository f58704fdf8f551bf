//! What has to happen to an account because time passed: periods that ended,
//! lots that expired, the daily free credits of a new day. Computed on each
//! access, so no background job is needed for any of it.
use chrono::{DateTime, Utc};

use super::lots::Lot;
use super::money::Credits;
use super::periods::{day_key, next_day_boundary};
use super::rules::Rules;
use super::subscription::{Rollover, Subscription, rollover};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub rollover: Rollover,
    /// Lots with credits left whose expiry has passed.
    pub expire: Vec<i64>,
    /// The daily free lot to grant: amount, expiry, and the day it is for.
    pub daily_grant: Option<(Credits, DateTime<Utc>, String)>,
}

impl Settlement {
    pub fn is_empty(&self) -> bool {
        self.rollover == Rollover::Unchanged && self.expire.is_empty() && self.daily_grant.is_none()
    }
}

pub fn settle(
    rules: &Rules,
    now: DateTime<Utc>,
    lots: &[Lot],
    subscription: Option<&Subscription>,
    daily_free_day: Option<&str>,
) -> Settlement {
    let rollover = subscription.map_or(Rollover::Unchanged, |s| rollover(s, now));
    let expire =
        lots.iter().filter(|lot| lot.remaining.is_positive() && lot.is_expired(now)).map(|lot| lot.id).collect();
    let today = day_key(now, rules.day_time_zone);
    let daily_grant = (rules.daily_free_credits.is_positive() && daily_free_day != Some(today.as_str()))
        .then(|| (rules.daily_free_credits, next_day_boundary(now, rules.day_time_zone), today));
    Settlement { rollover, expire, daily_grant }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::lots::CreditSource;
    use crate::domain::subscription::SubscriptionStatus;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).unwrap()
    }

    fn rules(daily: i64, time_zone: &str) -> Rules {
        Rules { daily_free_credits: Credits::new(daily), day_time_zone: time_zone.parse().unwrap(), ..Rules::default() }
    }

    fn lot(id: i64, remaining: i64, expires_at: Option<DateTime<Utc>>) -> Lot {
        Lot {
            id,
            source: CreditSource::Promo,
            granted: Credits::new(remaining.max(1)),
            remaining: Credits::new(remaining),
            expires_at,
            pro_eligible: false,
            created_at: utc(2026, 1, 1, 0, 0, 0),
        }
    }

    /// A monthly subscription anchored on Jan 15 12:00 whose current period is Jan 15 - Feb 15.
    fn subscription(status: SubscriptionStatus, cancel_at_period_end: bool) -> Subscription {
        Subscription {
            id: 1,
            plan_code: "STARTER".into(),
            status,
            billing_anchor: utc(2026, 1, 15, 12, 0, 0),
            current_period_start: utc(2026, 1, 15, 12, 0, 0),
            current_period_end: utc(2026, 2, 15, 12, 0, 0),
            cancel_at_period_end,
            payment_reference: "pay-1".into(),
        }
    }

    fn daily_grant(
        rules: &Rules,
        now: DateTime<Utc>,
        last_day: Option<&str>,
    ) -> Option<(Credits, DateTime<Utc>, String)> {
        settle(rules, now, &[], None, last_day).daily_grant
    }

    #[test]
    fn the_daily_grant_is_due_once_a_day() {
        let rules = rules(50, "UTC");
        let tomorrow = utc(2026, 1, 11, 0, 0, 0);
        // (now, day of the last grant, the day granted for)
        let cases = [
            (utc(2026, 1, 10, 0, 0, 0), None, Some("2026-01-10")),
            (utc(2026, 1, 10, 0, 0, 0), Some("2026-01-09"), Some("2026-01-10")),
            (utc(2026, 1, 10, 23, 59, 59), Some("2026-01-01"), Some("2026-01-10")),
            (utc(2026, 1, 10, 0, 0, 0), Some("2026-01-10"), None),
            (utc(2026, 1, 10, 23, 59, 59), Some("2026-01-10"), None),
        ];
        for (now, last_day, expected) in cases {
            let expected = expected.map(|day| (Credits::new(50), tomorrow, day.to_string()));
            assert_eq!(daily_grant(&rules, now, last_day), expected, "{now} after {last_day:?}");
        }
    }

    #[test]
    fn no_daily_grant_when_daily_credits_are_off() {
        let rules = rules(0, "UTC");
        for last_day in [None, Some("2026-01-09")] {
            assert_eq!(daily_grant(&rules, utc(2026, 1, 10, 12, 0, 0), last_day), None);
        }
    }

    #[test]
    fn the_daily_grant_follows_local_midnight() {
        // (time zone, local midnight of Jan 10 in UTC)
        let zones = [("America/New_York", utc(2026, 1, 10, 5, 0, 0)), ("Asia/Tokyo", utc(2026, 1, 9, 15, 0, 0))];
        for (zone, midnight) in zones {
            let rules = rules(50, zone);
            let just_before = midnight - Duration::seconds(1);
            assert_eq!(daily_grant(&rules, just_before, Some("2026-01-09")), None, "{zone}");
            let (_, expires, day) = daily_grant(&rules, just_before, Some("2026-01-08")).unwrap();
            assert_eq!((expires, day.as_str()), (midnight, "2026-01-09"), "{zone}");
            let (_, expires, day) = daily_grant(&rules, midnight, Some("2026-01-09")).unwrap();
            assert_eq!((expires, day.as_str()), (midnight + Duration::days(1), "2026-01-10"), "{zone}");
        }
    }

    #[test]
    fn the_daily_grant_expires_when_the_next_local_day_begins_across_daylight_saving() {
        // (time zone, now, expiry, day)
        let cases = [
            // New York springs forward at 02:00 on 2026-03-08: a 23-hour day.
            ("America/New_York", utc(2026, 3, 8, 12, 0, 0), utc(2026, 3, 9, 4, 0, 0), "2026-03-08"),
            // Santiago skips midnight on 2026-09-06: that day begins at 01:00 (-03).
            ("America/Santiago", utc(2026, 9, 5, 16, 0, 0), utc(2026, 9, 6, 4, 0, 0), "2026-09-05"),
            ("America/Santiago", utc(2026, 9, 6, 4, 0, 0), utc(2026, 9, 7, 3, 0, 0), "2026-09-06"),
        ];
        for (zone, now, expiry, day) in cases {
            let (_, expires, granted_for) = daily_grant(&rules(50, zone), now, None).unwrap();
            assert_eq!((expires, granted_for.as_str()), (expiry, day), "{zone} at {now}");
        }
    }

    #[test]
    fn expired_lots_with_credits_left_are_expired() {
        let now = utc(2026, 1, 10, 12, 0, 0);
        let lots = [
            lot(1, 10, Some(now)),
            lot(2, 10, Some(now - Duration::days(3))),
            lot(3, 10, Some(now + Duration::seconds(1))),
            lot(4, 10, None),
            // Spent: nothing left to expire.
            lot(5, 0, Some(now - Duration::days(1))),
        ];
        assert_eq!(settle(&rules(0, "UTC"), now, &lots, None, None).expire, vec![1, 2]);
    }

    #[test]
    fn rollover_at_the_end_of_a_period() {
        use SubscriptionStatus::{Active, Canceled, Expired};
        let end = utc(2026, 2, 15, 12, 0, 0);
        let renewed = Rollover::Renewed { start: end, end: utc(2026, 3, 15, 12, 0, 0) };
        // (status, cancel at period end, now, expected)
        let cases = [
            (Active, false, end - Duration::seconds(1), Rollover::Unchanged),
            (Active, false, end, renewed.clone()),
            (Active, false, end + Duration::days(3), renewed),
            // Several periods missed: only the one containing `now`.
            (
                Active,
                false,
                utc(2026, 5, 20, 0, 0, 0),
                Rollover::Renewed { start: utc(2026, 5, 15, 12, 0, 0), end: utc(2026, 6, 15, 12, 0, 0) },
            ),
            (Active, true, end - Duration::seconds(1), Rollover::Unchanged),
            (Active, true, end, Rollover::Ended { at: end }),
            (Active, true, end + Duration::days(40), Rollover::Ended { at: end }),
            (Canceled, false, end + Duration::days(3), Rollover::Unchanged),
            (Expired, false, end + Duration::days(3), Rollover::Unchanged),
        ];
        for (status, cancel, now, expected) in cases {
            let subscription = subscription(status, cancel);
            let settlement = settle(&rules(0, "UTC"), now, &[], Some(&subscription), None);
            assert_eq!(settlement.rollover, expected, "{status:?} cancel={cancel} at {now}");
        }
        assert_eq!(settle(&rules(0, "UTC"), end, &[], None, None).rollover, Rollover::Unchanged);
    }

    #[test]
    fn a_settlement_is_empty_only_when_nothing_happens() {
        let now = utc(2026, 1, 10, 12, 0, 0);
        let live = [lot(1, 10, Some(now + Duration::days(1)))];
        let active = subscription(SubscriptionStatus::Active, false);
        assert!(settle(&rules(50, "UTC"), now, &live, Some(&active), Some("2026-01-10")).is_empty());
        assert!(!settle(&rules(50, "UTC"), now, &live, Some(&active), Some("2026-01-09")).is_empty());
        assert!(!settle(&rules(0, "UTC"), now, &[lot(2, 10, Some(now))], None, None).is_empty());
        let later = utc(2026, 2, 15, 12, 0, 0);
        assert!(!settle(&rules(0, "UTC"), later, &[], Some(&active), None).is_empty());
    }
}
