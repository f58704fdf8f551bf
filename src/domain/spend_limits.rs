//! Spend limits (DESIGN.md section 10): a ceiling on the credits an account
//! spends in a day and on what one generation may cost. The account's user
//! sets their own, an admin sets theirs; the two are kept apart and the lower
//! one applies, so a user can tighten what an admin allows but never loosen it.
//!
//! What counts against the daily limit is the credits taken from the wallet
//! on that day (in the server's day zone): a charge when it is made, a hold
//! when it is reserved (its capture adds nothing). Credits that come back —
//! a released or timed-out hold, the part of a hold a capture did not
//! charge, a refund — are given back to the day they were counted on, if
//! that day is still today.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::error::DomainError;
use super::money::{ACCOUNT_CREDITS_MAX, Credits};
use super::periods::{day_key, local_midnight, next_day_boundary};

/// A daily and a per-generation limit; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub daily: Option<Credits>,
    pub per_generation: Option<Credits>,
}

impl Limits {
    pub fn is_none(&self) -> bool {
        self.daily.is_none() && self.per_generation.is_none()
    }
}

/// An account's limits: its user's and an admin's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendLimits {
    pub user: Limits,
    pub admin: Limits,
}

fn lower(a: Option<Credits>, b: Option<Credits>) -> Option<Credits> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl SpendLimits {
    /// The limits that apply: the lower of the user's and the admin's.
    pub fn effective(&self) -> Limits {
        Limits {
            daily: lower(self.user.daily, self.admin.daily),
            per_generation: lower(self.user.per_generation, self.admin.per_generation),
        }
    }
}

/// Who sets a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setter {
    /// The account's own user: only at or below an admin's limit.
    User,
    /// An admin: any value; kept apart from the user's.
    Admin,
}

/// A change asked of one limit: `None` leaves it as it is, `Some(None)`
/// clears it, `Some(Some(n))` sets it to `n` credits.
pub type LimitChange = Option<Option<i64>>;

/// The limits after `setter` asked for `daily` and `per_generation`, or why not.
pub fn apply(
    limits: SpendLimits,
    setter: Setter,
    daily: LimitChange,
    per_generation: LimitChange,
) -> Result<SpendLimits, DomainError> {
    let mut next = limits;
    let (own, admin) = match setter {
        Setter::User => (&mut next.user, Some(limits.admin)),
        Setter::Admin => (&mut next.admin, None),
    };
    let admin_daily = admin.and_then(|admin| admin.daily);
    let admin_per_generation = admin.and_then(|admin| admin.per_generation);
    if let Some(change) = daily {
        own.daily = checked_limit("daily", change, admin_daily)?;
    }
    if let Some(change) = per_generation {
        own.per_generation = checked_limit("perGeneration", change, admin_per_generation)?;
    }
    Ok(next)
}

fn checked_limit(
    field: &'static str,
    value: Option<i64>,
    admin: Option<Credits>,
) -> Result<Option<Credits>, DomainError> {
    let Some(value) = value else { return Ok(None) };
    let max = ACCOUNT_CREDITS_MAX.get();
    if !(0..=max).contains(&value) {
        return Err(DomainError::invalid(field, format!("{field} must be between 0 and {max} credits")));
    }
    if let Some(admin) = admin.filter(|admin| value > admin.get()) {
        return Err(DomainError::invalid(
            field,
            format!("{field} can be at most {admin} credits, the limit an administrator set for this account"),
        ));
    }
    Ok(Some(Credits::new(value)))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendLimitKind {
    Daily,
    PerGeneration,
}

impl SpendLimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendLimitKind::Daily => "DAILY",
            SpendLimitKind::PerGeneration => "PER_GENERATION",
        }
    }
}

/// The credits counted against the daily limit on `day` (`YYYY-MM-DD` in
/// the day zone); `day` is `None` while no daily limit applies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaySpend {
    pub day: Option<String>,
    pub credits: Credits,
}

impl DaySpend {
    /// What was counted on `today`: nothing when the count is of another day.
    pub fn on(&self, today: &str) -> Credits {
        if self.day.as_deref() == Some(today) { self.credits } else { Credits::ZERO }
    }
}

