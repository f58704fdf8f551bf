//! Model-based property test of the rules of money (DESIGN.md, section 1).
//!
//! Random sequences of operations on one or two accounts (standard and Pro
//! generations, retries of earlier idempotency keys, subscriptions, plan
//! changes, cancellations, token purchases, admin grants and moves of the
//! clock) run through the GraphQL API and through a small in-memory model of
//! the rules written here, independent of `src/domain`. After every operation
//! the outcome (success or error code, with needed/available), the payload,
//! the wallet (totals by source and the live lots in spending order, lot ids
//! included) and the subscription must agree; every few steps and at the end
//! the ledger check must be clean and the ledger's running balance must match.
//!
//! 12 cases of up to 25 steps by default; `PROPTEST_CASES` overrides it.
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use crate::support::{SUBSCRIPTION, TestApp, WALLET, image, pro_image, start_time};

const DAILY_FREE_CREDITS: i64 = 50;
const LOW_BALANCE_THRESHOLD: i64 = 20;
const STANDARD_PRICE: i64 = 3;
const PRO_PRICE: i64 = 8;
const PACK: &str = "tokens-500";
const PACK_TOKENS: i64 = 500;
/// Steps between two full checks (both accounts, ledger).
const CHECK_EVERY: usize = 5;

// ------------------------------------------------------------------ operations

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    Starter,
    Creator,
    Studio,
}

impl Plan {
    fn code(self) -> &'static str {
        match self {
            Plan::Starter => "STARTER",
            Plan::Creator => "CREATOR",
            Plan::Studio => "STUDIO",
        }
    }

    fn monthly_credits(self) -> i64 {
        match self {
            Plan::Starter => 1_000,
            Plan::Creator => 3_000,
            Plan::Studio => 10_000,
        }
    }
}

/// The expiry of an admin grant, resolved against the model when it runs.
#[derive(Clone, Copy, Debug)]
enum Expiry {
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
enum Step {
    Minutes(i64),
    Hours(i64),
    /// About a day, in hours.
    AboutADay(i64),
    /// About a month, in days.
    AboutAMonth(i64),
    /// Several months, in days.
    Months(i64),
    /// Exactly to the next moment something of the account ends (a lot
    /// expires, a period ends, a day ends), or a second before it.
    ToBoundary {
        account: usize,
        early: bool,
    },
}

#[derive(Clone, Debug)]
enum Op {
    Consume {
        account: usize,
        pro: bool,
        count: i64,
    },
    /// An earlier key again, with the same input or (`other_input`) another;
    /// `other_account`: a key of the other account (keys are per account).
    Retry {
        account: usize,
        other_account: bool,
        pick: Index,
        other_input: bool,
    },
    Subscribe {
        account: usize,
        plan: Plan,
    },
    Cancel {
        account: usize,
        at_period_end: bool,
    },
    Purchase {
        account: usize,
    },
    Grant {
        account: usize,
        credits: i64,
        expiry: Expiry,
        pro_eligible: bool,
    },
    Advance(Step),
}

fn plan() -> impl Strategy<Value = Plan> {
    prop_oneof![Just(Plan::Starter), Just(Plan::Creator), Just(Plan::Studio)]
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
        (1..=59i64).prop_map(Step::Minutes),
        (1..=23i64).prop_map(Step::Hours),
        (20..=30i64).prop_map(Step::AboutADay),
        (28..=31i64).prop_map(Step::AboutAMonth),
        (60..=200i64).prop_map(Step::Months),
        (0..accounts, any::<bool>()).prop_map(|(account, early)| Step::ToBoundary { account, early }),
    ]
}

