//! What the server answers, against what the model expects: outcomes,
//! payloads, wallets (lot ids included), subscriptions, usage events,
//! reservations, the ledger's running balance and usage totals.
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};

use super::lots::time;
use super::rules::{Model, Refusal, Success};
use crate::support::{SUBSCRIPTION, TestApp, WALLET};

/// Times as the model writes them, whatever the server's RFC 3339 flavour.
fn normalize_time(value: &Value) -> Value {
    match value.as_str().map(DateTime::parse_from_rfc3339) {
        Some(Ok(at)) => json!(time(at.with_timezone(&Utc))),
        _ => value.clone(),
    }
}

pub fn lot_fields(lot: &Value) -> Value {
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
    let mut fields = json!({ "lots": lots, "dailyFreeResetsAt": normalize_time(&wallet["dailyFreeResetsAt"]) });
    let exact = [
        "balance",
        "proBalance",
        "dailyFree",
        "subscriptionCredits",
        "subscriptionAllowance",
        "tokens",
        "promo",
        "rollover",
    ];
    for field in exact.into_iter().chain(["held", "lowBalance"]) {
        fields[field] = wallet[field].clone();
    }
    fields
}

pub fn subscription_fields(subscription: &Value) -> Value {
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

/// Learns (or checks) which server object a model object is: the first id
/// seen is kept, and one server id never stands for two model objects.
fn learn(known: &[Option<String>], at: usize, id: &Value, what: &str) -> Result<Option<String>, TestCaseError> {
    let id = id.as_str().ok_or_else(|| TestCaseError::fail(format!("{what} without an id: {id}")))?;
    if let Some(other) = known.iter().enumerate().position(|(i, seen)| i != at && seen.as_deref() == Some(id)) {
        return Err(TestCaseError::fail(format!("server {what} {id} stands for model {what}s {other} and {at}")));
    }
    match &known[at] {
        Some(seen) if seen != id => {
            Err(TestCaseError::fail(format!("model {what} {at} was server {what} {seen}, now {id}")))
        }
        _ => Ok(Some(id.to_owned())),
    }
}

pub fn bind(model: &mut Model, a: usize, seq: u64, id: &Value) -> Result<(), TestCaseError> {
    let lots = &mut model.accounts[a].lots;
    let known: Vec<Option<String>> = lots.iter().map(|lot| lot.real_id.clone()).collect();
    let at = lots.iter().position(|lot| lot.seq == seq).expect("a lot of the model");
    lots[at].real_id = learn(&known, at, id, "lot")?;
    Ok(())
}

/// Binds the lot ids of a `lotSplit` to the model's `(seq, credits)` split,
/// whose credits were compared already.
fn bind_split(model: &mut Model, a: usize, split: &[(u64, i64)], shown: &Value) -> Result<(), TestCaseError> {
    for ((seq, _), share) in split.iter().zip(shown.as_array().into_iter().flatten()) {
        bind(model, a, *seq, &share["lotId"])?;
    }
    Ok(())
}

fn split_credits(shown: &Value) -> Value {
    json!(shown.as_array().into_iter().flatten().map(|share| share["credits"].clone()).collect::<Vec<_>>())
}

/// A usage event from the server against the model's event `e`.
pub fn check_event(model: &mut Model, a: usize, e: usize, event: &Value, context: &str) -> Result<(), TestCaseError> {
    let mut shown = json!({ "lotSplit": split_credits(&event["lotSplit"]) });
    for field in ["credits", "refundedCredits", "count", "status", "tool", "studio", "model"] {
        shown[field] = event[field].clone();
    }
    prop_assert_eq!(shown, model.event_json(a, e), "usage event: {}", context);
    let known: Vec<Option<String>> = model.accounts[a].events.iter().map(|event| event.real_id.clone()).collect();
    model.accounts[a].events[e].real_id = learn(&known, e, &event["id"], "usage event")?;
    let split = model.accounts[a].events[e].split.clone();
    bind_split(model, a, &split, &event["lotSplit"])
}

/// A reservation from the server against the model's hold `h`.
pub fn check_hold(model: &mut Model, a: usize, h: usize, hold: &Value, context: &str) -> Result<(), TestCaseError> {
    let shown = json!({
        "credits": hold["credits"],
        "status": hold["status"],
        "expiresAt": normalize_time(&hold["expiresAt"]),
        "usageEventId": hold["usageEventId"],
        "lotSplit": split_credits(&hold["lotSplit"]),
    });
    prop_assert_eq!(shown, model.hold_json(a, h), "reservation: {}", context);
    let known: Vec<Option<String>> = model.accounts[a].holds.iter().map(|hold| hold.real_id.clone()).collect();
    model.accounts[a].holds[h].real_id = learn(&known, h, &hold["id"], "reservation")?;
    let split = model.accounts[a].holds[h].split.clone();
    bind_split(model, a, &split, &hold["lotSplit"])
}

/// A wallet from the server against the model, lot ids included.
fn check_wallet(model: &mut Model, a: usize, wallet: &Value, context: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(wallet_fields(wallet), model.wallet(a), "wallet of {} after {}", model.accounts[a].name, context);
    let percent = wallet["subscriptionPercentLeft"].as_f64().unwrap_or(f64::NAN);
    let expected = model.percent_left(a);
    // Display only, rounded to hundredths.
    prop_assert!(
        (percent - expected).abs() <= 0.005 + 1e-9,
        "subscriptionPercentLeft {percent}, model {expected}: {context}"
    );
    for (seq, lot) in model.wallet_lots(a).into_iter().zip(wallet["lots"].as_array().into_iter().flatten()) {
        bind(model, a, seq, &lot["id"])?;
    }
    Ok(())
}

/// The outcome (the first user error, or none), and on success the
/// payload's wallet; a refused operation fills no other field.
pub fn check_outcome(
    model: &mut Model,
    a: usize,
    payload: &Value,
    expected: &Result<Success, Refusal>,
    context: &str,
) -> Result<(), TestCaseError> {
    let error = &payload["errors"][0];
    let outcome = json!({ "code": error["code"], "needed": error["needed"], "available": error["available"] });
    let expected_outcome = match expected {
        Ok(_) => json!({ "code": null, "needed": null, "available": null }),
        Err(refusal) => json!({ "code": refusal.code, "needed": refusal.needed, "available": refusal.available }),
    };
    prop_assert_eq!(outcome, expected_outcome, "outcome: {} -> {}", context, payload);
    if expected.is_ok() {
        check_wallet(model, a, &payload["wallet"], context)?;
    } else {
        let filled =
            payload.as_object().into_iter().flatten().any(|(field, value)| field != "errors" && !value.is_null());
        prop_assert!(!filled, "a refused operation fills no other field of its payload: {payload}");
    }
    Ok(())
}

const ACCOUNT_QUERY: &str =
    "query($id: ID!) { account(id: $id) { plan { code } subscription { SUB } wallet { WALLET } } }";

/// Reads the account (an access: it settles) and compares all of it.
pub async fn observe(app: &TestApp, model: &mut Model, a: usize, context: &str) -> Result<(), TestCaseError> {
    model.settle(a);
    let query = ACCOUNT_QUERY.replace("SUB", SUBSCRIPTION).replace("WALLET", WALLET);
    let data = app.as_service(&query, json!({ "id": model.accounts[a].name })).await;
    let account = &data["account"];
    check_wallet(model, a, &account["wallet"], context)?;
    prop_assert_eq!(subscription_fields(&account["subscription"]), model.subscription(a), "subscription: {}", context);
    prop_assert_eq!(&account["plan"]["code"], &json!(model.plan_code(a)), "plan: {}", context);
    Ok(())
}

const TOTALS_QUERY: &str = "query($id: ID!) { account(id: $id) {
    ledger(first: 1) { edges { node { balanceAfter } } } usage(first: 1) { totalCount totalCredits } } }";

/// Every account, each one's ledger running balance and usage totals, and
/// the ledger check.
pub async fn check_all(app: &TestApp, model: &mut Model, context: &str) -> Result<(), TestCaseError> {
    for a in 0..model.accounts.len() {
        observe(app, model, a, context).await?;
        let data = app.as_service(TOTALS_QUERY, json!({ "id": model.accounts[a].name })).await;
        let on_lots: i64 = model.accounts[a].lots.iter().map(|lot| lot.remaining).sum();
        let balance_after = &data["account"]["ledger"]["edges"][0]["node"]["balanceAfter"];
        prop_assert_eq!(balance_after, &json!(on_lots), "ledger balance of {}: {}", model.accounts[a].name, context);
        let usage = &data["account"]["usage"];
        prop_assert_eq!(usage, &model.usage_totals(a), "usage of {}: {}", model.accounts[a].name, context);
    }
    app.assert_ledger_clean().await;
    Ok(())
}
