//! The model's lots (DESIGN.md, rules 1 to 3): which may pay, in which
//! order they are spent, what comes back to them, and the wallet they make.
use chrono::{DateTime, Days, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::holds::HoldStatus;
use super::rules::{Model, Refusal};

pub const DAILY_FREE_CREDITS: i64 = 50;
const LOW_BALANCE_THRESHOLD: i64 = 20;

/// Lot sources, as the API names them.
pub const DAILY_FREE_LOT: &str = "DAILY_FREE";
pub const ALLOWANCE_LOT: &str = "SUBSCRIPTION";
pub const TOKENS_LOT: &str = "TOKENS";
pub const PROMO_LOT: &str = "PROMO";
pub const ROLLOVER_LOT: &str = "ROLLOVER";

#[derive(Clone, Debug)]
pub struct Lot {
    /// Creation order across the whole model, as lot ids are in the database.
    pub seq: u64,
    pub source: &'static str,
    pub granted: i64,
    pub remaining: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub pro_eligible: bool,
    pub created_at: DateTime<Utc>,
    /// An allowance or carried credits whose subscription ended (changed or
    /// cancelled at once): its credits expired then, whatever its
    /// `expires_at` says.
    pub ended: bool,
    /// The lot's id in the server, once seen.
    pub real_id: Option<String>,
}

impl Lot {
    /// Whether credits given back to the lot (a release, a refund) stay in it.
    pub fn open(&self, now: DateTime<Utc>) -> bool {
        !self.ended && self.expires_at.is_none_or(|at| at > now)
    }

    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.remaining > 0 && self.open(now)
    }

    pub fn expected(&self) -> Value {
        json!({
            "source": self.source,
            "granted": self.granted,
            "remaining": self.remaining,
            "expiresAt": self.expires_at.map(time),
            "proEligible": self.pro_eligible,
        })
    }
}

pub fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    (now.date_naive() + Days::new(1)).and_hms_opt(0, 0, 0).expect("midnight").and_utc()
}

pub fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Model {
    pub fn add_lot(
        &mut self,
        a: usize,
        source: &'static str,
        amount: i64,
        expires_at: Option<DateTime<Utc>>,
        pro: bool,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let now = self.now;
        self.accounts[a].lots.push(Lot {
            seq,
            source,
            granted: amount,
            remaining: amount,
            expires_at,
            pro_eligible: pro,
            created_at: now,
            ended: false,
            real_id: None,
        });
        seq
    }

    pub fn lot(&self, a: usize, seq: u64) -> &Lot {
        self.accounts[a].lots.iter().find(|lot| lot.seq == seq).expect("a lot of the model")
    }

    pub fn lot_mut(&mut self, a: usize, seq: u64) -> &mut Lot {
        self.accounts[a].lots.iter_mut().find(|lot| lot.seq == seq).expect("a lot of the model")
    }

    /// Indexes of the lots that may pay, in spending order.
    pub fn spending_order(&self, a: usize, pro_generation: bool) -> Vec<usize> {
        let entitled = self.pro_entitled(a);
        let lots = &self.accounts[a].lots;
        let pays = |lot: &Lot| {
            lot.is_live(self.now) && (!pro_generation || (entitled && lot.pro_eligible && lot.source != DAILY_FREE_LOT))
        };
        let mut order: Vec<usize> = (0..lots.len()).filter(|&i| pays(&lots[i])).collect();
        order.sort_by_key(|&i| (lots[i].expires_at.is_none(), lots[i].expires_at, lots[i].created_at, lots[i].seq));
        order
    }

    /// Takes `cost` from the lots that may pay, soonest-expiring first; the
    /// split is `(lot seq, credits)` in that order.
    pub fn draw(&mut self, a: usize, cost: i64, pro: bool) -> Result<Vec<(u64, i64)>, Refusal> {
        if pro && !self.pro_entitled(a) {
            return Err(Refusal::new("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
        }
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
        Ok(split)
    }

    /// Credits going back to their lots; those of a lot that is no longer
    /// open are lost. Returns what stayed.
    pub fn give_back(&mut self, a: usize, split: &[(u64, i64)]) -> i64 {
        let now = self.now;
        let mut kept = 0;
        for &(seq, credits) in split {
            let lot = self.lot_mut(a, seq);
            if lot.open(now) {
                lot.remaining += credits;
                kept += credits;
            }
        }
        kept
    }

    /// Live lots in spending order (the wallet's `lots`), as `seq`s.
    pub fn wallet_lots(&self, a: usize) -> Vec<u64> {
        self.spending_order(a, false).into_iter().map(|i| self.accounts[a].lots[i].seq).collect()
    }

    /// The wallet fields compared exactly; `subscriptionPercentLeft` apart.
    pub fn wallet(&self, a: usize) -> Value {
        let live: Vec<&Lot> = self.wallet_lots(a).into_iter().map(|seq| self.lot(a, seq)).collect();
        let of = |source: &str| live.iter().filter(|lot| lot.source == source).map(|lot| lot.remaining).sum::<i64>();
        let balance: i64 = live.iter().map(|lot| lot.remaining).sum();
        let pro_balance: i64 = self.spending_order(a, true).iter().map(|&i| self.accounts[a].lots[i].remaining).sum();
        let held: i64 = self.accounts[a].holds.iter().filter(|h| h.status == HoldStatus::Open).map(|h| h.credits).sum();
        json!({
            "balance": balance,
            "proBalance": pro_balance,
            "dailyFree": of(DAILY_FREE_LOT),
            "dailyFreeResetsAt": time(next_midnight(self.now)),
            "subscriptionCredits": of(ALLOWANCE_LOT),
            "subscriptionAllowance": self.allowance(a),
            "tokens": of(TOKENS_LOT),
            "promo": of(PROMO_LOT),
            "rollover": of(ROLLOVER_LOT),
            "held": held,
            "lowBalance": balance < LOW_BALANCE_THRESHOLD,
            "lots": live.iter().map(|lot| lot.expected()).collect::<Vec<_>>(),
        })
    }

    pub fn percent_left(&self, a: usize) -> f64 {
        let allowance = self.allowance(a);
        if allowance == 0 {
            return 0.0;
        }
        let left = self.wallet(a)["subscriptionCredits"].as_i64().unwrap_or_default();
        (left as f64 * 100.0 / allowance as f64).clamp(0.0, 100.0)
    }
}