fn op(accounts: usize) -> impl Strategy<Value = Op> {
    let account = 0..accounts;
    prop_oneof![
        9 => (account.clone(), prop::bool::weighted(0.4), 1..=20i64)
            .prop_map(|(account, pro, count)| Op::Consume { account, pro, count }),
        3 => (account.clone(), prop::bool::weighted(0.2), any::<Index>(), prop::bool::weighted(0.2)).prop_map(
            |(account, other_account, pick, other_input)| Op::Retry { account, other_account, pick, other_input }
        ),
        3 => (account.clone(), plan()).prop_map(|(account, plan)| Op::Subscribe { account, plan }),
        2 => (account.clone(), any::<bool>())
            .prop_map(|(account, at_period_end)| Op::Cancel { account, at_period_end }),
        2 => account.clone().prop_map(|account| Op::Purchase { account }),
        3 => (account, 1..=400i64, expiry(), any::<bool>()).prop_map(|(account, credits, expiry, pro_eligible)| {
            Op::Grant { account, credits, expiry, pro_eligible }
        }),
        5 => step(accounts).prop_map(Op::Advance),
    ]
}

fn case() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (1..=2usize).prop_flat_map(|accounts| (Just(accounts), prop::collection::vec(op(accounts), 1..=25)))
}

// ----------------------------------------------------------------------- model

mod rules;
use rules::*;

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

// ------------------------------------------------------------ the real server

fn account_name(a: usize) -> String {
    format!("model-{a}")
}

/// Times as the model writes them, whatever the server's RFC 3339 flavour.
fn normalize_time(value: &Value) -> Value {
    match value.as_str() {
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(at) => json!(time(at.with_timezone(&Utc))),
            Err(_) => value.clone(),
        },
        None => value.clone(),
    }
}

fn lot_fields(lot: &Value) -> Value {
    json!({
        "source": lot["source"],
        "granted": lot["granted"],
        "remaining": lot["remaining"],
        "expiresAt": normalize_time(&lot["expiresAt"]),
        "proEligible": lot["proEligible"],
    })
}

fn wallet_fields(wallet: &Value) -> Value {
    let lots = wallet["lots"].as_array().map_or_else(Vec::new, |lots| lots.iter().map(lot_fields).collect());
    json!({
        "balance": wallet["balance"],
        "proBalance": wallet["proBalance"],
        "dailyFree": wallet["dailyFree"],
        "dailyFreeResetsAt": normalize_time(&wallet["dailyFreeResetsAt"]),
        "subscriptionCredits": wallet["subscriptionCredits"],
        "subscriptionAllowance": wallet["subscriptionAllowance"],
        "tokens": wallet["tokens"],
        "promo": wallet["promo"],
        "held": wallet["held"],
        "lowBalance": wallet["lowBalance"],
        "lots": lots,
    })
}

fn subscription_fields(subscription: &Value) -> Value {
    if subscription.is_null() {
        return Value::Null;
    }
    json!({
        "plan": subscription["plan"]["code"],
        "monthlyCredits": subscription["plan"]["monthlyCredits"],
        "status": subscription["status"],
        "currentPeriodStart": normalize_time(&subscription["currentPeriodStart"]),
        "currentPeriodEnd": normalize_time(&subscription["currentPeriodEnd"]),
        "cancelAtPeriodEnd": subscription["cancelAtPeriodEnd"],
    })
}

/// The first user error of a payload (all null on success).
fn outcome(payload: &Value) -> Value {
    let error = &payload["errors"][0];
    json!({ "code": error["code"], "needed": error["needed"], "available": error["available"] })
}

fn expected_outcome(expected: &Result<Success, Refusal>) -> Value {
    match expected {
        Ok(_) => json!({ "code": null, "needed": null, "available": null }),
        Err(refusal) => json!({ "code": refusal.code, "needed": refusal.needed, "available": refusal.available }),
    }
}

