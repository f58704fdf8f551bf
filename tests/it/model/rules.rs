//! The in-memory model of the rules of money that the property test
//! compares the server with, written independently of `src/domain`.
use chrono::{DateTime, Days, Duration, Months, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::*;

/// Lot sources, as the API names them.
pub(super) const DAILY_FREE_LOT: &str = "DAILY_FREE";
pub(super) const ALLOWANCE_LOT: &str = "SUBSCRIPTION";
pub(super) const TOKENS_LOT: &str = "TOKENS";
pub(super) const PROMO_LOT: &str = "PROMO";

#[derive(Clone, Debug)]
pub(super) struct Lot {
    /// Creation order across the whole model, as lot ids are in the database.
    pub(super) seq: u64,
    pub(super) source: &'static str,
    pub(super) granted: i64,
    pub(super) remaining: i64,
    pub(super) expires_at: Option<DateTime<Utc>>,
    pub(super) pro_eligible: bool,
    pub(super) created_at: DateTime<Utc>,
    /// The lot's id in the server, once seen.
    pub(super) real_id: Option<String>,
}

impl Lot {
    pub(super) fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.remaining > 0 && self.expires_at.is_none_or(|at| at > now)
    }

    pub(super) fn expected(&self) -> Value {
        json!({
            "source": self.source,
            "granted": self.granted,
            "remaining": self.remaining,
            "expiresAt": self.expires_at.map(time),
            "proEligible": self.pro_eligible,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    Canceled,
    Expired,
}

#[derive(Clone, Debug)]
pub(super) struct Sub {
    pub(super) plan: Plan,
    pub(super) status: Status,
    pub(super) anchor: DateTime<Utc>,
    pub(super) start: DateTime<Utc>,
    pub(super) end: DateTime<Utc>,
    pub(super) cancel_at_period_end: bool,
}

/// An idempotency key of a generation, with the input it was last sent with
/// and, once a charge succeeded with it, the usage event the server returned.
#[derive(Clone, Debug)]
pub(super) struct KeyUse {
    pub(super) key: String,
    pub(super) pro: bool,
    pub(super) count: i64,
    pub(super) event: Option<Value>,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Account {
    pub(super) lots: Vec<Lot>,
    /// The latest subscription, active or not.
    pub(super) sub: Option<Sub>,
    pub(super) daily_free_day: Option<NaiveDate>,
    pub(super) keys: Vec<KeyUse>,
}

/// What the model expects of an operation that is refused.
#[derive(Clone, Debug)]
pub(super) struct Refusal {
    pub(super) code: &'static str,
    pub(super) needed: Option<i64>,
    pub(super) available: Option<i64>,
}

impl Refusal {
    pub(super) fn new(code: &'static str) -> Refusal {
        Refusal { code, needed: None, available: None }
    }
}

/// What the model expects of an operation that succeeds, beyond the wallet.
#[derive(Clone, Debug)]
pub(super) enum Success {
    Subscription,
    /// A new lot (its `seq`).
    Lot(u64),
    Charged {
        cost: i64,
        split: Vec<(u64, i64)>,
    },
    /// A retry: the first usage event, nothing moved.
    Replayed(Value),
}

#[derive(Clone, Debug)]
pub(super) struct Model {
    pub(super) now: DateTime<Utc>,
    pub(super) accounts: Vec<Account>,
    pub(super) next_seq: u64,
}

pub(super) fn add_months(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_add_months(Months::new(months)).expect("a date in range")
}

/// Period k of a subscription runs from anchor + k months to anchor + k + 1 months.
pub(super) fn period_containing(anchor: DateTime<Utc>, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let mut k = 0;
    while add_months(anchor, k + 1) <= now {
        k += 1;
    }
    (add_months(anchor, k), add_months(anchor, k + 1))
}

pub(super) fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

pub(super) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Model {
    pub(super) fn new(accounts: usize) -> Model {
        Model { now: start_time(), accounts: vec![Account::default(); accounts], next_seq: 0 }
    }

    pub(super) fn active(&self, a: usize) -> Option<&Sub> {
        self.accounts[a].sub.as_ref().filter(|sub| sub.status == Status::Active)
    }

    /// Every paid plan has Pro access.
    pub(super) fn pro_entitled(&self, a: usize) -> bool {
        self.active(a).is_some()
    }

    pub(super) fn add_lot(
        &mut self,
        a: usize,
        source: &'static str,
        amount: i64,
        expires_at: Option<DateTime<Utc>>,
        pro: bool,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.accounts[a].lots.push(Lot {
            seq,
            source,
            granted: amount,
            remaining: amount,
            expires_at,
            pro_eligible: pro,
            created_at: self.now,
            real_id: None,
        });
        seq
    }

    pub(super) fn lot(&self, a: usize, seq: u64) -> &Lot {
        self.accounts[a].lots.iter().find(|lot| lot.seq == seq).expect("a lot of the model")
    }

    pub(super) fn end_subscription(&mut self, a: usize, status: Status) {
        let account = &mut self.accounts[a];
        if let Some(sub) = account.sub.as_mut() {
            sub.status = status;
        }
        for lot in account.lots.iter_mut().filter(|lot| lot.source == ALLOWANCE_LOT) {
            lot.remaining = 0;
        }
    }

    pub(super) fn start_subscription(&mut self, a: usize, plan: Plan) {
        let now = self.now;
        let end = add_months(now, 1);
        let sub = Sub { plan, status: Status::Active, anchor: now, start: now, end, cancel_at_period_end: false };
        self.accounts[a].sub = Some(sub);
        self.add_lot(a, ALLOWANCE_LOT, plan.monthly_credits(), Some(end), true);
    }

    /// What an access does first: the end of a period, expiries, the day's free credits.
    pub(super) fn settle(&mut self, a: usize) {
        let now = self.now;
        let ended = self.active(a).filter(|sub| now >= sub.end).cloned();
        if let Some(sub) = ended {
            if sub.cancel_at_period_end {
                self.end_subscription(a, Status::Canceled);
            } else {
                let (start, end) = period_containing(sub.anchor, now);
                if let Some(current) = self.accounts[a].sub.as_mut() {
                    current.start = start;
                    current.end = end;
                }
                self.add_lot(a, ALLOWANCE_LOT, sub.plan.monthly_credits(), Some(end), true);
            }
        }
        for lot in &mut self.accounts[a].lots {
            if lot.expires_at.is_some_and(|at| at <= now) {
                lot.remaining = 0;
            }
        }
        let today = now.date_naive();
        if self.accounts[a].daily_free_day != Some(today) {
            self.accounts[a].daily_free_day = Some(today);
            self.add_lot(a, DAILY_FREE_LOT, DAILY_FREE_CREDITS, Some(next_midnight(now)), false);
        }
    }

    /// Indexes of the lots that may pay, in spending order.
    pub(super) fn spending_order(&self, a: usize, pro_generation: bool) -> Vec<usize> {
        let entitled = self.pro_entitled(a);
        let lots = &self.accounts[a].lots;
        let pays = |lot: &Lot| {
            lot.is_live(self.now) && (!pro_generation || (entitled && lot.pro_eligible && lot.source != DAILY_FREE_LOT))
        };
        let mut order: Vec<usize> = (0..lots.len()).filter(|&i| pays(&lots[i])).collect();
        order.sort_by_key(|&i| (lots[i].expires_at.is_none(), lots[i].expires_at, lots[i].created_at, lots[i].seq));
        order
    }

    pub(super) fn consume(&mut self, a: usize, key: &str, pro: bool, count: i64) -> Result<Success, Refusal> {
        self.settle(a);
        let keys = &mut self.accounts[a].keys;
        match keys.iter().find(|use_| use_.key == key) {
            Some(KeyUse { event: Some(event), pro: first_pro, count: first_count, .. }) => {
                return if (*first_pro, *first_count) == (pro, count) {
                    Ok(Success::Replayed(event.clone()))
                } else {
                    Err(Refusal::new("IDEMPOTENCY_CONFLICT"))
                };
            }
            Some(_) => {}
            None => keys.push(KeyUse { key: key.to_owned(), pro, count, event: None }),
        }
        if pro && !self.pro_entitled(a) {
            return Err(Refusal::new("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
        }
        let cost = count * if pro { PRO_PRICE } else { STANDARD_PRICE };
        let order = self.spending_order(a, pro);
        let lots = &mut self.accounts[a].lots;
        let available: i64 = order.iter().map(|&i| lots[i].remaining).sum();
        if available < cost {
            return Err(Refusal { code: "INSUFFICIENT_CREDITS", needed: Some(cost), available: Some(available) });
        }
        let mut left = cost;
        let mut split = Vec::new();
        for i in order {
            if left == 0 {
                break;
            }
            let take = lots[i].remaining.min(left);
            lots[i].remaining -= take;
            left -= take;
            split.push((lots[i].seq, take));
        }
        Ok(Success::Charged { cost, split })
    }

    /// A charge succeeded with `key`: retries must get `event` back.
    pub(super) fn remember(&mut self, a: usize, key: &str, pro: bool, count: i64, event: Value) {
        if let Some(use_) = self.accounts[a].keys.iter_mut().find(|use_| use_.key == key) {
            *use_ = KeyUse { key: key.to_owned(), pro, count, event: Some(event) };
        }
    }

    pub(super) fn subscribe(&mut self, a: usize, plan: Plan) -> Result<Success, Refusal> {
        self.settle(a);
        match self.active(a).map(|sub| (sub.plan, sub.cancel_at_period_end)) {
            Some((current, false)) if current == plan => return Err(Refusal::new("INVALID_INPUT")),
            Some((current, true)) if current == plan => {
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

    pub(super) fn cancel(&mut self, a: usize, at_period_end: bool) -> Result<Success, Refusal> {
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

    pub(super) fn purchase(&mut self, a: usize) -> Result<Success, Refusal> {
        self.settle(a);
        if !self.pro_entitled(a) {
            return Err(Refusal::new("SUBSCRIPTION_REQUIRED"));
        }
        Ok(Success::Lot(self.add_lot(a, TOKENS_LOT, PACK_TOKENS, None, true)))
    }

    pub(super) fn grant(
        &mut self,
        a: usize,
        credits: i64,
        expires_at: Option<DateTime<Utc>>,
        pro_eligible: bool,
    ) -> Result<Success, Refusal> {
        // Checked before the account is touched.
        if expires_at.is_some_and(|at| at <= self.now) {
            return Err(Refusal::new("INVALID_INPUT"));
        }
        self.settle(a);
        Ok(Success::Lot(self.add_lot(a, PROMO_LOT, credits, expires_at, pro_eligible)))
    }

    pub(super) fn expiry(&self, a: usize, expiry: Expiry) -> Option<DateTime<Utc>> {
        let now = self.now;
        match expiry {
            Expiry::Never => None,
            Expiry::InMinutes(minutes) => Some(now + Duration::minutes(minutes)),
            Expiry::NextMidnight => Some(next_midnight(now)),
            Expiry::PeriodEnd => Some(
                self.accounts[a]
                    .sub
                    .as_ref()
                    .map(|sub| sub.end)
                    .filter(|&end| end > now)
                    .unwrap_or(now + Duration::days(1)),
            ),
            Expiry::Now => Some(now),
        }
    }

    pub(super) fn duration(&self, step: Step) -> Duration {
        match step {
            Step::Minutes(minutes) => Duration::minutes(minutes),
            Step::Hours(hours) | Step::AboutADay(hours) => Duration::hours(hours),
            Step::AboutAMonth(days) | Step::Months(days) => Duration::days(days),
            Step::ToBoundary { account, early } => {
                let now = self.now;
                let account_ = &self.accounts[account];
                let lot_ends = account_.lots.iter().filter(|lot| lot.remaining > 0).filter_map(|lot| lot.expires_at);
                let period_end = account_.sub.iter().filter(|sub| sub.status == Status::Active).map(|sub| sub.end);
                let target = lot_ends.chain(period_end).filter(|&at| at > now).fold(next_midnight(now), std::cmp::min);
                target - now - if early { Duration::seconds(1) } else { Duration::zero() }
            }
        }
    }

    /// Live lots in spending order (the wallet's `lots`), as `seq`s.
    pub(super) fn wallet_lots(&self, a: usize) -> Vec<u64> {
        self.spending_order(a, false).into_iter().map(|i| self.accounts[a].lots[i].seq).collect()
    }

    /// The wallet fields compared exactly; `subscriptionPercentLeft` apart.
    pub(super) fn wallet(&self, a: usize) -> Value {
        let now = self.now;
        let live: Vec<&Lot> = self.wallet_lots(a).into_iter().map(|seq| self.lot(a, seq)).collect();
        let of = |source: &str| live.iter().filter(|lot| lot.source == source).map(|lot| lot.remaining).sum::<i64>();
        let balance: i64 = live.iter().map(|lot| lot.remaining).sum();
        let pro_balance: i64 = self.spending_order(a, true).iter().map(|&i| self.accounts[a].lots[i].remaining).sum();
        json!({
            "balance": balance,
            "proBalance": pro_balance,
            "dailyFree": of(DAILY_FREE_LOT),
            "dailyFreeResetsAt": time(next_midnight(now)),
            "subscriptionCredits": of(ALLOWANCE_LOT),
            "subscriptionAllowance": self.allowance(a),
            "tokens": of(TOKENS_LOT),
            "promo": of(PROMO_LOT),
            "held": 0,
            "lowBalance": balance < LOW_BALANCE_THRESHOLD,
            "lots": live.iter().map(|lot| lot.expected()).collect::<Vec<_>>(),
        })
    }

    pub(super) fn allowance(&self, a: usize) -> i64 {
        self.active(a).map_or(0, |sub| sub.plan.monthly_credits())
    }

    pub(super) fn percent_left(&self, a: usize) -> f64 {
        let allowance = self.allowance(a);
        if allowance == 0 {
            return 0.0;
        }
        let left = self.wallet(a)["subscriptionCredits"].as_i64().unwrap_or_default();
        (left as f64 * 100.0 / allowance as f64).clamp(0.0, 100.0)
    }

    pub(super) fn subscription(&self, a: usize) -> Value {
        self.accounts[a].sub.as_ref().map_or(Value::Null, |sub| {
            json!({
                "plan": sub.plan.code(),
                "monthlyCredits": sub.plan.monthly_credits(),
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

    pub(super) fn plan_code(&self, a: usize) -> &'static str {
        self.active(a).map_or("FREE", |sub| sub.plan.code())
    }

    /// Learns (or checks) which server lot a model lot is.
    pub(super) fn bind(&mut self, a: usize, seq: u64, id: &str) -> Result<(), TestCaseError> {
        let lots = &mut self.accounts[a].lots;
        if let Some(other) = lots.iter().find(|lot| lot.seq != seq && lot.real_id.as_deref() == Some(id)) {
            return Err(fail(format!("server lot {id} stands for model lots {} and {seq}", other.seq)));
        }
        let lot = lots.iter_mut().find(|lot| lot.seq == seq).expect("a lot of the model");
        match &lot.real_id {
            Some(known) if known != id => Err(fail(format!("model lot {seq} was server lot {known}, now {id}"))),
            Some(_) => Ok(()),
            None => {
                lot.real_id = Some(id.to_owned());
                Ok(())
            }
        }
    }
}
