//! Idempotency keys: a retry returns the first result and moves nothing.
use serde_json::json;

use crate::support::{TestApp, error_code, image};

#[tokio::test]
async fn a_retried_charge_returns_the_first_result_and_charges_once() {
    let app = TestApp::start().await;
    let first = app.consume("i", image(2), "gen-1").await;
    let retry = app.consume("i", image(2), "gen-1").await;
    assert_eq!(retry["errors"], json!([]));
    assert_eq!(retry["usageEvent"], first["usageEvent"]);
    assert_eq!(retry["wallet"]["balance"], 44);
    let other = app.consume("i", image(3), "gen-1").await;
    assert_eq!(
        (error_code(&other), other["errors"][0]["field"].clone()),
        (json!("IDEMPOTENCY_CONFLICT"), json!("idempotencyKey"))
    );
    // Keys belong to an account: another account may use the same one.
    assert_eq!(app.consume("j", image(2), "gen-1").await["errors"], json!([]));
    assert_eq!(app.balance("i").await, 44);
    assert_eq!(app.ledger("i").await.iter().filter(|e| e["kind"] == "CONSUME").count(), 1);
}

#[tokio::test]
async fn a_retry_after_a_restart_still_charges_once() {
    let app = TestApp::start().await;
    let first = app.consume("r", image(1), "gen-1").await;
    // A new server over the same database, as after a restart.
    let restarted = app.second_instance().await;
    drop(app);
    let retry = restarted.consume("r", image(1), "gen-1").await;
    assert_eq!(retry["usageEvent"]["id"], first["usageEvent"]["id"]);
    assert_eq!(restarted.balance("r").await, 47);
}

#[tokio::test]
async fn purchases_grants_and_subscriptions_are_idempotent() {
    let app = TestApp::start().await;
    let first = app.subscribe("p", "STARTER", "pay-1").await;
    let again = app.subscribe("p", "STARTER", "pay-1").await;
    assert_eq!((again["errors"].clone(), again["subscription"].clone()), (json!([]), first["subscription"].clone()));
    assert_eq!(error_code(&app.subscribe("p", "STUDIO", "pay-1").await), json!("IDEMPOTENCY_CONFLICT"));

    let bought = app.purchase("p", "tokens-500", "pay-2", "buy-1").await;
    let rebought = app.purchase("p", "tokens-500", "pay-2", "buy-1").await;
    assert_eq!(rebought["lot"]["id"], bought["lot"]["id"]);
    assert_eq!(error_code(&app.purchase("p", "tokens-1500", "pay-2", "buy-1").await), json!("IDEMPOTENCY_CONFLICT"));

    let grant = json!({ "credits": 10, "reason": "sorry", "idempotencyKey": "grant-1" });
    let granted = app.grant("p", grant.clone()).await;
    assert_eq!(app.grant("p", grant).await["lot"]["id"], granted["lot"]["id"]);
    let different = json!({ "credits": 11, "reason": "sorry", "idempotencyKey": "grant-1" });
    assert_eq!(error_code(&app.grant("p", different).await), json!("IDEMPOTENCY_CONFLICT"));
    // A key used for one operation cannot be reused for another.
    assert_eq!(error_code(&app.consume("p", image(1), "grant-1").await), json!("IDEMPOTENCY_CONFLICT"));

    let wallet = app.wallet("p").await;
    assert_eq!(
        (wallet["subscriptionCredits"].clone(), wallet["tokens"].clone(), wallet["promo"].clone()),
        (json!(1000), json!(500), json!(10))
    );
    app.assert_ledger_clean().await;
}
