//! Charging generations: the Pro rule, the spending order, insufficient credits.
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, image, pro_image, start_time};

/// The sources of the lots a charge drew on, with the credits of each.
fn split_by_source(payload: &Value, wallet_before: &Value) -> Vec<(String, i64)> {
    payload["usageEvent"]["lotSplit"]
        .as_array()
        .expect("lotSplit")
        .iter()
        .map(|share| {
            let lot = wallet_before["lots"].as_array().unwrap().iter().find(|lot| lot["id"] == share["lotId"]).unwrap();
            (lot["source"].as_str().unwrap().to_owned(), share["credits"].as_i64().unwrap())
        })
        .collect()
}

async fn charge_and_split(app: &TestApp, account: &str, generation: Value, key: &str) -> Vec<(String, i64)> {
    let before = app.wallet(account).await;
    let payload = app.consume(account, generation, key).await;
    assert_eq!(payload["errors"], json!([]), "{payload}");
    split_by_source(&payload, &before)
}

fn split(parts: &[(&str, i64)]) -> Vec<(String, i64)> {
    parts.iter().map(|(source, credits)| (source.to_string(), *credits)).collect()
}

#[tokio::test]
async fn a_free_account_cannot_use_a_pro_model_even_with_credits() {
    let app = TestApp::start().await;
    let granted = app
        .grant("free", json!({ "credits": 1000, "proEligible": true, "reason": "gift", "idempotencyKey": "g1" }))
        .await;
    assert_eq!(granted["wallet"]["balance"], 1050);
    assert_eq!(granted["wallet"]["proBalance"], 0, "no subscription: nothing pays for Pro");
    let payload = app.consume("free", pro_image(1), "pro-1").await;
    assert_eq!(error_code(&payload), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
    assert_eq!(payload["usageEvent"], Value::Null);
    assert_eq!(payload["wallet"], Value::Null);
    assert_eq!(app.balance("free").await, 1050);
    assert!(app.ledger("free").await.iter().all(|entry| entry["kind"] != "CONSUME"));
}

#[tokio::test]
async fn daily_free_credits_never_pay_for_pro_generations() {
    let app = TestApp::start().await;
    app.subscribe("sub", "STARTER", "pay-1").await;
    // Spend the whole allowance on standard models (soonest-expiring first: the daily lot goes first).
    for key in 0..3 {
        app.consume("sub", image(100), &format!("std-{key}")).await;
    }
    app.consume("sub", image(50), "std-3").await;
    let wallet = app.wallet("sub").await;
    assert_eq!((wallet["balance"].clone(), wallet["proBalance"].clone()), (json!(0), json!(0)));
    app.grant("sub", json!({ "credits": 20, "reason": "daily-like", "idempotencyKey": "g" })).await;
    // 20 promo credits (not pro-eligible) and a new day's free credits: neither pays for Pro.
    app.advance(Duration::days(1));
    let wallet = app.wallet("sub").await;
    assert_eq!((wallet["balance"].clone(), wallet["proBalance"].clone()), (json!(70), json!(0)));
    let payload = app.consume("sub", pro_image(1), "pro").await;
    assert_eq!(error_code(&payload), json!("INSUFFICIENT_CREDITS"));
    assert_eq!(
        (payload["errors"][0]["needed"].clone(), payload["errors"][0]["available"].clone()),
        (json!(8), json!(0))
    );
}

#[tokio::test]
async fn lots_are_spent_soonest_expiring_first_and_never_expiring_last() {
    let app = TestApp::start().await;
    app.subscribe("a", "STARTER", "pay-1").await; // 1000, expires in a month
    let in_ten_days = (start_time() + Duration::days(10)).to_rfc3339();
    app.grant("a", json!({ "credits": 100, "expiresAt": in_ten_days, "reason": "promo", "idempotencyKey": "g" })).await;
    app.purchase("a", "tokens-500", "pay-2", "buy-1").await; // 500, never expire
    // Daily (50, tonight) first, then promo (10 days).
    assert_eq!(charge_and_split(&app, "a", image(20), "c1").await, split(&[("DAILY_FREE", 50), ("PROMO", 10)]));
    // Promo, then the subscription allowance.
    assert_eq!(charge_and_split(&app, "a", image(100), "c2").await, split(&[("PROMO", 90), ("SUBSCRIPTION", 210)]));
    charge_and_split(&app, "a", image(100), "c3").await;
    charge_and_split(&app, "a", image(100), "c4").await;
    // 190 left of the allowance, then tokens, which never expire, last.
    assert_eq!(charge_and_split(&app, "a", image(100), "c5").await, split(&[("SUBSCRIPTION", 190), ("TOKENS", 110)]));
    let wallet = app.wallet("a").await;
    assert_eq!(
        (wallet["tokens"].clone(), wallet["subscriptionCredits"].clone(), wallet["balance"].clone()),
        (json!(390), json!(0), json!(390))
    );
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn insufficient_credits_charge_nothing_and_say_how_many() {
    let app = TestApp::start().await;
    app.consume("poor", image(10), "c1").await; // 30 of 50
    let payload = app.consume("poor", image(7), "c2").await; // 21 > 20
    assert_eq!(error_code(&payload), json!("INSUFFICIENT_CREDITS"));
    assert_eq!(
        (payload["errors"][0]["needed"].clone(), payload["errors"][0]["available"].clone()),
        (json!(21), json!(20))
    );
    let message = payload["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("21") && message.contains("20"), "{message}");
    assert_eq!(app.balance("poor").await, 20);
    assert_eq!(app.ledger("poor").await.iter().filter(|e| e["kind"] == "CONSUME").count(), 1);
    // A refused charge moved nothing, so its key is not used up: the retry
    // goes through once there is room.
    app.grant("poor", json!({ "credits": 1, "reason": "top-up", "idempotencyKey": "g" })).await;
    let payload = app.consume("poor", image(7), "c2").await;
    assert_eq!((payload["errors"].clone(), payload["wallet"]["balance"].clone()), (json!([]), json!(0)));
}

#[tokio::test]
async fn a_charge_records_a_usage_event_and_ledger_entries() {
    let app = TestApp::start().await;
    let payload =
        app.consume("u", json!({ "tool": "text-to-video", "modelId": "wan-2", "durationSeconds": 4 }), "v1").await;
    let event = &payload["usageEvent"];
    assert_eq!(
        (event["credits"].clone(), event["status"].clone(), event["studio"].clone(), event["tool"].clone()),
        (json!(8), json!("CHARGED"), json!("VIDEO"), json!("text-to-video"))
    );
    assert_eq!(event["model"], json!({ "id": "wan-2", "pro": false }));
    let ledger = app.ledger("u").await;
    let consume = ledger.iter().find(|e| e["kind"] == "CONSUME").expect("a CONSUME entry");
    assert_eq!((consume["amount"].clone(), consume["balanceAfter"].clone()), (json!(-8), json!(42)));
    assert_eq!(consume["usageEventId"], event["id"]);
    assert_eq!(payload["wallet"]["balance"], 42);
}

#[tokio::test]
async fn bad_generations_are_refused_with_their_codes_and_change_nothing() {
    let app = TestApp::start().await;
    let cases = [
        (json!({ "tool": "nope" }), "UNKNOWN_TOOL"),
        (json!({ "tool": "text-to-image", "modelId": "nope" }), "UNKNOWN_MODEL"),
        (json!({ "tool": "text-to-image", "modelId": "sdxl", "count": -1 }), "INVALID_INPUT"),
    ];
    for (generation, code) in cases {
        let payload = app.consume("u", generation.clone(), &format!("k-{code}")).await;
        assert_eq!(error_code(&payload), json!(code), "{generation}");
    }
    for account in ["", "has space", &"x".repeat(200)] {
        let payload = app.consume(account, image(1), "k").await;
        assert_eq!(error_code(&payload), json!("INVALID_INPUT"), "account {account:?}");
        assert_eq!(payload["errors"][0]["field"], json!("accountId"));
    }
    let payload = app.consume("u", image(1), "").await;
    assert_eq!(
        (error_code(&payload), payload["errors"][0]["field"].clone()),
        (json!("INVALID_INPUT"), json!("idempotencyKey"))
    );
    assert_eq!(app.balance("u").await, 50);
    assert!(app.ledger("u").await.iter().all(|e| e["kind"] == "DAILY_GRANT"));
}

/// Issue 22: a charge holds its account's lock for few round trips. On
/// PostgreSQL: the lock, one read of everything the decision needs (lots,
/// subscription, holds, the key's record, the usage event's id), and one
/// batch of every write; then the commit. SQLite has no round trips to save
/// and reads and writes statement by statement.
#[tokio::test]
async fn a_charge_makes_three_statements_under_its_lock_on_postgres() {
    let app = TestApp::start().await;
    let granted = app.grant("trips", json!({ "credits": 500, "reason": "gift", "idempotencyKey": "g1" })).await;
    assert_eq!(granted["wallet"]["balance"], 550);
    let first = app.consume("trips", image(2), "trip-1").await;
    assert_eq!(first["errors"], json!([]), "{first}");
    let before = app.app.store.statements_executed();
    // Quotes, a backslash and more than ASCII: the batch writes its values
    // in as literals.
    let key = "trip-'2'\\\"é😀";
    let charged = app.consume("trips", image(2), key).await;
    let statements = app.app.store.statements_executed() - before;
    assert_eq!(charged["errors"], json!([]), "{charged}");
    let credits = charged["usageEvent"]["credits"].as_i64().expect("the charge's credits");
    assert!(credits > 0);
    assert_eq!(charged["wallet"]["balance"].as_i64(), first["wallet"]["balance"].as_i64().map(|b| b - credits));
    // Written with the batch: the event, the ledger entry, the replay.
    let wallet = app.wallet("trips").await;
    assert_eq!(wallet["balance"], charged["wallet"]["balance"]);
    let again = app.consume("trips", image(2), key).await;
    assert_eq!(again["usageEvent"]["id"], charged["usageEvent"]["id"], "the key's record was written");
    assert_eq!(again["wallet"]["balance"], charged["wallet"]["balance"]);
    let postgres = crate::support::TestDatabase::postgres_url().is_some();
    println!("statements for a charge: {statements}");
    if postgres {
        assert_eq!(statements, 3, "the lock, the read and the batch");
    } else {
        assert!(statements <= 12, "{statements} statements for a charge on SQLite");
    }
}
