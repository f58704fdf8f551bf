//! The random operations of the model test, and how they are drawn.
use proptest::prelude::*;
use proptest::sample::Index;

use super::catalog::{Generation, catalog, generation};

/// The expiry of an admin grant, resolved against the model when it runs.
#[derive(Clone, Copy, Debug)]
pub enum Expiry {
    Never,
    InMinutes(i64),
    /// Ties with the daily free lot.
    NextMidnight,
    /// Ties with the subscription lot (or a day from now without one).
    PeriodEnd,
    /// Not in the future: refused.
    Now,
}

#[derive(Clone, Copy, Debug)]
pub enum Step {
    Minutes(i64),
    Hours(i64),
    /// About a day, in hours.
    AboutADay(i64),
    /// About a month, in days.
    AboutAMonth(i64),
    /// Several months, in days.
    Months(i64),
    /// Exactly to the next moment something of the account ends (a lot
    /// expires, a period ends, a hold times out, a day ends), or a second
    /// before it.
    ToBoundary {
        account: usize,
        early: bool,
    },
}

/// How much of a hold a capture asks for.
#[derive(Clone, Copy, Debug)]
pub enum Amount {
    /// No amount: all of it.
    All,
    /// Exactly what is held.
    Held,
    /// Less than held (possibly nothing).
    Less(Index),
    /// More than held: refused.
    More,
}

#[derive(Clone, Debug)]
pub enum Op {
    Consume {
        account: usize,
        generation: Generation,
    },
    /// `ttl_seconds` None: the server's default time limit.
    Reserve {
        account: usize,
        generation: Generation,
        ttl_seconds: Option<i64>,
    },
    /// Holds and events are picked among those the account made so far.
    Capture {
        account: usize,
        hold: Index,
        amount: Amount,
    },
    Release {
        account: usize,
        hold: Index,
    },
    /// All that is left of the charge, or a part of it, or one more.
    Refund {
        account: usize,
        event: Index,
        amount: RefundAmount,
        cause: &'static str,
    },
    /// An earlier key of a charge or hold again, with the same request or
    /// (`other_input`) another; `other_account`: a key of the other account
    /// (keys are per account).
    Retry {
        account: usize,
        other_account: bool,
        pick: Index,
        other_input: bool,
    },
    Subscribe {
        account: usize,
        plan: &'static str,
    },
    Cancel {
        account: usize,
        at_period_end: bool,
    },
    Purchase {
        account: usize,
        pack: &'static str,
    },
    Grant {
        account: usize,
        credits: i64,
        expiry: Expiry,
        pro_eligible: bool,
    },
    Advance(Step),
}

fn expiry() -> impl Strategy<Value = Expiry> {
    prop_oneof![
        3 => Just(Expiry::Never),
        3 => (1..=3_000i64).prop_map(Expiry::InMinutes),
        2 => Just(Expiry::NextMidnight),
        2 => Just(Expiry::PeriodEnd),
        1 => Just(Expiry::Now),
    ]
}

fn step(accounts: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => (1..=59i64).prop_map(Step::Minutes),
        1 => (1..=23i64).prop_map(Step::Hours),
        1 => (20..=30i64).prop_map(Step::AboutADay),
        1 => (28..=31i64).prop_map(Step::AboutAMonth),
        1 => (60..=200i64).prop_map(Step::Months),
        2 => (0..accounts, any::<bool>()).prop_map(|(account, early)| Step::ToBoundary { account, early }),
    ]
}

fn ttl_seconds() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        3 => Just(None),
        3 => (10..=3_600i64).prop_map(Some),
        1 => (3_601..=86_400i64).prop_map(Some),
        // Out of bounds: refused.
        1 => prop_oneof![Just(0i64), Just(9), Just(86_401)].prop_map(Some),
    ]
}

/// How much a refund asks for.
#[derive(Clone, Copy, Debug)]
pub enum RefundAmount {
    /// `credits` omitted: all that is left.
    Left,
    /// 1 to all that is left.
    Part(Index),
    /// One more than is left: refused.
    More,
}

pub const REFUND_CAUSES: [&str; 5] = ["PROVIDER_ERROR", "TIMEOUT", "OUTPUT_MODERATED", "USER_CANCELLED", "OTHER"];

fn refund_amount() -> impl Strategy<Value = RefundAmount> {
    prop_oneof![
        2 => Just(RefundAmount::Left),
        3 => any::<Index>().prop_map(RefundAmount::Part),
        1 => Just(RefundAmount::More),
    ]
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        2 => Just(Amount::All),
        1 => Just(Amount::Held),
        3 => any::<Index>().prop_map(Amount::Less),
        1 => Just(Amount::More),
    ]
}

fn op(accounts: usize) -> impl Strategy<Value = Op> {
    let account = 0..accounts;
    let plans: Vec<&'static str> = catalog().plans.iter().map(|plan| plan.code.as_str()).collect();
    let packs: Vec<&'static str> = catalog().token_packs.iter().map(|pack| pack.id.as_str()).collect();
    prop_oneof![
        7 => (account.clone(), generation()).prop_map(|(account, generation)| Op::Consume { account, generation }),
        4 => (account.clone(), generation(), ttl_seconds())
            .prop_map(|(account, generation, ttl_seconds)| Op::Reserve { account, generation, ttl_seconds }),
        3 => (account.clone(), any::<Index>(), amount())
            .prop_map(|(account, hold, amount)| Op::Capture { account, hold, amount }),
        2 => (account.clone(), any::<Index>()).prop_map(|(account, hold)| Op::Release { account, hold }),
        3 => (account.clone(), any::<Index>(), refund_amount(), prop::sample::select(REFUND_CAUSES.to_vec()))
            .prop_map(|(account, event, amount, cause)| Op::Refund { account, event, amount, cause }),
        3 => (account.clone(), prop::bool::weighted(0.2), any::<Index>(), prop::bool::weighted(0.2)).prop_map(
            |(account, other_account, pick, other_input)| Op::Retry { account, other_account, pick, other_input }
        ),
        3 => (account.clone(), prop::sample::select(plans)).prop_map(|(account, plan)| Op::Subscribe { account, plan }),
        2 => (account.clone(), any::<bool>())
            .prop_map(|(account, at_period_end)| Op::Cancel { account, at_period_end }),
        2 => (account.clone(), prop::sample::select(packs)).prop_map(|(account, pack)| Op::Purchase { account, pack }),
        3 => (account, 1..=400i64, expiry(), any::<bool>()).prop_map(|(account, credits, expiry, pro_eligible)| {
            Op::Grant { account, credits, expiry, pro_eligible }
        }),
        5 => step(accounts).prop_map(Op::Advance),
    ]
}

/// One or two accounts, and up to 30 operations on them.
pub fn case() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (1..=2usize).prop_flat_map(|accounts| (Just(accounts), prop::collection::vec(op(accounts), 1..=30)))
}
