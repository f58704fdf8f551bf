//! A charged generation as recorded.
use chrono::{DateTime, Utc};

use super::catalog::StudioKind;
use super::money::Credits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageStatus {
    Charged,
    /// Some of its credits were refunded, not all.
    PartiallyRefunded,
    Refunded,
}

impl UsageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageStatus::Charged => "CHARGED",
            UsageStatus::PartiallyRefunded => "PARTIALLY_REFUNDED",
            UsageStatus::Refunded => "REFUNDED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [UsageStatus::Charged, UsageStatus::PartiallyRefunded, UsageStatus::Refunded]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageEvent {
    pub id: i64,
    pub account_id: String,
    pub created_at: DateTime<Utc>,
    pub studio: StudioKind,
    pub tool: String,
    pub model_id: Option<String>,
    pub count: i64,
    pub units: Option<i64>,
    pub options: Vec<(String, String)>,
    pub credits: Credits,
    /// Credits refunded so far, over all its refunds.
    pub refunded_credits: Credits,
    pub status: UsageStatus,
    pub idempotency_key: String,
    /// `(lot id, credits)` in the order the lots were drawn.
    pub lot_split: Vec<(i64, Credits)>,
    /// Thousandths of a credit per unit, as charged.
    pub unit_price_millicredits: i64,
    /// The catalog version that priced it.
    pub catalog_version: i64,
}
