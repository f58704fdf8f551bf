//! The configurable numbers of the money rules.
use chrono_tz::Tz;

use super::money::Credits;

#[derive(Clone, Debug)]
pub struct Rules {
    /// Granted to every account each day; 0 turns daily credits off.
    pub daily_free_credits: Credits,
    /// Where the day of the daily free credits begins and ends.
    pub day_time_zone: Tz,
    /// `lowBalance` below this, for accounts that set no threshold of their own.
    pub low_balance_threshold: Credits,
    /// Time limit of a hold when the caller gives none.
    pub hold_ttl_seconds: i64,
    /// How long before a lot expires `credits.expiring` is sent.
    pub expiry_notice_hours: i64,
    /// Time limit of a pending top-up.
    pub top_up_ttl_seconds: i64,
    /// Where a top-up is paid: `{topUpId}` is replaced by its id.
    pub checkout_url: Option<String>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            daily_free_credits: Credits::new(50),
            day_time_zone: Tz::UTC,
            low_balance_threshold: Credits::new(20),
            hold_ttl_seconds: 900,
            expiry_notice_hours: 72,
            top_up_ttl_seconds: 3_600,
            checkout_url: None,
        }
    }
}