/// Whether a charge or hold of `credits` may be taken, `spent` having been
/// counted today: the per-generation limit first (it does not depend on the
/// day), then the day's.
pub fn admit(limits: &Limits, spent: Credits, credits: Credits) -> Result<(), DomainError> {
    if let Some(limit) = limits.per_generation.filter(|limit| credits > *limit) {
        let kind = SpendLimitKind::PerGeneration;
        return Err(DomainError::SpendLimitReached { kind, limit, spent: credits, needed: credits });
    }
    if let Some(limit) = limits.daily {
        let after = spent.checked_add(credits).ok_or_else(|| DomainError::overflow("credits"))?;
        if after > limit {
            return Err(DomainError::SpendLimitReached { kind: SpendLimitKind::Daily, limit, spent, needed: credits });
        }
    }
    Ok(())
}

/// The day key and the instant the day began, in `zone`.
pub fn today(now: DateTime<Utc>, zone: Tz) -> (String, DateTime<Utc>) {
    (day_key(now, zone), local_midnight(now.with_timezone(&zone).date_naive(), zone))
}

/// The limits as the wallet shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpendLimitView {
    pub limits: SpendLimits,
    pub effective: Limits,
    /// Counted against today's limit; `None` without a daily limit.
    pub daily_spent: Option<Credits>,
    /// What today's limit still allows; `None` without a daily limit.
    pub daily_left: Option<Credits>,
    /// When today's count starts again from zero.
    pub daily_resets_at: Option<DateTime<Utc>>,
}

pub fn view(limits: SpendLimits, spend: &DaySpend, now: DateTime<Utc>, zone: Tz) -> SpendLimitView {
    let effective = limits.effective();
    let Some(daily) = effective.daily else {
        return SpendLimitView { limits, effective, ..SpendLimitView::default() };
    };
    let spent = spend.on(&day_key(now, zone));
    let left = daily.checked_sub(spent).filter(|left| *left > Credits::ZERO).unwrap_or(Credits::ZERO);
    SpendLimitView {
        limits,
        effective,
        daily_spent: Some(spent),
        daily_left: Some(left),
        daily_resets_at: Some(next_day_boundary(now, zone)),
    }
}

