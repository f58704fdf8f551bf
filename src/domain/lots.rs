//! Lots, which of them may pay for a generation, and in which order they are
//! spent (DESIGN.md, rules 1 and 3).
use chrono::{DateTime, Utc};

use super::error::DomainError;
use super::money::Credits;

/// Credits taken from lots: `(lot id, credits)` in spending order.
pub type LotSplit = Vec<(i64, Credits)>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CreditSource {
    DailyFree,
    Subscription,
    Tokens,
    Promo,
    /// Unused allowance carried into the next period (`carry_over`).
    Rollover,
}

impl CreditSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CreditSource::DailyFree => "DAILY_FREE",
            CreditSource::Subscription => "SUBSCRIPTION",
            CreditSource::Tokens => "TOKENS",
            CreditSource::Promo => "PROMO",
            CreditSource::Rollover => "ROLLOVER",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            CreditSource::DailyFree,
            CreditSource::Subscription,
            CreditSource::Tokens,
            CreditSource::Promo,
            CreditSource::Rollover,
        ]
        .into_iter()
        .find(|source| source.as_str() == value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lot {
    pub id: i64,
    pub source: CreditSource,
    pub granted: Credits,
    pub remaining: Credits,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the grant allows Pro models at all; see [`pays_for_pro`].
    pub pro_eligible: bool,
    pub created_at: DateTime<Utc>,
}

impl Lot {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }

    /// Holds credits that can be spent at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.remaining.is_positive() && !self.is_expired(now)
    }
}

/// Daily free credits never pay for Pro generations; every other lot pays for
/// them only if it was granted Pro-eligible and only while the account has an
/// active subscription with Pro access (tokens and promos bought or granted
/// earlier stop paying for Pro when the subscription ends).
pub fn pays_for_pro(lot: &Lot, pro_entitled: bool) -> bool {
    lot.source != CreditSource::DailyFree && lot.pro_eligible && pro_entitled
}

/// Whether `lot` may pay for a generation (Pro or not) at `now`.
pub fn may_pay(lot: &Lot, pro_generation: bool, pro_entitled: bool, now: DateTime<Utc>) -> bool {
    lot.is_live(now) && (!pro_generation || pays_for_pro(lot, pro_entitled))
}

/// Soonest expiry first, never-expiring last, ties by age (then id, so the
/// order is total and the same on every backend).
pub fn spending_order(lots: &mut [Lot]) {
    lots.sort_by_key(|lot| (lot.expires_at.is_none(), lot.expires_at, lot.created_at, lot.id));
}

/// How much may be spent on a generation at `now`.
pub fn available(lots: &[Lot], pro_generation: bool, pro_entitled: bool, now: DateTime<Utc>) -> Credits {
    lots.iter().filter(|lot| may_pay(lot, pro_generation, pro_entitled, now)).map(|lot| lot.remaining).sum()
}

/// The split of `amount` over the lots that may pay, in spending order.
/// Fails with `INSUFFICIENT_CREDITS` (saying what was needed and what was
/// there) without touching anything.
pub fn draw(
    lots: &[Lot],
    amount: Credits,
    pro_generation: bool,
    pro_entitled: bool,
    now: DateTime<Utc>,
) -> Result<LotSplit, DomainError> {
    let mut eligible: Vec<Lot> =
        lots.iter().filter(|lot| may_pay(lot, pro_generation, pro_entitled, now)).cloned().collect();
    let available: Credits = eligible.iter().map(|lot| lot.remaining).sum();
    if available < amount {
        return Err(DomainError::InsufficientCredits { needed: amount, available });
    }
    spending_order(&mut eligible);
    let mut left = amount;
    let mut split = Vec::new();
    for lot in eligible {
        if !left.is_positive() {
            break;
        }
        let take = lot.remaining.min(left);
        split.push((lot.id, take));
        // `take` is at most `left` and both are positive: no overflow is possible.
        left = left.checked_sub(take).ok_or_else(|| DomainError::overflow("credits"))?;
    }
    Ok(split)
}

/// What becomes of credits given back to the lot they came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GiveBack {
    /// Back on the lot, spendable again.
    pub kept: Credits,
    /// Back on the lot and expired with it at once.
    pub expired: Credits,
}

/// Credits given back to their lot (a hold released or timed out, the part
/// of a hold a capture did not charge, a refunded generation) return to it,
/// and if the lot has expired since they were taken they expire with it at
/// once: the ledger shows them returned and expired, and they are not
/// counted as given back. One rule for releases and refunds alike, so that
/// the way credits come back never decides whether they outlive their lot.
pub fn give_back(lot: &Lot, credits: Credits, now: DateTime<Utc>) -> GiveBack {
    if lot.is_expired(now) {
        GiveBack { kept: Credits::ZERO, expired: credits }
    } else {
        GiveBack { kept: credits, expired: Credits::ZERO }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn lot(id: i64, source: CreditSource, remaining: i64, expires: Option<u32>, pro: bool) -> Lot {
        Lot {
            id,
            source,
            granted: Credits::new(remaining),
            remaining: Credits::new(remaining),
            expires_at: expires.map(at),
            pro_eligible: pro,
            created_at: at(1),
        }
    }

    #[test]
    fn soonest_expiry_first_and_never_expiring_last() {
        let lots = vec![
            lot(1, CreditSource::Tokens, 100, None, true),
            lot(2, CreditSource::Subscription, 10, Some(20), true),
            lot(3, CreditSource::DailyFree, 5, Some(3), false),
            lot(4, CreditSource::Promo, 10, Some(10), false),
        ];
        let split = draw(&lots, Credits::new(30), false, true, at(2)).unwrap();
        assert_eq!(
            split,
            vec![(3, Credits::new(5)), (4, Credits::new(10)), (2, Credits::new(10)), (1, Credits::new(5))]
        );
    }

    #[test]
    fn daily_free_never_pays_for_pro() {
        let lots = vec![lot(1, CreditSource::DailyFree, 50, Some(3), true)];
        assert_eq!(available(&lots, true, true, at(2)), Credits::ZERO);
        let err = draw(&lots, Credits::new(1), true, true, at(2)).unwrap_err();
        assert_eq!(err, DomainError::InsufficientCredits { needed: Credits::new(1), available: Credits::ZERO });
    }

    #[test]
    fn tokens_pay_for_pro_only_while_entitled() {
        let lots = vec![lot(1, CreditSource::Tokens, 50, None, true)];
        assert_eq!(available(&lots, true, true, at(2)), Credits::new(50));
        assert_eq!(available(&lots, true, false, at(2)), Credits::ZERO);
        assert_eq!(available(&lots, false, false, at(2)), Credits::new(50));
    }

    #[test]
    fn credits_given_back_to_an_expired_lot_expire_and_others_are_kept() {
        let daily = lot(1, CreditSource::DailyFree, 0, Some(3), false);
        let ten = Credits::new(10);
        assert_eq!(give_back(&daily, ten, at(2)), GiveBack { kept: ten, expired: Credits::ZERO });
        for later in [at(3), at(4)] {
            assert_eq!(give_back(&daily, ten, later), GiveBack { kept: Credits::ZERO, expired: ten });
        }
        let tokens = lot(2, CreditSource::Tokens, 0, None, true);
        assert_eq!(give_back(&tokens, ten, at(28)), GiveBack { kept: ten, expired: Credits::ZERO });
    }

    #[test]
    fn expired_lots_pay_nothing() {
        let lots = vec![lot(1, CreditSource::Promo, 50, Some(2), false)];
        assert_eq!(available(&lots, false, false, at(2)), Credits::ZERO);
    }
}
