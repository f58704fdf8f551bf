//! Conversions between table rows and domain types.
use entity::{accounts, credit_lots, reservations, subscriptions};

use crate::clock::from_ms;
use crate::domain::holds::{Reservation, ReservationStatus};
use crate::domain::lots::{CreditSource, Lot};
use crate::domain::money::Credits;
use crate::domain::spend_limits::{DaySpend, Limits, SpendLimits};
use crate::domain::subscription::{Subscription, SubscriptionStatus};
use crate::error::{Error, Result};

pub(crate) fn lot(row: &credit_lots::Model) -> Result<Lot> {
    Ok(Lot {
        id: row.id,
        source: CreditSource::parse(&row.source)
            .ok_or_else(|| Error::internal(format!("lot {} has source {}", row.id, row.source)))?,
        granted: Credits::new(row.granted),
        remaining: Credits::new(row.remaining),
        expires_at: row.expires_at_ms.map(from_ms),
        pro_eligible: row.pro_eligible,
        created_at: from_ms(row.created_at_ms),
    })
}

pub(crate) fn subscription(row: &subscriptions::Model) -> Result<Subscription> {
    Ok(Subscription {
        id: row.id,
        plan_code: row.plan_code.clone(),
        status: SubscriptionStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("subscription {} has status {}", row.id, row.status)))?,
        billing_anchor: from_ms(row.billing_anchor_ms),
        current_period_start: from_ms(row.current_period_start_ms),
        current_period_end: from_ms(row.current_period_end_ms),
        cancel_at_period_end: row.cancel_at_period_end,
        payment_reference: row.payment_reference.clone(),
    })
}

pub(crate) fn reservation(row: &reservations::Model) -> Result<Reservation> {
    let split: Vec<(i64, i64)> = from_json(&row.lot_split)?;
    Ok(Reservation {
        status: ReservationStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("reservation {} has status {}", row.id, row.status)))?,
        lot_split: split.into_iter().map(|(lot, c)| (lot, Credits::new(c))).collect(),
        id: row.id,
        account_id: row.account_id.clone(),
        credits: Credits::new(row.credits),
        expires_at: from_ms(row.expires_at_ms),
        idempotency_key: row.idempotency_key.clone(),
        usage_event_id: row.usage_event_id,
        created_at: from_ms(row.created_at_ms),
    })
}

/// The spend limits on an account's row, and its count of the day's spend.
pub(crate) fn spend_limits(row: &accounts::Model) -> (SpendLimits, DaySpend) {
    let credits = |value: Option<i64>| value.map(Credits::new);
    let limits = SpendLimits {
        user: Limits { daily: credits(row.spend_limit_daily), per_generation: credits(row.spend_limit_per_generation) },
        admin: Limits {
            daily: credits(row.admin_spend_limit_daily),
            per_generation: credits(row.admin_spend_limit_per_generation),
        },
    };
    (limits, DaySpend { day: row.spent_day.clone(), credits: Credits::new(row.spent_credits) })
}

/// Lists stored as JSON text, such as a lot split.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::internal(format!("json: {e}")))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("json: {e}")))
}
