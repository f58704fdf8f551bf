//! Refunds: once, to the lots the credits came from; what comes back to an
//! expired lot expires with it, as on a release.
use chrono::Duration;
use credits::auth::Role;
use serde_json::json;

use crate::support::{TestApp, error_code, graphql_error_code, image};

#[tokio::test]
async fn a_refund_returns_the_credits_once() {
    let app = TestApp::start().await;
    let charged = app.consume("f", image(2), "gen-1").await;
    let event = charged["usageEvent"]["id"].clone();
    let refund = app.refund(&event).await;
    assert_eq!(refund["errors"], json!([]));
    assert_eq!(refund["refundedCredits"], 6);
    assert_eq!(refund["usageEvent"]["status"], "REFUNDED");
    assert_eq!(refund["wallet"]["balance"], 50);
    let again = app.refund(&event).await;
    assert_eq!(error_code(&again), json!("ALREADY_REFUNDED"));
    assert_eq!(app.balance("f").await, 50);
    let refunds: Vec<i64> =
        app.ledger("f").await.iter().filter(|e| e["kind"] == "REFUND").map(|e| e["amount"].as_i64().unwrap()).collect();
    assert_eq!(refunds, vec![6]);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_share_of_an_expired_lot_is_not_refunded() {
    let app = TestApp::start().await;
    app.subscribe("s", "STARTER", "pay-1").await;
    let charged = app.consume("s", image(20), "gen-1").await; // 50 daily + 10 subscription
    app.advance(Duration::days(1)); // the daily lot has expired
    let refund = app.refund(&charged["usageEvent"]["id"]).await;
    assert_eq!(refund["refundedCredits"], 10, "only the subscription share comes back");
    let wallet = &refund["wallet"];
    assert_eq!((wallet["subscriptionCredits"].clone(), wallet["dailyFree"].clone()), (json!(1000), json!(50)));
    // As for a released hold: the expired lot's share comes back and expires
    // at once, so the ledger accounts for every credit of the refund (the
    // lot that expires last gets its credits back first).
    let ledger = app.ledger("s").await;
    let refund_entries: Vec<(&str, i64)> =
        ledger.iter().take(3).map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_i64().unwrap())).collect();
    assert_eq!(refund_entries, [("EXPIRE", -50), ("REFUND", 50), ("REFUND", 10)], "{ledger:#?}");
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn captured_generations_can_be_refunded_too() {
    let app = TestApp::start().await;
    let held = app.reserve("c", image(5), "gen-1", None).await;
    let captured = app.capture(&held["reservation"]["id"], Some(9)).await;
    let refund = app.refund(&captured["usageEvent"]["id"]).await;
    assert_eq!((refund["refundedCredits"].clone(), refund["wallet"]["balance"].clone()), (json!(9), json!(50)));
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn refunds_of_unknown_events_or_by_users_are_refused() {
    let app = TestApp::start().await;
    assert_eq!(error_code(&app.refund(&json!("424242")).await), json!("NOT_FOUND"));
    assert_eq!(error_code(&app.refund(&json!("not-an-id")).await), json!("NOT_FOUND"));
    let charged = app.consume("u", image(1), "gen-1").await;
    let user = app.token(Role::User, "u");
    let response = app
        .graphql(
            Some(&user),
            "mutation($id: ID!) { refundUsage(input: { usageEventId: $id }) { refundedCredits } }",
            json!({ "id": charged["usageEvent"]["id"] }),
        )
        .await;
    assert_eq!(graphql_error_code(&response), json!("FORBIDDEN"));
    assert_eq!(app.balance("u").await, 47);
}