/// A wallet from the server against the model, lot ids included.
fn check_wallet(model: &mut Model, a: usize, wallet: &Value, context: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(wallet_fields(wallet), model.wallet(a), "wallet of {} after {}", account_name(a), context);
    let percent = wallet["subscriptionPercentLeft"].as_f64().unwrap_or(f64::NAN);
    let expected = model.percent_left(a);
    // Display only, rounded to hundredths.
    prop_assert!(
        (percent - expected).abs() <= 0.005 + 1e-9,
        "subscriptionPercentLeft {percent}, model {expected}: {context}"
    );
    let ids: Vec<String> = wallet["lots"]
        .as_array()
        .map(|lots| lots.iter().map(|lot| lot["id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default();
    for (seq, id) in model.wallet_lots(a).into_iter().zip(ids) {
        model.bind(a, seq, &id)?;
    }
    Ok(())
}

const ACCOUNT_QUERY: &str =
    "query($id: ID!) { account(id: $id) { plan { code } subscription { SUB } wallet { WALLET } } }";

/// Reads the account (an access: it settles) and compares all of it.
async fn observe(app: &TestApp, model: &mut Model, a: usize, context: &str) -> Result<(), TestCaseError> {
    model.settle(a);
    let query = ACCOUNT_QUERY.replace("SUB", SUBSCRIPTION).replace("WALLET", WALLET);
    let data = app.as_service(&query, json!({ "id": account_name(a) })).await;
    let account = &data["account"];
    check_wallet(model, a, &account["wallet"], context)?;
    prop_assert_eq!(subscription_fields(&account["subscription"]), model.subscription(a), "subscription: {}", context);
    prop_assert_eq!(&account["plan"]["code"], &json!(model.plan_code(a)), "plan: {}", context);
    Ok(())
}

/// Both accounts, the ledger's running balance and the ledger check.
async fn check_all(app: &TestApp, model: &mut Model, context: &str) -> Result<(), TestCaseError> {
    for a in 0..model.accounts.len() {
        observe(app, model, a, context).await?;
        let ledger = app.ledger(&account_name(a)).await;
        let total: i64 = model.accounts[a].lots.iter().map(|lot| lot.remaining).sum();
        prop_assert_eq!(
            &ledger[0]["balanceAfter"],
            &json!(total),
            "ledger balance of {}: {}",
            account_name(a),
            context
        );
    }
    app.assert_ledger_clean().await;
    Ok(())
}

/// The usage event of a charge against the model's split; learns lot ids.
fn check_charge(
    model: &mut Model,
    a: usize,
    event: &Value,
    (pro, count): (bool, i64),
    (cost, split): (i64, &[(u64, i64)]),
    context: &str,
) -> Result<(), TestCaseError> {
    let model_id = if pro { "flux-pro" } else { "sdxl" };
    let summary = json!({ "credits": event["credits"], "count": event["count"], "status": event["status"],
                          "model": event["model"] });
    let expected =
        json!({ "credits": cost, "count": count, "status": "CHARGED", "model": { "id": model_id, "pro": pro } });
    prop_assert_eq!(summary, expected, "usage event: {}", context);
    let shares = event["lotSplit"].as_array().cloned().unwrap_or_default();
    let credits: Vec<Value> = shares.iter().map(|share| share["credits"].clone()).collect();
    let expected: Vec<Value> = split.iter().map(|(_, credits)| json!(credits)).collect();
    prop_assert_eq!(credits, expected, "lot split: {}", context);
    for ((seq, _), share) in split.iter().zip(&shares) {
        model.bind(a, *seq, share["lotId"].as_str().unwrap_or_default())?;
    }
    Ok(())
}

/// Runs a generation with `key` on both sides and compares what it returned.
async fn generate(
    app: &TestApp,
    model: &mut Model,
    a: usize,
    key: &str,
    (pro, count): (bool, i64),
    context: &str,
) -> Result<(), TestCaseError> {
    let expected = model.consume(a, key, pro, count);
    let generation = if pro { pro_image(count) } else { image(count) };
    let payload = app.consume(&account_name(a), generation, key).await;
    check_outcome(model, a, &payload, &expected, context)?;
    let event = &payload["usageEvent"];
    match expected {
        Ok(Success::Charged { cost, split }) => {
            check_charge(model, a, event, (pro, count), (cost, &split), context)?;
            model.remember(a, key, pro, count, event.clone());
        }
        Ok(Success::Replayed(first)) => prop_assert_eq!(event, &first, "a retry returns the first event: {}", context),
        _ => {}
    }
    Ok(())
}

/// The outcome, and on success the payload's wallet.
fn check_outcome(
    model: &mut Model,
    a: usize,
    payload: &Value,
    expected: &Result<Success, Refusal>,
    context: &str,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(outcome(payload), expected_outcome(expected), "outcome: {} -> {}", context, payload);
    if expected.is_ok() {
        check_wallet(model, a, &payload["wallet"], context)?;
    } else {
        let filled =
            payload.as_object().into_iter().flatten().any(|(field, value)| field != "errors" && !value.is_null());
        prop_assert!(!filled, "a refused operation fills no other field of its payload: {payload}");
    }
    Ok(())
}

/// Runs one operation on both sides and compares; `step` makes keys unique.
async fn run_op(app: &TestApp, model: &mut Model, op: &Op, step: usize, context: &str) -> Result<(), TestCaseError> {
    let (a, payload, expected) = match *op {
        Op::Advance(clock_step) => {
            let by = model.duration(clock_step);
            model.now += by;
            app.advance(by);
            return Ok(());
        }
        Op::Consume { account, pro, count } => {
            let key = format!("use-{step}");
            generate(app, model, account, &key, (pro, count), context).await?;
            return observe(app, model, account, context).await;
        }
        Op::Retry { account, other_account, pick, other_input } => {
            let from = if other_account { (account + 1) % model.accounts.len() } else { account };
            let keys = &model.accounts[from].keys;
            if keys.is_empty() {
                return Ok(());
            }
            let first = keys[pick.index(keys.len())].clone();
            let count = first.count + i64::from(other_input);
            generate(app, model, account, &first.key, (first.pro, count), context).await?;
            return observe(app, model, account, context).await;
        }
        Op::Subscribe { account, plan } => {
            let expected = model.subscribe(account, plan);
            (account, app.subscribe(&account_name(account), plan.code(), &format!("pay-{step}")).await, expected)
        }
        Op::Cancel { account, at_period_end } => {
            (account, app.cancel(&account_name(account), at_period_end).await, model.cancel(account, at_period_end))
        }
        Op::Purchase { account } => {
            let expected = model.purchase(account);
            let name = account_name(account);
            (account, app.purchase(&name, PACK, &format!("pay-{step}"), &format!("buy-{step}")).await, expected)
        }
        Op::Grant { account, credits, expiry, pro_eligible } => {
            let expires_at = model.expiry(account, expiry);
            let expected = model.grant(account, credits, expires_at, pro_eligible);
            let input = json!({ "credits": credits, "expiresAt": expires_at.map(time), "proEligible": pro_eligible,
                                "reason": "model test", "idempotencyKey": format!("grant-{step}") });
            (account, app.grant(&account_name(account), input).await, expected)
        }
    };
    check_outcome(model, a, &payload, &expected, context)?;
    match expected {
        Ok(Success::Subscription) => {
            let subscription = subscription_fields(&payload["subscription"]);
            prop_assert_eq!(subscription, model.subscription(a), "subscription: {}", context);
        }
        Ok(Success::Lot(seq)) => {
            prop_assert_eq!(lot_fields(&payload["lot"]), model.lot(a, seq).expected(), "new lot: {}", context);
            model.bind(a, seq, payload["lot"]["id"].as_str().unwrap_or_default())?;
        }
        _ => {}
    }
    observe(app, model, a, context).await
}

async fn run_case(accounts: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let app = TestApp::start().await;
    let mut model = Model::new(accounts);
    for (step, op) in ops.iter().enumerate() {
        let context = format!("step {step} {op:?} at {}", time(model.now));
        run_op(&app, &mut model, op, step, &context).await?;
        if step % CHECK_EVERY == CHECK_EVERY - 1 {
            check_all(&app, &mut model, &context).await?;
        }
    }
    check_all(&app, &mut model, "the end").await
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(12);
    ProptestConfig { cases, max_shrink_iters: 64, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_server_follows_the_rules_of_money((accounts, ops) in case()) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        runtime.block_on(run_case(accounts, &ops))?;
    }
}
