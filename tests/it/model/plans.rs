//! The model's plans (DESIGN.md, rules 2 and 9): subscribing, renewing,
//! changing plan, cancelling at period end or at once, buying tokens, and
//! admin grants.
use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{Value, json};

use super::catalog::{Plan, catalog};
use super::lots::{ALLOWANCE_LOT, PROMO_LOT, ROLLOVER_LOT, TOKENS_LOT, next_midnight, time};
use super::ops::Expiry;
use super::rules::{Model, Refusal, Success};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Active,
    Canceled,
    Expired,
}

#[derive(Clone, Debug)]
pub struct Sub {
    pub plan: &'static Plan,
    pub status: Status,
    pub anchor: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
}

fn add_months(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months)).expect("a date in range")
}

/// Period k of a subscription runs from anchor + k months to anchor + k + 1 months.
fn period_containing(anchor: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let mut k = 0;
    while add_months(anchor, k + 1) <= now {
        k += 1;
    }
    (add_months(anchor, k), add_months(anchor, k + 1))
}

impl Model {
    /// Part of settling: a period that ended renews (a new allowance) or,
    /// cancelled at its end, ends the subscription.
    pub fn end_of_period(&mut self, a: usize) {
        let now = self.now;
        let Some(sub) = self.active(a).filter(|sub| now >= sub.end).cloned() else { return };
        if sub.cancel_at_period_end {
            self.end_subscription(a, Status::Canceled);
        } else {
            let (start, end) = period_containing(sub.anchor, now);
            if let Some(current) = self.accounts[a].sub.as_mut() {
                current.start = start;
                current.end = end;
            }
            // The allowance left on the period that ended, never what was
            // carried into it: a share of it, rounded down, capped.
            let unused: i64 = self.accounts[a]
                .lots
                .iter()
                .filter(|lot| lot.source == ALLOWANCE_LOT && lot.expires_at == Some(sub.end))
                .map(|lot| lot.remaining)
                .sum();
            let share = unused * sub.plan.rollover_percent / 100;
            let carried = sub.plan.rollover_cap.map_or(share, |cap| share.min(cap));
            if carried > 0 {
                self.add_lot(a, ROLLOVER_LOT, carried, Some(end), sub.plan.pro_access);
            }
            self.add_lot(a, ALLOWANCE_LOT, sub.plan.monthly_credits, Some(end), sub.plan.pro_access);
        }
    }

    pub fn active(&self, a: usize) -> Option<&Sub> {
        self.accounts[a].sub.as_ref().filter(|sub| sub.status == Status::Active)
    }

    pub fn pro_entitled(&self, a: usize) -> bool {
        self.active(a).is_some_and(|sub| sub.plan.pro_access)
    }

    fn end_subscription(&mut self, a: usize, status: Status) {
        let account = &mut self.accounts[a];
        if let Some(sub) = account.sub.as_mut() {
            sub.status = status;
        }
        let now = self.now;
        for lot in account.lots.iter_mut().filter(|lot| [ALLOWANCE_LOT, ROLLOVER_LOT].contains(&lot.source)) {
            lot.remaining = 0;
            lot.ended = true;
            lot.expires_at = lot.expires_at.map(|at| at.min(now));
        }
    }

    fn start_subscription(&mut self, a: usize, plan: &'static Plan) {
        let now = self.now;
        let end = add_months(now, 1);
        let sub = Sub { plan, status: Status::Active, anchor: now, start: now, end, cancel_at_period_end: false };
        self.accounts[a].sub = Some(sub);
        self.add_lot(a, ALLOWANCE_LOT, plan.monthly_credits, Some(end), plan.pro_access);
    }

    pub fn subscribe(&mut self, a: usize, code: &str) -> Result<Success, Refusal> {
        let plan = catalog().plan(code);
        // Free is where a cancelled subscription leaves an account, not a
        // plan to subscribe to; checked before the account is touched.
        if plan.code == "FREE" {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        self.settle(a);
        match self.active(a).map(|sub| (sub.plan.code.as_str(), sub.cancel_at_period_end)) {
            Some((current, false)) if current == code => return Err(Refusal::new("INVALID_INPUT")),
            Some((current, true)) if current == code => {
                if let Some(sub) = self.accounts[a].sub.as_mut() {
                    sub.cancel_at_period_end = false;
                }
            }
            Some(_) => {
                self.end_subscription(a, Status::Expired);
                self.start_subscription(a, plan);
            }
            None => self.start_subscription(a, plan),
        }
        Ok(Success::Subscription)
    }

    pub fn cancel(&mut self, a: usize, at_period_end: bool) -> Result<Success, Refusal> {
        self.settle(a);
        if self.active(a).is_some() {
            if at_period_end {
                if let Some(sub) = self.accounts[a].sub.as_mut() {
                    sub.cancel_at_period_end = true;
                }
            } else {
                self.end_subscription(a, Status::Canceled);
            }
            return Ok(Success::Subscription);
        }
        match &self.accounts[a].sub {
            Some(last) if last.status == Status::Canceled => Ok(Success::Subscription),
            _ => Err(Refusal::new("SUBSCRIPTION_REQUIRED")),
        }
    }

    pub fn purchase(&mut self, a: usize, pack: &str) -> Result<Success, Refusal> {
        self.settle(a);
        if !self.active(a).is_some_and(|sub| sub.plan.can_buy_tokens) {
            return Err(Refusal::new("SUBSCRIPTION_REQUIRED"));
        }
        Ok(Success::Lot(self.add_lot(a, TOKENS_LOT, catalog().pack(pack).tokens, None, true)))
    }

    pub fn grant(
        &mut self,
        a: usize,
        credits: i64,
        expires_at: Option<DateTime<Utc>>,
        pro: bool,
    ) -> Result<Success, Refusal> {
        // Checked before the account is touched.
        if expires_at.is_some_and(|at| at <= self.now) {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        self.settle(a);
        Ok(Success::Lot(self.add_lot(a, PROMO_LOT, credits, expires_at, pro)))
    }

    pub fn expiry(&self, a: usize, expiry: Expiry) -> Option<DateTime<Utc>> {
        let now = self.now;
        let period_end = self.accounts[a].sub.as_ref().map(|sub| sub.end).filter(|&end| end > now);
        match expiry {
            Expiry::Never => None,
            Expiry::InMinutes(minutes) => Some(now + Duration::minutes(minutes)),
            Expiry::NextMidnight => Some(next_midnight(now)),
            Expiry::PeriodEnd => Some(period_end.unwrap_or(now + Duration::days(1))),
            Expiry::Now => Some(now),
        }
    }

    pub fn allowance(&self, a: usize) -> i64 {
        self.active(a).map_or(0, |sub| sub.plan.monthly_credits)
    }

    pub fn subscription(&self, a: usize) -> Value {
        self.accounts[a].sub.as_ref().map_or(Value::Null, |sub| {
            json!({
                "plan": sub.plan.code,
                "monthlyCredits": sub.plan.monthly_credits,
                "status": match sub.status {
                    Status::Active => "ACTIVE",
                    Status::Canceled => "CANCELED",
                    Status::Expired => "EXPIRED",
                },
                "currentPeriodStart": time(sub.start),
                "currentPeriodEnd": time(sub.end),
                "cancelAtPeriodEnd": sub.cancel_at_period_end,
            })
        })
    }

    pub fn plan_code(&self, a: usize) -> &str {
        self.active(a).map_or("FREE", |sub| sub.plan.code.as_str())
    }
}
