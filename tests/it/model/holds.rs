//! The model's charges, holds and refunds (DESIGN.md, rules 5 to 7): a
//! charge draws on the lots in spending order; a hold draws the same way,
//! then is captured (the first lots drawn pay, the rest goes back), released
//! (all goes back) or times out (released by the first access at or after its
//! time limit); refunds give a charge back, whole or in parts that add up to
//! at most the charge, to the lot that expires last first. Credits going
//! back to a lot that is no longer open (past its expiry, or the allowance
//! of a subscription that ended) are lost.
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::catalog::Generation;
use super::lots::time;
use super::rules::{KeyKind, Model, Refusal, Success};

/// The server's default time limit of a hold.
pub const HOLD_TTL_SECONDS: i64 = 900;
const HOLD_TTL_SECONDS_RANGE: std::ops::RangeInclusive<i64> = 10..=86_400;

/// A usage event: a charge, or a captured hold.
#[derive(Clone, Debug)]
pub struct Event {
    pub generation: Generation,
    pub credits: i64,
    /// `(lot seq, credits)` in spending order.
    pub split: Vec<(u64, i64)>,
    /// Credits refunded so far, and to which lots.
    pub refunded: i64,
    pub returned: Vec<(u64, i64)>,
    pub real_id: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldStatus {
    Open,
    Captured(usize),
    Released,
    Expired,
}

#[derive(Clone, Debug)]
pub struct Hold {
    pub generation: Generation,
    pub credits: i64,
    pub split: Vec<(u64, i64)>,
    pub expires_at: DateTime<Utc>,
    pub status: HoldStatus,
    pub real_id: Option<String>,
}

impl Model {
    fn record_event(&mut self, a: usize, generation: Generation, credits: i64, split: Vec<(u64, i64)>) -> usize {
        let events = &mut self.accounts[a].events;
        events.push(Event { generation, credits, split, refunded: 0, returned: Vec::new(), real_id: None });
        events.len() - 1
    }

    pub fn consume(&mut self, a: usize, key: &str, generation: &Generation) -> Result<Success, Refusal> {
        self.settle(a);
        if let Some(event) = self.idempotent(a, key, (KeyKind::Charge, generation, None))? {
            return Ok(Success::Event(event));
        }
        let split = self.draw(a, generation.cost(), generation.pro())?;
        let event = self.record_event(a, generation.clone(), generation.cost(), split);
        self.made_by(a, key, event);
        Ok(Success::Event(event))
    }

