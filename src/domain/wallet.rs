//! The wallet a frontend shows: balances by source, the subscription progress
//! bar, the daily reset and the low-balance flag (DESIGN.md, rule 10).
use chrono::{DateTime, Utc};

use super::lots::{CreditSource, Lot, available, spending_order};
use super::money::Credits;
use super::spend_limits::SpendLimitView;

#[derive(Clone, Debug, PartialEq)]
pub struct WalletView {
    pub balance: Credits,
    pub pro_balance: Credits,
    pub daily_free: Credits,
    pub daily_free_resets_at: DateTime<Utc>,
    pub subscription_credits: Credits,
    pub subscription_allowance: Credits,
    /// Display only: never used to decide anything about money.
    pub subscription_percent_left: f64,
    pub tokens: Credits,
    pub promo: Credits,
    /// Carried over from the last period.
    pub rollover: Credits,
    pub held: Credits,
    pub low_balance: bool,
    pub low_balance_threshold: Credits,
    /// Live lots in spending order.
    pub lots: Vec<Lot>,
    pub spend_limit: SpendLimitView,
}

pub struct WalletInputs<'a> {
    pub lots: &'a [Lot],
    pub held: Credits,
    pub pro_entitled: bool,
    pub subscription_allowance: Credits,
    pub daily_free_resets_at: DateTime<Utc>,
    pub low_balance_threshold: Credits,
    pub spend_limit: SpendLimitView,
    pub now: DateTime<Utc>,
}

