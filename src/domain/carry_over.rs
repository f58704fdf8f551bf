//! Carry-over (DESIGN.md section 10): when a period renews, a share of the
//! allowance left unused becomes a ROLLOVER lot of the new period. It is
//! carried once (a ROLLOVER lot never carries again) and forfeited when the
//! subscription ends or changes plan.
use chrono::{DateTime, Utc};

use super::catalog::Plan;
use super::error::DomainError;
use super::lots::{CreditSource, Lot};
use super::money::Credits;

pub const PERCENT_MAX: i64 = 100;

/// The allowance left unused on the period ending at `period_end`: what is
/// left on the SUBSCRIPTION lots that expire with it. Credits held at that
/// moment are not unused; carried credits (ROLLOVER) are never counted.
pub fn unused_allowance(lots: &[Lot], period_end: DateTime<Utc>) -> Credits {
    lots.iter()
        .filter(|lot| lot.source == CreditSource::Subscription && lot.expires_at == Some(period_end))
        .map(|lot| lot.remaining)
        .sum()
}

/// What `plan` carries of `unused` credits: its percent, rounded down to a
/// whole credit, at most its cap.
pub fn carried(plan: &Plan, unused: Credits) -> Credits {
    let percent = plan.rollover_percent.clamp(0, PERCENT_MAX);
    // Both factors are bounded (an account owns at most 2^31 - 1 credits,
    // the percent at most 100): the product fits an i64.
    let share = Credits::new(unused.get().max(0).saturating_mul(percent) / PERCENT_MAX);
    match plan.rollover_cap {
        Some(cap) => share.min(Credits::new(cap.max(0))),
        None => share,
    }
}

/// Lots the end of a subscription takes away: its allowance expires, its
/// carried credits are forfeited.
pub fn ends_with_subscription(source: CreditSource) -> bool {
    matches!(source, CreditSource::Subscription | CreditSource::Rollover)
}

/// A plan's carry-over terms: a percent from 0 to 100 and a cap that is not
/// negative (the catalog's plan changes check them).
pub fn validate(percent: i64, cap: Option<i64>) -> Result<(), DomainError> {
    if !(0..=PERCENT_MAX).contains(&percent) {
        return Err(DomainError::invalid("rolloverPercent", "a percent from 0 to 100"));
    }
    if cap.is_some_and(|cap| cap < 0) {
        return Err(DomainError::invalid("rolloverCap", "a cap is 0 or more credits, or null for none"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn plan(percent: i64, cap: Option<i64>) -> Plan {
        Plan {
            code: "P".into(),
            name: "P".into(),
            price_cents: 100,
            monthly_credits: 1_000,
            pro_access: true,
            can_buy_tokens: true,
            rollover_percent: percent,
            rollover_cap: cap,
        }
    }

    #[test]
    fn a_percent_of_the_unused_allowance_rounded_down_and_capped() {
        // (percent, cap, unused, carried)
        let cases = [
            (20, Some(200), 997, 199),
            (20, Some(200), 1_000, 200),
            (25, Some(600), 3_000, 600),
            (30, None, 10_000, 3_000),
            (30, None, 3, 0),
            (0, None, 1_000, 0),
            (100, None, 7, 7),
            (50, Some(0), 100, 0),
            (50, None, 0, 0),
        ];
        for (percent, cap, unused, expected) in cases {
            assert_eq!(
                carried(&plan(percent, cap), Credits::new(unused)),
                Credits::new(expected),
                "{percent}% {cap:?}"
            );
        }
    }

    #[test]
    fn only_the_allowance_of_the_ending_period_is_unused() {
        let at = |d| Utc.with_ymd_and_hms(2026, 2, d, 0, 0, 0).unwrap();
        let lot = |id, source, remaining, expires| Lot {
            id,
            source,
            granted: Credits::new(1_000),
            remaining: Credits::new(remaining),
            expires_at: Some(expires),
            pro_eligible: true,
            created_at: at(1),
        };
        let lots = [
            lot(1, CreditSource::Subscription, 400, at(15)),
            lot(2, CreditSource::Rollover, 100, at(15)),
            lot(3, CreditSource::Promo, 50, at(15)),
            lot(4, CreditSource::Subscription, 70, at(20)),
        ];
        assert_eq!(unused_allowance(&lots, at(15)), Credits::new(400));
    }

    #[test]
    fn terms_are_a_percent_and_a_cap_that_is_not_negative() {
        assert!(validate(0, None).is_ok() && validate(100, Some(0)).is_ok());
        for (percent, cap, field) in
            [(-1, None, "rolloverPercent"), (101, None, "rolloverPercent"), (5, Some(-1), "rolloverCap")]
        {
            assert_eq!(validate(percent, cap).unwrap_err().field(), Some(field));
        }
    }
}
