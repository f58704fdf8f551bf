//! Refunds (DESIGN.md section 10): why a generation's credits came back, and
//! how much of a charge may still come back, to which lots.
use chrono::{DateTime, Utc};

use super::error::DomainError;
use super::lots::{Lot, LotSplit};
use super::money::Credits;
use super::usage::{UsageEvent, UsageStatus};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefundCause {
    ProviderError,
    Timeout,
    OutputModerated,
    UserCancelled,
    Other,
}

impl RefundCause {
    pub const ALL: [RefundCause; 5] = [
        RefundCause::ProviderError,
        RefundCause::Timeout,
        RefundCause::OutputModerated,
        RefundCause::UserCancelled,
        RefundCause::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundCause::ProviderError => "PROVIDER_ERROR",
            RefundCause::Timeout => "TIMEOUT",
            RefundCause::OutputModerated => "OUTPUT_MODERATED",
            RefundCause::UserCancelled => "USER_CANCELLED",
            RefundCause::Other => "OTHER",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        RefundCause::ALL.into_iter().find(|cause| cause.as_str() == value)
    }
}

/// One refund of a usage event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageRefund {
    pub credits: Credits,
    pub cause: RefundCause,
    pub created_at: DateTime<Utc>,
}

/// The split of a refund over the lots that paid for `event`: `requested`
/// credits (all that is left when none), taken from what each lot gave and
/// has not had back (`returned`), the lot that expires last first (never
/// expiring first of all), so that what comes back lasts longest. Refuses a
/// refund of nothing or of more than is left, and an event with nothing
/// left (`ALREADY_REFUNDED`).
pub fn refund_split(
    event: &UsageEvent,
    returned: &[(i64, Credits)],
    lots: &[Lot],
    requested: Option<Credits>,
) -> Result<LotSplit, DomainError> {
    let left = event.credits.checked_sub(event.refunded_credits).unwrap_or(Credits::ZERO);
    if !left.is_positive() {
        return Err(DomainError::AlreadyRefunded { id: event.id.to_string() });
    }
    let amount = requested.unwrap_or(left);
    if !amount.is_positive() {
        return Err(DomainError::invalid("credits", "a refund is of 1 credit or more"));
    }
    if amount > left {
        return Err(DomainError::invalid(
            "credits",
            format!("{left} of the {} credits charged are left to refund", event.credits),
        ));
    }
    let mut open: Vec<(i64, Credits, Option<&Lot>)> = event
        .lot_split
        .iter()
        .map(|&(lot_id, paid)| {
            let back: Credits = returned.iter().filter(|(id, _)| *id == lot_id).map(|(_, c)| *c).sum();
            let lot = lots.iter().find(|lot| lot.id == lot_id);
            (lot_id, paid.checked_sub(back).unwrap_or(Credits::ZERO), lot)
        })
        .filter(|(_, open, _)| open.is_positive())
        .collect();
    // Latest expiry first, never-expiring before all; then newest, then id.
    open.sort_by_key(|(id, _, lot)| {
        let expires = lot.and_then(|lot| lot.expires_at);
        std::cmp::Reverse((expires.is_none(), expires, lot.map(|lot| lot.created_at), *id))
    });
    let mut rest = amount;
    let mut split = Vec::new();
    for (lot_id, open, _) in open {
        if !rest.is_positive() {
            break;
        }
        let take = open.min(rest);
        split.push((lot_id, take));
        rest = rest.checked_sub(take).unwrap_or(Credits::ZERO);
    }
    Ok(split)
}

/// An event's status once `refunded` of its credits came back.
pub fn status_after(charged: Credits, refunded: Credits) -> UsageStatus {
    if refunded >= charged {
        UsageStatus::Refunded
    } else if refunded.is_positive() {
        UsageStatus::PartiallyRefunded
    } else {
        UsageStatus::Charged
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::catalog::StudioKind;
    use crate::domain::error::ErrorCode;
    use crate::domain::lots::CreditSource;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0).unwrap()
    }

    fn lot(id: i64, expires: Option<u32>) -> Lot {
        Lot {
            id,
            source: CreditSource::Promo,
            granted: Credits::new(100),
            remaining: Credits::ZERO,
            expires_at: expires.map(at),
            pro_eligible: false,
            created_at: at(1),
        }
    }

    fn event(split: &[(i64, i64)], refunded: i64) -> UsageEvent {
        let lot_split: LotSplit = split.iter().map(|&(id, c)| (id, Credits::new(c))).collect();
        UsageEvent {
            id: 9,
            account_id: "a".into(),
            created_at: at(2),
            studio: StudioKind::Image,
            tool: "t".into(),
            model_id: None,
            count: 1,
            units: None,
            options: vec![],
            credits: lot_split.iter().map(|(_, c)| *c).sum(),
            refunded_credits: Credits::new(refunded),
            status: UsageStatus::Charged,
            idempotency_key: "k".into(),
            lot_split,
            unit_price_millicredits: 1_000,
            catalog_version: 1,
        }
    }

    fn credits(split: &[(i64, i64)]) -> LotSplit {
        split.iter().map(|&(id, c)| (id, Credits::new(c))).collect()
    }

    #[test]
    fn the_lot_that_expires_last_gets_its_credits_back_first() {
        // Daily (day 3), promo (day 20), tokens (never).
        let lots = [lot(1, Some(3)), lot(2, Some(20)), lot(3, None)];
        let paid = event(&[(1, 5), (2, 10), (3, 4)], 0);
        assert_eq!(refund_split(&paid, &[], &lots, Some(Credits::new(6))), Ok(credits(&[(3, 4), (2, 2)])));
        let returned = credits(&[(3, 4), (2, 2)]);
        let after = event(&[(1, 5), (2, 10), (3, 4)], 6);
        assert_eq!(refund_split(&after, &returned, &lots, None), Ok(credits(&[(2, 8), (1, 5)])));
    }

    #[test]
    fn more_than_is_left_nothing_or_a_refunded_event_is_refused() {
        let lots = [lot(1, None)];
        let refused = |refunded, requested| refund_split(&event(&[(1, 10)], refunded), &[], &lots, requested);
        let more = refused(4, Some(Credits::new(7))).unwrap_err();
        assert_eq!((more.code(), more.field()), (ErrorCode::InvalidInput, Some("credits")));
        assert_eq!(refused(0, Some(Credits::ZERO)).unwrap_err().field(), Some("credits"));
        assert_eq!(refused(10, None).unwrap_err().code(), ErrorCode::AlreadyRefunded);
        assert_eq!(refused(10, Some(Credits::new(1))).unwrap_err().code(), ErrorCode::AlreadyRefunded);
    }

    #[test]
    fn the_status_follows_what_came_back() {
        let ten = Credits::new(10);
        assert_eq!(status_after(ten, Credits::ZERO), UsageStatus::Charged);
        assert_eq!(status_after(ten, Credits::new(3)), UsageStatus::PartiallyRefunded);
        assert_eq!(status_after(ten, ten), UsageStatus::Refunded);
    }
}