    pub fn reserve(
        &mut self,
        a: usize,
        key: &str,
        generation: &Generation,
        ttl_seconds: Option<i64>,
    ) -> Result<Success, Refusal> {
        // Checked before the account is touched, also for a retry.
        if ttl_seconds.is_some_and(|ttl| !HOLD_TTL_SECONDS_RANGE.contains(&ttl)) {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        self.settle(a);
        if let Some(hold) = self.idempotent(a, key, (KeyKind::Hold, generation, ttl_seconds))? {
            return Ok(Success::Hold(hold));
        }
        let split = self.draw(a, generation.cost(), generation.pro())?;
        let expires_at = self.now + Duration::seconds(ttl_seconds.unwrap_or(HOLD_TTL_SECONDS));
        let holds = &mut self.accounts[a].holds;
        holds.push(Hold {
            generation: generation.clone(),
            credits: generation.cost(),
            split,
            expires_at,
            status: HoldStatus::Open,
            real_id: None,
        });
        let hold = holds.len() - 1;
        self.made_by(a, key, hold);
        Ok(Success::Hold(hold))
    }

    /// `credits` None charges all of it. A captured hold answers again with
    /// its event when asked for the same amount (or none).
    pub fn capture(&mut self, a: usize, h: usize, credits: Option<i64>) -> Result<Success, Refusal> {
        self.settle(a);
        let hold = self.accounts[a].holds[h].clone();
        let charged = credits.unwrap_or(hold.credits);
        match hold.status {
            HoldStatus::Captured(event) if credits.is_none() || self.accounts[a].events[event].credits == charged => {
                return Ok(Success::Event(event));
            }
            HoldStatus::Open => {}
            _ => return Err(Refusal::new("RESERVATION_CLOSED")),
        }
        if !(0..=hold.credits).contains(&charged) {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        let (mut paid, mut back) = (Vec::new(), Vec::new());
        let mut left = charged;
        for &(seq, share) in &hold.split {
            let pay = left.min(share);
            left -= pay;
            if pay > 0 {
                paid.push((seq, pay));
            }
            if share > pay {
                back.push((seq, share - pay));
            }
        }
        self.give_back(a, &back);
        let event = self.record_event(a, hold.generation.clone(), charged, paid);
        self.accounts[a].holds[h].status = HoldStatus::Captured(event);
        Ok(Success::Event(event))
    }

    /// Releasing a released or timed-out hold answers as the first time.
    pub fn release(&mut self, a: usize, h: usize) -> Result<Success, Refusal> {
        self.settle(a);
        match self.accounts[a].holds[h].status {
            HoldStatus::Open => {
                let split = self.accounts[a].holds[h].split.clone();
                self.give_back(a, &split);
                self.accounts[a].holds[h].status = HoldStatus::Released;
            }
            HoldStatus::Released | HoldStatus::Expired => {}
            HoldStatus::Captured(_) => return Err(Refusal::new("RESERVATION_CLOSED")),
        }
        Ok(Success::Hold(h))
    }

    /// Part of settling: holds at or past their time limit release themselves.
    pub fn time_out_holds(&mut self, a: usize) {
        let now = self.now;
        for h in 0..self.accounts[a].holds.len() {
            let hold = &self.accounts[a].holds[h];
            if hold.status == HoldStatus::Open && hold.expires_at <= now {
                let split = hold.split.clone();
                self.give_back(a, &split);
                self.accounts[a].holds[h].status = HoldStatus::Expired;
            }
        }
    }

    /// `requested` credits of event `e` back (all that is left when none).
    pub fn refund(&mut self, a: usize, e: usize, requested: Option<i64>) -> Result<Success, Refusal> {
        self.settle(a);
        let event = &self.accounts[a].events[e];
        let left = event.credits - event.refunded;
        if left == 0 {
            return Err(Refusal::new("ALREADY_REFUNDED"));
        }
        let amount = requested.unwrap_or(left);
        if amount > left {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        // What each lot paid and has not had back, the lot that expires
        // last first (never expiring before all), then the newest.
        let mut open: Vec<(u64, i64)> = event
            .split
            .iter()
            .map(|&(seq, paid)| {
                let back: i64 = event.returned.iter().filter(|(s, _)| *s == seq).map(|(_, c)| c).sum();
                (seq, paid - back)
            })
            .filter(|(_, open)| *open > 0)
            .collect();
        open.sort_by_key(|&(seq, _)| {
            let lot = self.lot(a, seq);
            std::cmp::Reverse((lot.expires_at.is_none(), lot.expires_at, lot.created_at, seq))
        });
        let mut rest = amount;
        let mut split = Vec::new();
        for (seq, open) in open {
            let take = open.min(rest);
            if take > 0 {
                split.push((seq, take));
                rest -= take;
            }
        }
        let credits = self.give_back(a, &split);
        let event = &mut self.accounts[a].events[e];
        event.refunded += amount;
        event.returned.extend(split);
        Ok(Success::Refunded { event: e, credits })
    }

    /// A usage event as the API shows it; ids apart.
    pub fn event_json(&self, a: usize, e: usize) -> Value {
        let event = &self.accounts[a].events[e];
        let mut expected = event.generation.usage_event(event.credits, event.refunded);
        expected["lotSplit"] = json!(event.split.iter().map(|(_, credits)| credits).collect::<Vec<_>>());
        expected
    }

    /// A reservation as the API shows it; ids apart.
    pub fn hold_json(&self, a: usize, h: usize) -> Value {
        let hold = &self.accounts[a].holds[h];
        let (status, event) = match hold.status {
            HoldStatus::Open => ("OPEN", None),
            HoldStatus::Captured(event) => ("CAPTURED", self.accounts[a].events[event].real_id.clone()),
            HoldStatus::Released => ("RELEASED", None),
            HoldStatus::Expired => ("EXPIRED", None),
        };
        json!({
            "credits": hold.credits,
            "status": status,
            "expiresAt": time(hold.expires_at),
            "usageEventId": event,
            "lotSplit": hold.split.iter().map(|(_, credits)| credits).collect::<Vec<_>>(),
        })
    }

    /// Charged (not wholly refunded) usage: how many events, and their
    /// credits net of refunds.
    pub fn usage_totals(&self, a: usize) -> Value {
        // A charge of nothing (a hold captured for 0) has nothing to refund.
        let wholly = |event: &Event| event.refunded > 0 && event.refunded == event.credits;
        let charged: Vec<&Event> = self.accounts[a].events.iter().filter(|event| !wholly(event)).collect();
        let credits: i64 = charged.iter().map(|event| event.credits - event.refunded).sum();
        json!({ "totalCount": charged.len(), "totalCredits": credits })
    }
}
