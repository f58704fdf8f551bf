//! Time boundaries of the rules: the day of the daily free credits and the
//! monthly billing periods of subscriptions.
use chrono::{DateTime, Days, LocalResult, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The day in `time_zone` that `now` falls in, as `YYYY-MM-DD`.
pub fn day_key(now: DateTime<Utc>, time_zone: Tz) -> String {
    now.with_timezone(&time_zone).date_naive().to_string()
}

/// The next day boundary (local midnight in `time_zone`) after `now`.
pub fn next_day_boundary(now: DateTime<Utc>, time_zone: Tz) -> DateTime<Utc> {
    let today: NaiveDate = now.with_timezone(&time_zone).date_naive();
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    local_midnight(tomorrow, time_zone)
}

pub fn local_midnight(date: NaiveDate, time_zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    match time_zone.from_local_datetime(&midnight) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // Midnight skipped by a daylight-saving jump: the day starts an hour later.
        LocalResult::None => {
            let later = midnight + chrono::Duration::hours(1);
            time_zone.from_local_datetime(&later).earliest().map_or(later.and_utc(), |t| t.with_timezone(&Utc))
        }
    }
}

/// Start of billing period `index` (0 is the first) of a subscription
/// anchored at `anchor`. Periods are counted from the anchor rather than from
/// the previous period, so a subscription started on the 31st bills on the
/// last day of short months and is back on the 31st after them.
pub fn period_start(anchor: DateTime<Utc>, index: u32) -> DateTime<Utc> {
    anchor.checked_add_months(Months::new(index)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The billing period `[start, end)` that contains `now` (`now >= anchor`).
pub fn period_containing(anchor: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    // A first guess from whole months, corrected by at most a step either way.
    let months = (now.year_month_index() - anchor.year_month_index()).max(0) as u32;
    let mut index = months.saturating_sub(1);
    while period_start(anchor, index + 1) <= now {
        index += 1;
    }
    (period_start(anchor, index), period_start(anchor, index + 1))
}

trait YearMonth {
    fn year_month_index(&self) -> i64;
}

impl YearMonth for DateTime<Utc> {
    fn year_month_index(&self) -> i64 {
        use chrono::Datelike;
        i64::from(self.year()) * 12 + i64::from(self.month0())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn day_boundary_in_a_time_zone() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // 03:00 UTC on the 10th is still the 9th in New York.
        assert_eq!(day_key(utc(2026, 1, 10, 3), tz), "2026-01-09");
        assert_eq!(next_day_boundary(utc(2026, 1, 10, 3), tz), utc(2026, 1, 10, 5));
        assert_eq!(next_day_boundary(utc(2026, 1, 10, 3), Tz::UTC), utc(2026, 1, 11, 0));
    }

    #[test]
    fn periods_follow_the_anchor_through_short_months() {
        let anchor = utc(2026, 1, 31, 12);
        assert_eq!(period_containing(anchor, utc(2026, 2, 1, 0)), (anchor, utc(2026, 2, 28, 12)));
        assert_eq!(period_containing(anchor, utc(2026, 3, 1, 0)), (utc(2026, 2, 28, 12), utc(2026, 3, 31, 12)));
        assert_eq!(period_containing(anchor, utc(2026, 3, 31, 12)), (utc(2026, 3, 31, 12), utc(2026, 4, 30, 12)));
        assert_eq!(period_containing(anchor, anchor), (anchor, utc(2026, 2, 28, 12)));
        assert_eq!(period_containing(anchor, utc(2027, 1, 1, 0)), (utc(2026, 12, 31, 12), utc(2027, 1, 31, 12)));
    }
}
