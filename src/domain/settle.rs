//! What has to happen to an account because time passed: periods that ended,
//! lots that expired, the daily free credits of a new day. Computed on each
//! access, so no background job is needed for any of it.
use chrono::{DateTime, Utc};

use super::lots::Lot;
use super::money::Credits;
use super::periods::{day_key, next_day_boundary};
use super::rules::Rules;
use super::subscription::{Rollover, Subscription, rollover};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub rollover: Rollover,
    /// Lots with credits left whose expiry has passed.
    pub expire: Vec<i64>,
    /// The daily free lot to grant: amount, expiry, and the day it is for.
    pub daily_grant: Option<(Credits, DateTime<Utc>, String)>,
}

impl Settlement {
    pub fn is_empty(&self) -> bool {
        self.rollover == Rollover::Unchanged && self.expire.is_empty() && self.daily_grant.is_none()
    }
}

pub fn settle(
    rules: &Rules,
    now: DateTime<Utc>,
    lots: &[Lot],
    subscription: Option<&Subscription>,
    daily_free_day: Option<&str>,
) -> Settlement {
    let rollover = subscription.map_or(Rollover::Unchanged, |s| rollover(s, now));
    let expire =
        lots.iter().filter(|lot| lot.remaining.is_positive() && lot.is_expired(now)).map(|lot| lot.id).collect();
    let today = day_key(now, rules.day_time_zone);
    let daily_grant = (rules.daily_free_credits.is_positive() && daily_free_day != Some(today.as_str()))
        .then(|| (rules.daily_free_credits, next_day_boundary(now, rules.day_time_zone), today));
    Settlement { rollover, expire, daily_grant }
}
