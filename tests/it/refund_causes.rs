//! Refunds with a cause, whole or in parts (DESIGN.md section 10): parts add
//! up to at most the charge, also when they race; credits go back to the
//! lot that expires last first, and a share whose lot has expired since
//! expires with it.
use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::events::events_of;
use crate::support::{TestApp, error_code, image};

const CAUSES: [&str; 5] = ["PROVIDER_ERROR", "TIMEOUT", "OUTPUT_MODERATED", "USER_CANCELLED", "OTHER"];

const REFUNDS: &str = "query($id: ID!) { account(id: $id) { usage(first: 100) { edges { node {
    id credits refundedCredits status refunds { credits cause createdAt } } } } } }";

/// The account's usage events, newest first, with their refunds.
async fn usage(app: &TestApp, account: &str) -> Vec<Value> {
    let data = app.as_service(REFUNDS, json!({ "id": account })).await;
    data["account"]["usage"]["edges"].as_array().unwrap().iter().map(|edge| edge["node"].clone()).collect()
}

fn refund_entries(ledger: &[Value]) -> Vec<(String, i64)> {
    let refunds = ledger.iter().rev().filter(|e| e["kind"] == "REFUND");
    refunds.map(|e| (e["lotId"].as_str().unwrap().to_owned(), e["amount"].as_i64().unwrap())).collect()
}