/// What was spent on a day, rebuilt from what the day recorded, for when a
/// daily limit starts to apply: the credits of the day's usage events (less
/// those captured from a hold taken on an earlier day, counted then), less
/// what was refunded of them, plus the day's holds still open.
pub fn spent_on_day(
    events: &[(i64, Credits)],
    held_before: &[i64],
    refunds: &[(i64, Credits)],
    open_holds: Credits,
) -> Credits {
    let counted = |id: &i64| events.iter().any(|(event, _)| event == id) && !held_before.contains(id);
    let charged: i64 = events.iter().filter(|(id, _)| counted(id)).map(|(_, credits)| credits.get()).sum();
    let refunded: i64 = refunds.iter().filter(|(id, _)| counted(id)).map(|(_, credits)| credits.get()).sum();
    Credits::new((charged - refunded + open_holds.get()).max(0))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::error::ErrorCode;

    fn limits(daily: Option<i64>, per_generation: Option<i64>) -> Limits {
        Limits { daily: daily.map(Credits::new), per_generation: per_generation.map(Credits::new) }
    }

    #[test]
    fn the_lower_of_the_users_and_the_admins_applies() {
        let cases = [
            (limits(None, None), limits(None, None), limits(None, None)),
            (limits(Some(100), None), limits(None, Some(20)), limits(Some(100), Some(20))),
            (limits(Some(100), Some(30)), limits(Some(500), Some(20)), limits(Some(100), Some(20))),
            (limits(Some(0), None), limits(Some(10), None), limits(Some(0), None)),
        ];
        for (user, admin, effective) in cases {
            assert_eq!(SpendLimits { user, admin }.effective(), effective, "{user:?} {admin:?}");
        }
    }

    #[test]
    fn a_user_sets_at_most_the_admins_limit_and_never_touches_it() {
        let set = SpendLimits { user: limits(None, None), admin: limits(Some(500), Some(40)) };
        let lowered = apply(set, Setter::User, Some(Some(500)), Some(Some(10))).unwrap();
        assert_eq!((lowered.user, lowered.admin), (limits(Some(500), Some(10)), set.admin));
        let above = apply(set, Setter::User, Some(Some(501)), None).unwrap_err();
        assert_eq!((above.code(), above.field()), (ErrorCode::InvalidInput, Some("daily")));
        assert!(above.to_string().contains("at most 500"), "{above}");
        let above = apply(set, Setter::User, None, Some(Some(41))).unwrap_err();
        assert_eq!(above.field(), Some("perGeneration"));
        let cleared = apply(lowered, Setter::User, Some(None), Some(None)).unwrap();
        assert_eq!(cleared, set, "a user clears their own limits, never the admin's");
        let untouched = apply(lowered, Setter::User, None, None).unwrap();
        assert_eq!(untouched, lowered);
    }

    #[test]
    fn an_admin_sets_any_value_kept_apart_from_the_users() {
        let set = SpendLimits { user: limits(Some(100), None), admin: limits(None, None) };
        let raised = apply(set, Setter::Admin, Some(Some(50)), Some(Some(1_000))).unwrap();
        assert_eq!((raised.user, raised.admin), (set.user, limits(Some(50), Some(1_000))));
        assert_eq!(apply(raised, Setter::Admin, Some(None), None).unwrap().admin, limits(None, Some(1_000)));
    }

    #[test]
    fn limits_are_whole_credits_within_an_accounts_range() {
        let none = SpendLimits::default();
        for value in [-1, ACCOUNT_CREDITS_MAX.get() + 1] {
            let error = apply(none, Setter::Admin, Some(Some(value)), None).unwrap_err();
            assert_eq!((error.code(), error.field()), (ErrorCode::InvalidInput, Some("daily")), "{value}");
        }
        assert!(apply(none, Setter::User, Some(Some(0)), Some(Some(ACCOUNT_CREDITS_MAX.get()))).is_ok());
    }

    #[test]
    fn a_charge_passes_while_it_fits_both_limits() {
        let both = limits(Some(100), Some(30));
        assert_eq!(admit(&both, Credits::new(70), Credits::new(30)), Ok(()));
        let over_day = admit(&both, Credits::new(71), Credits::new(30)).unwrap_err();
        assert_eq!(
            over_day,
            DomainError::SpendLimitReached {
                kind: SpendLimitKind::Daily,
                limit: Credits::new(100),
                spent: Credits::new(71),
                needed: Credits::new(30)
            }
        );
        let over_one = admit(&both, Credits::ZERO, Credits::new(31)).unwrap_err();
        assert!(matches!(over_one, DomainError::SpendLimitReached { kind: SpendLimitKind::PerGeneration, .. }));
        assert_eq!(admit(&limits(None, None), Credits::new(i64::MAX), Credits::new(1)), Ok(()));
        assert!(admit(&limits(Some(0), None), Credits::ZERO, Credits::new(1)).is_err());
    }

    #[test]
    fn the_day_count_is_of_today_only() {
        let spend = DaySpend { day: Some("2026-03-10".into()), credits: Credits::new(40) };
        assert_eq!(spend.on("2026-03-10"), Credits::new(40));
        assert_eq!(spend.on("2026-03-11"), Credits::ZERO);
        assert_eq!(DaySpend::default().on("2026-03-10"), Credits::ZERO);
    }

    #[test]
    fn the_view_shows_whats_left_of_today_in_the_day_zone() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 14:59:59 UTC is 23:59:59 in Tokyo on the 10th; 15:00 is the 11th.
        let before = Utc.with_ymd_and_hms(2026, 3, 10, 14, 59, 59).unwrap();
        let limits = SpendLimits { user: limits(Some(100), None), admin: Limits::default() };
        let spend = DaySpend { day: Some("2026-03-10".into()), credits: Credits::new(130) };
        let shown = view(limits, &spend, before, tokyo);
        assert_eq!((shown.daily_spent, shown.daily_left), (Some(Credits::new(130)), Some(Credits::ZERO)));
        assert_eq!(shown.daily_resets_at, Some(Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap()));
        let after = view(limits, &spend, before + chrono::Duration::seconds(1), tokyo);
        assert_eq!((after.daily_spent, after.daily_left), (Some(Credits::ZERO), Some(Credits::new(100))));
        let unlimited = view(SpendLimits::default(), &spend, before, tokyo);
        assert_eq!((unlimited.daily_spent, unlimited.daily_left, unlimited.daily_resets_at), (None, None, None));
        assert_eq!(today(before, tokyo), ("2026-03-10".into(), Utc.with_ymd_and_hms(2026, 3, 9, 15, 0, 0).unwrap()));
    }

    #[test]
    fn a_days_spend_is_rebuilt_from_its_charges_refunds_and_open_holds() {
        let events = [(1, Credits::new(30)), (2, Credits::new(20)), (3, Credits::new(50))];
        // Event 3 was captured from a hold taken yesterday; event 1 was refunded 10 of its 30.
        let refunds = [(1, Credits::new(10)), (3, Credits::new(50)), (9, Credits::new(5))];
        assert_eq!(spent_on_day(&events, &[3], &refunds, Credits::new(7)), Credits::new(30 - 10 + 20 + 7));
        assert_eq!(spent_on_day(&[], &[], &[], Credits::ZERO), Credits::ZERO);
    }
}
