//! The wallet a frontend shows: balances by source, the subscription progress
//! bar, the daily reset and the low-balance flag (DESIGN.md, rule 10).
use chrono::{DateTime, Utc};

use super::lots::{CreditSource, Lot, available, spending_order};
use super::money::Credits;

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
    pub held: Credits,
    pub low_balance: bool,
    pub low_balance_threshold: Credits,
    /// Live lots in spending order.
    pub lots: Vec<Lot>,
}

pub struct WalletInputs<'a> {
    pub lots: &'a [Lot],
    pub held: Credits,
    pub pro_entitled: bool,
    pub subscription_allowance: Credits,
    pub daily_free_resets_at: DateTime<Utc>,
    pub low_balance_threshold: Credits,
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
        held: inputs.held,
        low_balance: balance < inputs.low_balance_threshold,
        low_balance_threshold: inputs.low_balance_threshold,
        lots,
    }
}