#[tokio::test]
async fn each_cause_is_recorded_on_the_event_and_in_its_webhook_event() {
    let app = TestApp::start().await;
    for (i, cause) in CAUSES.iter().enumerate() {
        let charged = app.consume("c", image(1), &format!("gen-{i}")).await;
        let refund = app.refund_with(&charged["usageEvent"]["id"], json!({ "cause": cause })).await;
        assert_eq!(refund["errors"], json!([]), "{cause}");
        assert_eq!((refund["refund"]["cause"].clone(), refund["refund"]["credits"].clone()), (json!(cause), json!(3)));
        assert_eq!(refund["usageEvent"]["status"], "REFUNDED");
    }
    // Without a cause (or with null): OTHER.
    for (i, input) in [json!({}), json!({ "cause": null })].into_iter().enumerate() {
        let charged = app.consume("c", image(1), &format!("default-{i}")).await;
        assert_eq!(app.refund_with(&charged["usageEvent"]["id"], input).await["refund"]["cause"], "OTHER");
    }
    let shown: Vec<Value> =
        usage(&app, "c").await.iter().rev().map(|event| event["refunds"][0]["cause"].clone()).collect();
    let expected: Vec<Value> = CAUSES.iter().chain(&["OTHER", "OTHER"]).map(|cause| json!(cause)).collect();
    assert_eq!(shown, expected);
    let refunded: Vec<Value> = events_of(&app, "c")
        .await
        .into_iter()
        .filter(|event| event["type"] == "usage.refunded")
        .map(|event| json!([event["data"]["cause"], event["data"]["credits"]]))
        .collect();
    let expected: Vec<Value> = expected.into_iter().map(|cause| json!([cause, 3])).collect();
    assert_eq!(refunded, expected);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn partial_refunds_add_up_to_the_charge_and_no_more() {
    let app = TestApp::start().await;
    let charged = app.consume("p", image(4), "gen-1").await; // 12 credits
    let id = charged["usageEvent"]["id"].clone();
    let first = app.refund_with(&id, json!({ "credits": 5, "cause": "TIMEOUT" })).await;
    assert_eq!(first["errors"], json!([]));
    let event = &first["usageEvent"];
    assert_eq!((event["status"].clone(), event["refundedCredits"].clone()), (json!("PARTIALLY_REFUNDED"), json!(5)));
    assert_eq!((first["refundedCredits"].clone(), first["wallet"]["balance"].clone()), (json!(5), json!(43)));
    // More than is left, or nothing: INVALID_INPUT on credits, nothing changes.
    for credits in [8, 0, -1] {
        let refused = app.refund_with(&id, json!({ "credits": credits })).await;
        assert_eq!(
            (error_code(&refused), refused["errors"][0]["field"].clone()),
            (json!("INVALID_INPUT"), json!("credits"))
        );
        assert_eq!(refused["usageEvent"], Value::Null);
    }
    assert_eq!(app.balance("p").await, 43);
    let last = app.refund_with(&id, json!({ "credits": 7, "cause": "USER_CANCELLED" })).await;
    assert_eq!(
        (last["usageEvent"]["status"].clone(), last["wallet"]["balance"].clone()),
        (json!("REFUNDED"), json!(50))
    );
    for input in [json!({ "credits": 1 }), json!({})] {
        assert_eq!(error_code(&app.refund_with(&id, input).await), json!("ALREADY_REFUNDED"));
    }
    let events = usage(&app, "p").await;
    let refunds: Vec<(Value, Value)> =
        events[0]["refunds"].as_array().unwrap().iter().map(|r| (r["credits"].clone(), r["cause"].clone())).collect();
    assert_eq!(refunds, vec![(json!(5), json!("TIMEOUT")), (json!(7), json!("USER_CANCELLED"))]);
    let amounts: Vec<i64> = refund_entries(&app.ledger("p").await).into_iter().map(|(_, amount)| amount).collect();
    assert_eq!(amounts, vec![5, 7]);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn credits_go_back_to_the_lot_that_expires_last_and_expired_shares_expire() {
    let app = TestApp::start().await;
    // Daily 50 (midnight), a promo of 20 for two days, a promo of 30 for ever.
    let soon = app
        .grant(
            "e",
            json!({ "credits": 20, "expiresAt": "2026-03-12T12:00:00Z", "reason": "a", "idempotencyKey": "g1" }),
        )
        .await;
    let never = app.grant("e", json!({ "credits": 30, "reason": "b", "idempotencyKey": "g2" })).await;
    let charged = app.consume("e", image(30), "gen-1").await; // 90: daily 50, soon 20, never 20
    let daily = charged["usageEvent"]["lotSplit"][0]["lotId"].as_str().unwrap().to_owned();
    let (soon, never) =
        (soon["lot"]["id"].as_str().unwrap().to_owned(), never["lot"]["id"].as_str().unwrap().to_owned());
    let id = charged["usageEvent"]["id"].clone();
    let part = app.refund_with(&id, json!({ "credits": 25 })).await;
    assert_eq!(part["refundedCredits"], 25);
    assert_eq!(refund_entries(&app.ledger("e").await), vec![(never.clone(), 20), (soon.clone(), 5)]);
    app.advance(Duration::hours(13)); // past midnight: the daily lot has expired
    let rest = app.refund(&id).await;
    assert_eq!(rest["errors"], json!([]));
    assert_eq!(rest["refund"]["credits"], 65, "the rest of the charge is refunded...");
    assert_eq!(rest["refundedCredits"], 15, "...but the expired lot's 50 expire at once");
    assert_eq!(rest["usageEvent"]["status"], "REFUNDED");
    let ledger = app.ledger("e").await;
    assert_eq!(refund_entries(&ledger), vec![(never.clone(), 20), (soon.clone(), 5), (soon, 15), (daily.clone(), 50)]);
    assert_eq!((ledger[0]["kind"].clone(), ledger[0]["amount"].clone()), (json!("EXPIRE"), json!(-50)));
    assert_eq!(ledger[0]["lotId"], json!(daily));
    app.assert_ledger_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_refunds_never_give_back_more_than_was_charged() {
    let app = TestApp::start().await;
    let charged = app.consume("race", image(10), "gen-1").await; // 30 credits
    let id = charged["usageEvent"]["id"].clone();
    let parts = (0..16).map(|_| app.refund_with(&id, json!({ "credits": 4, "cause": "PROVIDER_ERROR" })));
    let payloads = join_all(parts).await;
    let refunded = payloads.iter().filter(|p| p["errors"] == json!([])).count();
    let refused: Vec<Value> = payloads.iter().filter(|p| p["errors"] != json!([])).map(error_code).collect();
    assert_eq!(refunded, 7, "seven refunds of 4 fit in 30");
    assert!(refused.iter().all(|code| code == "INVALID_INPUT"), "{refused:?}");
    let wholes = join_all((0..8).map(|_| app.refund(&id))).await;
    let whole: Vec<Value> = wholes.iter().map(|p| p["refund"]["credits"].clone()).filter(|c| !c.is_null()).collect();
    assert_eq!(whole, vec![json!(2)], "one takes the 2 left");
    assert!(wholes.iter().filter(|p| p["errors"] != json!([])).all(|p| error_code(p) == "ALREADY_REFUNDED"));
    let event = &usage(&app, "race").await[0];
    assert_eq!((event["refundedCredits"].clone(), event["status"].clone()), (json!(30), json!("REFUNDED")));
    assert_eq!(event["refunds"].as_array().unwrap().len(), 8);
    assert_eq!(app.balance("race").await, 50);
    app.assert_ledger_clean().await;
}