pub fn summarize(inputs: WalletInputs<'_>) -> WalletView {
    let now = inputs.now;
    let mut lots: Vec<Lot> = inputs.lots.iter().filter(|lot| lot.is_live(now)).cloned().collect();
    spending_order(&mut lots);
    let of = |source: CreditSource| lots.iter().filter(|l| l.source == source).map(|l| l.remaining).sum::<Credits>();
    let balance = available(&lots, false, inputs.pro_entitled, now);
    let subscription_credits = of(CreditSource::Subscription);
    let allowance = inputs.subscription_allowance;
    let subscription_percent_left = if allowance.is_positive() {
        (subscription_credits.get() as f64 * 100.0 / allowance.get() as f64).clamp(0.0, 100.0)
    } else {
        0.0
    };
    WalletView {
        balance,
        pro_balance: available(&lots, true, inputs.pro_entitled, now),
        daily_free: of(CreditSource::DailyFree),
        daily_free_resets_at: inputs.daily_free_resets_at,
        subscription_credits,
        subscription_allowance: allowance,
        subscription_percent_left,
        tokens: of(CreditSource::Tokens),
        promo: of(CreditSource::Promo),
        rollover: of(CreditSource::Rollover),
        held: inputs.held,
        low_balance: balance < inputs.low_balance_threshold,
        low_balance_threshold: inputs.low_balance_threshold,
        lots,
        spend_limit: inputs.spend_limit,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use CreditSource::{DailyFree, Promo, Subscription, Tokens};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap()
    }

    /// A lot expiring `expires_in_hours` from now (never when `None`), created `id` hours ago.
    fn lot(id: i64, source: CreditSource, remaining: i64, expires_in_hours: Option<i64>, pro: bool) -> Lot {
        Lot {
            id,
            source,
            granted: Credits::new(remaining.max(1_000)),
            remaining: Credits::new(remaining),
            expires_at: expires_in_hours.map(|hours| now() + Duration::hours(hours)),
            pro_eligible: pro,
            created_at: now() - Duration::hours(id),
        }
    }

    /// Daily 50 (12 h left), subscription 250 (20 days), tokens 100 (never), promo 30 (5 days),
    /// a Pro-ineligible promo 20 (never), an expired promo and a spent subscription lot.
    fn lots() -> Vec<Lot> {
        vec![
            lot(1, Tokens, 100, None, true),
            lot(2, Subscription, 250, Some(20 * 24), true),
            lot(3, Promo, 30, Some(5 * 24), true),
            lot(4, DailyFree, 50, Some(12), false),
            lot(5, Promo, 40, Some(0), true),
            lot(6, Promo, 60, Some(-24), true),
            lot(7, Subscription, 0, Some(24), true),
            lot(8, Promo, 20, None, false),
        ]
    }

    fn wallet(lots: &[Lot], pro_entitled: bool, allowance: i64, threshold: i64) -> WalletView {
        summarize(WalletInputs {
            lots,
            held: Credits::new(7),
            pro_entitled,
            subscription_allowance: Credits::new(allowance),
            daily_free_resets_at: now() + Duration::hours(12),
            low_balance_threshold: Credits::new(threshold),
            spend_limit: SpendLimitView::default(),
            now: now(),
        })
    }

    #[test]
    fn balances_by_source() {
        let view = wallet(&lots(), true, 1_000, 20);
        let by_source = [view.daily_free, view.subscription_credits, view.tokens, view.promo];
        assert_eq!(by_source.map(Credits::get), [50, 250, 100, 50]);
        assert_eq!(view.balance, Credits::new(450));
        assert_eq!(view.held, Credits::new(7));
        assert_eq!(view.daily_free_resets_at, now() + Duration::hours(12));
        assert_eq!(view.subscription_allowance, Credits::new(1_000));
        assert_eq!(view.low_balance_threshold, Credits::new(20));
    }

    #[test]
    fn pro_balance_needs_the_entitlement_and_excludes_daily_free() {
        // Subscription, tokens and the Pro-eligible promo; never daily free or the other promo.
        assert_eq!(wallet(&lots(), true, 1_000, 20).pro_balance, Credits::new(380));
        let unentitled = wallet(&lots(), false, 1_000, 20);
        assert_eq!((unentitled.pro_balance, unentitled.balance), (Credits::ZERO, Credits::new(450)));
        let daily_only = [lot(1, DailyFree, 50, Some(12), true)];
        assert_eq!(wallet(&daily_only, true, 1_000, 20).pro_balance, Credits::ZERO);
    }

    #[test]
    fn subscription_percent_left() {
        // (subscription credits, allowance, percent)
        let cases = [
            (250, 1_000, 25.0),
            (1_000, 1_000, 100.0),
            (1, 3, 100.0 / 3.0),
            (1_500, 1_000, 100.0),
            (0, 1_000, 0.0),
            (0, 0, 0.0),
        ];
        for (left, allowance, percent) in cases {
            let lots = [lot(1, Subscription, left, Some(24), true)];
            let view = wallet(&lots, true, allowance, 20);
            assert_eq!(view.subscription_percent_left, percent, "{left} of {allowance}");
        }
        // Subscription credits without an allowance show 0, never a division by 0.
        let lots = [lot(1, Subscription, 250, Some(24), true)];
        assert_eq!(wallet(&lots, true, 0, 20).subscription_percent_left, 0.0);
    }

    #[test]
    fn low_balance_is_strictly_below_the_threshold() {
        // The balance is 450.
        for (threshold, low) in [(0, false), (449, false), (450, false), (451, true), (10_000, true)] {
            assert_eq!(wallet(&lots(), true, 1_000, threshold).low_balance, low, "threshold {threshold}");
        }
        assert!(!wallet(&[], false, 0, 0).low_balance);
        assert!(wallet(&[], false, 0, 1).low_balance);
    }

    #[test]
    fn live_lots_in_spending_order() {
        let view = wallet(&lots(), true, 1_000, 20);
        // Soonest expiry first, never-expiring last (older first); expired and spent lots omitted.
        let ids: Vec<i64> = view.lots.iter().map(|lot| lot.id).collect();
        assert_eq!(ids, vec![4, 3, 2, 8, 1]);
    }

    #[test]
    fn an_empty_wallet_is_all_zero() {
        let view = wallet(&[], false, 0, 20);
        let amounts = [view.balance, view.pro_balance, view.daily_free, view.subscription_credits, view.tokens];
        assert_eq!(amounts, [Credits::ZERO; 5]);
        assert_eq!((view.subscription_percent_left, view.lots.len()), (0.0, 0));
    }
}
