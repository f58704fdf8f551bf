//! The in-memory model of the rules of money that the property test
//! compares the server with, written independently of `src/domain`: the
//! accounts, the passing of time and idempotency keys. Lots and the wallet
//! are in `lots.rs`, plans in `plans.rs`, charges, holds and refunds in
//! `holds.rs`.
use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::catalog::Generation;
use super::holds::{Event, HOLD_TTL_SECONDS, Hold, HoldStatus};
use super::lots::{DAILY_FREE_CREDITS, DAILY_FREE_LOT, Lot, next_midnight};
use super::ops::Step;
use super::plans::{Status, Sub};
use crate::support::start_time;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Charge,
    Hold,
}

/// An idempotency key of a charge or a hold, with the request last sent with
/// it and, once it succeeded, what it made (an index into `events` or `holds`).
#[derive(Clone, Debug)]
pub struct KeyUse {
    pub key: String,
    pub kind: KeyKind,
    pub generation: Generation,
    pub ttl_seconds: Option<i64>,
    pub made: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub lots: Vec<Lot>,
    /// The latest subscription, active or not.
    pub sub: Option<Sub>,
    pub daily_free_day: Option<NaiveDate>,
    pub keys: Vec<KeyUse>,
    pub holds: Vec<Hold>,
    pub events: Vec<Event>,
}

/// What the model expects of an operation that is refused.
#[derive(Clone, Debug)]
pub struct Refusal {
    pub code: &'static str,
    pub needed: Option<i64>,
    pub available: Option<i64>,
}

impl Refusal {
    pub fn new(code: &'static str) -> Refusal {
        Refusal { code, needed: None, available: None }
    }
}

/// What the model expects of an operation that succeeds, beyond the wallet.
#[derive(Clone, Debug)]
pub enum Success {
    Subscription,
    /// A new lot (its `seq`).
    Lot(u64),
    /// A usage event (index), new or answered again.
    Event(usize),
    /// A reservation (index), new or answered again.
    Hold(usize),
    Refunded {
        event: usize,
        credits: i64,
    },
}

#[derive(Clone, Debug)]
pub struct Model {
    pub now: DateTime<Utc>,
    pub accounts: Vec<Account>,
    pub next_seq: u64,
}

impl Model {
    pub fn new(names: Vec<String>) -> Model {
        let accounts = names
            .into_iter()
            .map(|name| Account {
                name,
                lots: Vec::new(),
                sub: None,
                daily_free_day: None,
                keys: Vec::new(),
                holds: Vec::new(),
                events: Vec::new(),
            })
            .collect();
        Model { now: start_time(), accounts, next_seq: 0 }
    }

    /// What an access does first: holds past their time limit go back, then
    /// the end of a period, expiries, the day's free credits.
    pub fn settle(&mut self, a: usize) {
        let now = self.now;
        self.time_out_holds(a);
        self.end_of_period(a);
        for lot in &mut self.accounts[a].lots {
            if !lot.open(now) {
                lot.remaining = 0;
            }
        }
        let today = now.date_naive();
        if self.accounts[a].daily_free_day != Some(today) {
            self.accounts[a].daily_free_day = Some(today);
            self.add_lot(a, DAILY_FREE_LOT, DAILY_FREE_CREDITS, Some(next_midnight(now)), false);
        }
    }

    /// The key of a charge or a hold: `Some` of what its first success made
    /// when the same request comes again; a refused first try does not count.
    pub fn idempotent(
        &mut self,
        a: usize,
        key: &str,
        (kind, generation, ttl_seconds): (KeyKind, &Generation, Option<i64>),
    ) -> Result<Option<usize>, Refusal> {
        let same_ttl =
            |other: Option<i64>| other.unwrap_or(HOLD_TTL_SECONDS) == ttl_seconds.unwrap_or(HOLD_TTL_SECONDS);
        let keys = &mut self.accounts[a].keys;
        match keys.iter_mut().find(|use_| use_.key == key) {
            Some(use_) if use_.made.is_some() => {
                let same = use_.kind == kind && use_.generation.same_request(generation) && same_ttl(use_.ttl_seconds);
                if same { Ok(use_.made) } else { Err(Refusal::new("IDEMPOTENCY_CONFLICT")) }
            }
            Some(use_) => {
                (use_.kind, use_.generation, use_.ttl_seconds) = (kind, generation.clone(), ttl_seconds);
                Ok(None)
            }
            None => {
                let use_ =
                    KeyUse { key: key.to_owned(), kind, generation: generation.clone(), ttl_seconds, made: None };
                keys.push(use_);
                Ok(None)
            }
        }
    }

    pub fn made_by(&mut self, a: usize, key: &str, made: usize) {
        if let Some(use_) = self.accounts[a].keys.iter_mut().find(|use_| use_.key == key) {
            use_.made = Some(made);
        }
    }

    pub fn duration(&self, step: Step) -> Duration {
        match step {
            Step::Minutes(minutes) => Duration::minutes(minutes),
            Step::Hours(hours) | Step::AboutADay(hours) => Duration::hours(hours),
            Step::AboutAMonth(days) | Step::Months(days) => Duration::days(days),
            Step::ToBoundary { account, early } => {
                let now = self.now;
                let account = &self.accounts[account];
                // Lots holding credits, or lending them to an open hold.
                let held = |seq: u64| {
                    account
                        .holds
                        .iter()
                        .any(|hold| hold.status == HoldStatus::Open && hold.split.iter().any(|(s, _)| *s == seq))
                };
                let lot_ends = account
                    .lots
                    .iter()
                    .filter(|lot| lot.remaining > 0 || held(lot.seq))
                    .filter_map(|lot| lot.expires_at);
                let period_end = account.sub.iter().filter(|sub| sub.status == Status::Active).map(|sub| sub.end);
                let hold_ends =
                    account.holds.iter().filter(|hold| hold.status == HoldStatus::Open).map(|hold| hold.expires_at);
                let target = lot_ends
                    .chain(period_end)
                    .chain(hold_ends)
                    .filter(|&at| at > now)
                    .fold(next_midnight(now), std::cmp::min);
                target - now - if early { Duration::seconds(1) } else { Duration::zero() }
            }
        }
    }
}
