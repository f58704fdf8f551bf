//! Plans and subscriptions: subscribe, renew, change plan, cancel; tokens.
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, image, pro_image};

fn kinds(ledger: &[Value], kind: &str) -> Vec<i64> {
    ledger.iter().filter(|e| e["kind"] == kind).map(|e| e["amount"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn subscribing_grants_the_allowance_and_unlocks_pro() {
    let app = TestApp::start().await;
    let payload = app.subscribe("s", "STARTER", "pay-1").await;
    assert_eq!(payload["errors"], json!([]));
    let subscription = &payload["subscription"];
    assert_eq!(
        (
            subscription["plan"]["code"].clone(),
            subscription["status"].clone(),
            subscription["cancelAtPeriodEnd"].clone()
        ),
        (json!("STARTER"), json!("ACTIVE"), json!(false))
    );
    assert_eq!(subscription["currentPeriodStart"], "2026-03-10T12:00:00+00:00");
    assert_eq!(subscription["currentPeriodEnd"], "2026-04-10T12:00:00+00:00");
    let wallet = &payload["wallet"];
    assert_eq!(
        (wallet["subscriptionCredits"].clone(), wallet["subscriptionAllowance"].clone()),
        (json!(1000), json!(1000))
    );
    assert_eq!((wallet["balance"].clone(), wallet["proBalance"].clone()), (json!(1050), json!(1000)));
    assert_eq!(wallet["subscriptionPercentLeft"], 100.0);
    let charged = app.consume("s", pro_image(2), "pro-1").await;
    assert_eq!(charged["usageEvent"]["credits"], 16);
    assert_eq!(charged["wallet"]["subscriptionPercentLeft"], 98.4);
    let plan = app.as_service("{ account(id: \"s\") { plan { code proAccess } } }", json!({})).await;
    assert_eq!(plan["account"]["plan"], json!({ "code": "STARTER", "proAccess": true }));
}

#[tokio::test]
async fn renewal_after_several_missed_periods_grants_only_the_current_period() {
    let app = TestApp::start().await;
    app.subscribe("r", "STARTER", "pay-1").await;
    app.consume("r", image(100), "c1").await; // 50 daily + 250 of the allowance
    app.advance(Duration::days(95)); // 2026-06-13: periods of April and May were never seen
    let data = app
        .as_service("{ account(id: \"r\") { subscription { currentPeriodStart currentPeriodEnd status } wallet { subscriptionCredits } } }", json!({}))
        .await;
    let account = &data["account"];
    assert_eq!(account["subscription"]["currentPeriodStart"], "2026-06-10T12:00:00+00:00");
    assert_eq!(account["subscription"]["currentPeriodEnd"], "2026-07-10T12:00:00+00:00");
    assert_eq!(account["subscription"]["status"], "ACTIVE");
    assert_eq!(account["wallet"]["subscriptionCredits"], 1000);
    let ledger = app.ledger("r").await;
    assert_eq!(
        kinds(&ledger, "SUBSCRIPTION_GRANT"),
        vec![1000, 1000],
        "one grant at start, one for the current period"
    );
    assert!(kinds(&ledger, "EXPIRE").contains(&-750), "the first period's unused 750 expired: {ledger:?}");
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn changing_plan_starts_a_new_period_and_expires_the_old_credits() {
    let app = TestApp::start().await;
    app.subscribe("p", "STARTER", "pay-1").await;
    app.advance(Duration::days(3));
    let payload = app.subscribe("p", "STUDIO", "pay-2").await;
    let subscription = &payload["subscription"];
    assert_eq!(
        (subscription["plan"]["code"].clone(), subscription["status"].clone()),
        (json!("STUDIO"), json!("ACTIVE"))
    );
    assert_eq!(subscription["currentPeriodStart"], "2026-03-13T12:00:00+00:00");
    assert_eq!(payload["wallet"]["subscriptionCredits"], 10000);
    assert_eq!(payload["wallet"]["subscriptionAllowance"], 10000);
    let ledger = app.ledger("p").await;
    assert_eq!(kinds(&ledger, "SUBSCRIPTION_GRANT"), vec![10000, 1000]);
    assert!(kinds(&ledger, "EXPIRE").contains(&-1000));
    // Subscribing again to the plan one has is refused and changes nothing.
    let again = app.subscribe("p", "STUDIO", "pay-3").await;
    assert_eq!(error_code(&again), json!("INVALID_INPUT"));
    assert_eq!(app.wallet("p").await["subscriptionCredits"], 10000);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn cancelling_at_period_end_keeps_the_period_then_ends_it() {
    let app = TestApp::start().await;
    app.subscribe("c", "CREATOR", "pay-1").await;
    let payload = app.cancel("c", true).await;
    assert_eq!(
        (payload["subscription"]["status"].clone(), payload["subscription"]["cancelAtPeriodEnd"].clone()),
        (json!("ACTIVE"), json!(true))
    );
    assert_eq!(payload["wallet"]["subscriptionCredits"], 3000);
    app.advance(Duration::days(31)); // past 2026-04-10T12:00
    let data = app.as_service("{ account(id: \"c\") { plan { code } subscription { status } wallet { subscriptionCredits proBalance } } }", json!({})).await;
    assert_eq!(data["account"]["plan"]["code"], "FREE");
    assert_eq!(data["account"]["subscription"]["status"], "CANCELED");
    assert_eq!(data["account"]["wallet"]["subscriptionCredits"], 0);
    assert_eq!(kinds(&app.ledger("c").await, "SUBSCRIPTION_GRANT"), vec![3000], "no renewal after cancelling");
    // Cancelling again is answered as the first time.
    assert_eq!(app.cancel("c", true).await["errors"], json!([]));
}

#[tokio::test]
async fn cancelling_now_expires_the_allowance_at_once() {
    let app = TestApp::start().await;
    app.subscribe("n", "STARTER", "pay-1").await;
    let payload = app.cancel("n", false).await;
    assert_eq!(payload["subscription"]["status"], "CANCELED");
    assert_eq!(
        (payload["wallet"]["subscriptionCredits"].clone(), payload["wallet"]["balance"].clone()),
        (json!(0), json!(50))
    );
    assert_eq!(error_code(&app.consume("n", pro_image(1), "p").await), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
    assert_eq!(error_code(&app.cancel("never", true).await), json!("SUBSCRIPTION_REQUIRED"));
}

/// Credits of an allowance that ended are gone, also those that were held
/// or spent when it ended: a release or a refund later does not revive them.
#[tokio::test]
async fn credits_of_an_ended_allowance_do_not_come_back_on_release_or_refund() {
    let app = TestApp::start().await;
    let credits = |count: i64| json!({ "tool": "background-removal", "count": count });
    for (account, at_once) in [("changed", false), ("cancelled", true)] {
        app.subscribe(account, "STARTER", "pay-1").await;
        // 50 daily credits and 10 of the allowance charged; 10 more held.
        let charged = app.consume(account, credits(60), "spent").await;
        let held = app.reserve(account, credits(10), "held", None).await;
        let ended =
            if at_once { app.cancel(account, false).await } else { app.subscribe(account, "CREATOR", "pay-2").await };
        assert_eq!(ended["errors"], json!([]));
        let allowance_left = if at_once { 0 } else { 3000 };
        let released = app.release(&held["reservation"]["id"]).await;
        assert_eq!(released["wallet"]["balance"], json!(allowance_left), "{account}: the hold's 10 are gone");
        let refund = app.refund(&charged["usageEvent"]["id"]).await;
        assert_eq!(refund["refundedCredits"], 50, "{account}: the daily share only");
        let wallet = &refund["wallet"];
        assert_eq!(
            (wallet["subscriptionCredits"].clone(), wallet["balance"].clone()),
            (json!(allowance_left), json!(allowance_left + 50)),
            "{account}"
        );
    }
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn tokens_outlive_the_subscription_for_standard_models_only() {
    let app = TestApp::start().await;
    let refused = app.purchase("t", "tokens-500", "pay-0", "buy-0").await;
    assert_eq!(error_code(&refused), json!("SUBSCRIPTION_REQUIRED"));
    assert_eq!(app.wallet("t").await["tokens"], 0);
    app.subscribe("t", "STARTER", "pay-1").await;
    let bought = app.purchase("t", "tokens-500", "pay-2", "buy-1").await;
    assert_eq!(bought["lot"]["source"], "TOKENS");
    assert_eq!((bought["lot"]["expiresAt"].clone(), bought["lot"]["proEligible"].clone()), (Value::Null, json!(true)));
    assert_eq!(bought["wallet"]["tokens"], 500);
    app.cancel("t", false).await;
    app.advance(Duration::days(400));
    let wallet = app.wallet("t").await;
    assert_eq!((wallet["tokens"].clone(), wallet["proBalance"].clone()), (json!(500), json!(0)));
    assert_eq!(error_code(&app.consume("t", pro_image(1), "pro").await), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
    // Standard models: the day's free credits first, then tokens.
    let charged = app.consume("t", image(30), "std").await;
    assert_eq!((charged["wallet"]["tokens"].clone(), charged["wallet"]["dailyFree"].clone()), (json!(460), json!(0)));
    // Subscribed again, tokens pay for Pro again.
    app.subscribe("t", "STARTER", "pay-3").await;
    assert_eq!(app.wallet("t").await["proBalance"], 1460);
}

#[tokio::test]
async fn unknown_plans_and_packs_are_refused() {
    let app = TestApp::start().await;
    assert_eq!(error_code(&app.subscribe("u", "GOLD", "pay-1").await), json!("UNKNOWN_PLAN"));
    assert_eq!(error_code(&app.subscribe("u", "FREE", "pay-1").await), json!("INVALID_INPUT"));
    app.subscribe("u", "STARTER", "pay-2").await;
    let payload = app.purchase("u", "tokens-7", "pay-3", "buy").await;
    assert_eq!((error_code(&payload), payload["errors"][0]["field"].clone()), (json!("UNKNOWN_PACK"), json!("packId")));
    assert_eq!(app.wallet("u").await["tokens"], 0);
}
