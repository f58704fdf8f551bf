//! Top-ups (DESIGN.md section 7): requested, completed once, failed,
//! expired; automatic ones on a crossing, at most one pending and within
//! the monthly limit, switched off after three failures in a row.
use chrono::Duration;
use credits::domain::rules::Rules;
use futures_util::future::join_all;
use serde_json::{Value, json};

use super::{Watch, run_scheduler};
use crate::support::{TestApp, error_code, image};

const TOP_UP: &str = "topUp { id status trigger paymentReference failureReason checkoutUrl pack { id tokens } }";

async fn request(app: &TestApp, account: &str, pack: &str, key: &str) -> Value {
    let query = format!(
        "mutation($input: RequestTopUpInput!) {{ requestTopUp(input: $input) {{ {TOP_UP} errors {{ code field }} }} }}"
    );
    let input = json!({ "accountId": account, "packId": pack, "idempotencyKey": key });
    app.as_service(&query, json!({ "input": input })).await["requestTopUp"].clone()
}

async fn complete(app: &TestApp, id: &Value, reference: &str) -> Value {
    let query = format!(
        "mutation($input: CompleteTopUpInput!) {{ completeTopUp(input: $input) {{
            {TOP_UP} wallet {{ tokens }} errors {{ code field }} }} }}"
    );
    let input = json!({ "topUpId": id, "paymentReference": reference });
    app.as_service(&query, json!({ "input": input })).await["completeTopUp"].clone()
}

async fn fail(app: &TestApp, id: &Value, reason: &str) -> Value {
    let query = format!(
        "mutation($input: FailTopUpInput!) {{ failTopUp(input: $input) {{ {TOP_UP} errors {{ code field }} }} }}"
    );
    app.as_service(&query, json!({ "input": { "topUpId": id, "reason": reason } })).await["failTopUp"].clone()
}

async fn set_auto(app: &TestApp, account: &str, input: Value) -> Value {
    let query = "mutation($input: SetAutoTopUpInput!) { setAutoTopUp(input: $input) {
        autoTopUp { enabled threshold pack { id } monthlyLimit requestedThisMonth consecutiveFailures }
        errors { code field } } }";
    let mut input = input;
    input["accountId"] = json!(account);
    app.as_service(query, json!({ "input": input })).await["setAutoTopUp"].clone()
}

async fn top_ups(app: &TestApp, account: &str) -> Vec<Value> {
    let query = format!(
        "query($id: ID!) {{ account(id: $id) {{ topUps(first: 50) {{ edges {{ node {{ {} }} }} }} }} }}",
        &TOP_UP[8..TOP_UP.len() - 2]
    );
    let data = app.as_service(&query, json!({ "id": account })).await;
    data["account"]["topUps"]["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect()
}

#[tokio::test]
async fn a_top_up_is_requested_once_and_grants_its_tokens_once() {
    let checkout = "https://pay.example/checkout?topup={topUpId}";
    let app = TestApp::start_with(Rules { checkout_url: Some(checkout.into()), ..Rules::default() }).await;
    let mut watch = Watch::new(&app, "tom");
    assert_eq!(error_code(&request(&app, "tom", "tokens-500", "k1").await), "SUBSCRIPTION_REQUIRED");
    app.subscribe("tom", "STARTER", "pay-0").await;
    watch.expect("subscribe", &["subscription.started"]).await;
    assert_eq!(error_code(&request(&app, "tom", "tokens-9", "k1").await), "UNKNOWN_PACK");
    let requested = request(&app, "tom", "tokens-500", "k1").await;
    let top_up = requested["topUp"].clone();
    assert_eq!((top_up["status"].as_str(), top_up["trigger"].as_str()), (Some("PENDING"), Some("MANUAL")));
    let id = top_up["id"].clone();
    assert_eq!(top_up["checkoutUrl"], json!(format!("https://pay.example/checkout?topup={}", id.as_str().unwrap())));
    let told = watch.expect("a request", &["topup.requested"]).await;
    assert_eq!(
        told[0]["data"],
        json!({ "accountId": "tom", "topUpId": id, "packId": "tokens-500", "trigger": "MANUAL" })
    );
    assert_eq!(request(&app, "tom", "tokens-500", "k1").await["topUp"]["id"], id, "a retry answers the first");
    assert_eq!(error_code(&request(&app, "tom", "tokens-1500", "k2").await), "TOP_UP_PENDING");
    watch.expect("a retry and a second request", &[]).await;
    let tokens_before = app.wallet("tom").await["tokens"].as_i64().unwrap();
    let completed = complete(&app, &id, "pay-1").await;
    assert_eq!(completed["topUp"]["status"], "SUCCEEDED");
    assert_eq!(completed["topUp"]["paymentReference"], "pay-1");
    assert_eq!(completed["wallet"]["tokens"], json!(tokens_before + 500));
    watch.expect("a completion", &["topup.succeeded", "tokens.purchased"]).await;
    assert_eq!(complete(&app, &id, "pay-1").await["wallet"]["tokens"], json!(tokens_before + 500));
    assert_eq!(error_code(&complete(&app, &id, "pay-2").await), "IDEMPOTENCY_CONFLICT");
    assert_eq!(error_code(&fail(&app, &id, "declined").await), "TOP_UP_CLOSED");
    watch.expect("repeats", &[]).await;
    // A failed one stays failed.
    let second = request(&app, "tom", "tokens-500", "k3").await["topUp"]["id"].clone();
    let failed = fail(&app, &second, "card declined").await;
    assert_eq!(
        (failed["topUp"]["status"].as_str(), failed["topUp"]["failureReason"].as_str()),
        (Some("FAILED"), Some("card declined"))
    );
    assert_eq!(error_code(&complete(&app, &second, "pay-3").await), "TOP_UP_CLOSED");
    watch.expect("a failure", &["topup.requested", "topup.failed"]).await;
    // One not paid within its hour expires, and is completed if the money comes after all.
    let third = request(&app, "tom", "tokens-500", "k4").await["topUp"]["id"].clone();
    app.advance(Duration::minutes(61));
    assert_eq!(run_scheduler(&app).await, 1);
    watch.expect("an expiry", &["topup.requested", "topup.expired"]).await;
    assert_eq!(top_ups(&app, "tom").await[0]["status"], "EXPIRED");
    assert_eq!(complete(&app, &third, "pay-4").await["topUp"]["status"], "SUCCEEDED");
    watch.expect("a late completion", &["topup.succeeded", "tokens.purchased"]).await;
    let listed: Vec<Value> = top_ups(&app, "tom").await.iter().map(|t| t["status"].clone()).collect();
    assert_eq!(listed, [json!("SUCCEEDED"), json!("FAILED"), json!("SUCCEEDED")]);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn racing_completions_grant_once() {
    let app = TestApp::start().await;
    app.subscribe("ria", "STARTER", "pay-0").await;
    for (round, same_reference) in [(1, true), (2, false)] {
        let id = request(&app, "ria", "tokens-500", &format!("k{round}")).await["topUp"]["id"].clone();
        let tokens = app.wallet("ria").await["tokens"].as_i64().unwrap();
        let reference = |i: usize| if same_reference { format!("pay-{round}") } else { format!("pay-{round}-{i}") };
        let answers = join_all((0..8).map(|i| {
            let (app, id, reference) = (&app, id.clone(), reference(i));
            async move { complete(app, &id, &reference).await }
        }))
        .await;
        let succeeded = answers.iter().filter(|a| a["errors"] == json!([])).count();
        let conflicts = answers.iter().filter(|a| error_code(a) == "IDEMPOTENCY_CONFLICT").count();
        assert_eq!((succeeded, conflicts), if same_reference { (8, 0) } else { (1, 7) }, "{answers:#?}");
        assert_eq!(app.wallet("ria").await["tokens"], json!(tokens + 500), "granted once");
    }
    let purchases = app.ledger("ria").await.iter().filter(|entry| entry["kind"] == "PURCHASE").count();
    assert_eq!(purchases, 2);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn an_automatic_top_up_fires_on_a_crossing_within_its_limits() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "amy");
    app.subscribe("amy", "STARTER", "pay-0").await;
    watch.expect("subscribe", &["subscription.started"]).await;
    // 1050 credits; a threshold below them asks for nothing yet.
    let set = set_auto(
        &app,
        "amy",
        json!({ "enabled": true, "threshold": 1_040, "packId": "tokens-500", "monthlyLimit": 2 }),
    )
    .await;
    assert_eq!(
        set["autoTopUp"],
        json!({ "enabled": true, "threshold": 1_040, "pack": { "id": "tokens-500" }, "monthlyLimit": 2, "requestedThisMonth": 0, "consecutiveFailures": 0 })
    );
    watch.expect("switched on above", &[]).await;
    app.consume("amy", image(4), "c1").await;
    let told = watch.expect("a charge crossing it", &["topup.requested"]).await;
    assert_eq!(told[0]["data"]["trigger"], "AUTOMATIC");
    let first = told[0]["data"]["topUpId"].clone();
    app.consume("amy", image(1), "c2").await;
    watch.expect("a charge below it with one pending", &[]).await;
    assert_eq!(complete(&app, &first, "pay-1").await["topUp"]["trigger"], "AUTOMATIC");
    watch.expect("its completion", &["topup.succeeded", "tokens.purchased"]).await;
    // 1535: cross again, the month's second and last.
    app.consume("amy", image(100), "c3").await;
    app.consume("amy", image(70), "c3b").await;
    watch.expect("the second crossing", &["topup.requested"]).await;
    let second = top_ups(&app, "amy").await[0]["id"].clone();
    fail(&app, &second, "declined").await;
    watch.expect("its failure", &["topup.failed"]).await;
    app.grant("amy", json!({ "credits": 100, "reason": "r", "idempotencyKey": "g1" })).await;
    app.consume("amy", image(50), "c4").await;
    watch.expect("a third crossing past the monthly limit", &[]).await;
    let account = "query { account(id: \"amy\") { autoTopUp { requestedThisMonth consecutiveFailures } } }";
    assert_eq!(
        app.as_service(account, json!({})).await["account"]["autoTopUp"],
        json!({ "requestedThisMonth": 2, "consecutiveFailures": 1 })
    );
    // A new month counts afresh; switching it on below the threshold asks at once.
    app.advance(Duration::days(31));
    set_auto(&app, "amy", json!({ "enabled": false })).await;
    let on = set_auto(&app, "amy", json!({ "enabled": true, "threshold": 100_000 })).await;
    assert_eq!(on["autoTopUp"]["requestedThisMonth"], 1, "{on}");
    let events = watch.new_events().await;
    assert!(
        events.iter().any(|e| e["type"] == "topup.requested" && e["data"]["trigger"] == "AUTOMATIC"),
        "{events:#?}"
    );
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn three_failed_automatic_top_ups_in_a_row_switch_it_off() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "bo");
    app.subscribe("bo", "STARTER", "pay-0").await;
    set_auto(&app, "bo", json!({ "enabled": true, "threshold": 1_000, "packId": "tokens-500", "monthlyLimit": 10 }))
        .await;
    watch.expect("setup", &["subscription.started"]).await;
    for round in 1..=3 {
        // Up to 1100, then a charge of 210 across the threshold.
        let credits = 1_100 - app.balance("bo").await;
        app.grant("bo", json!({ "credits": credits, "reason": "r", "idempotencyKey": format!("g{round}") })).await;
        app.consume("bo", image(70), &format!("c{round}")).await;
        let requested = watch.expect(&format!("crossing {round}"), &["topup.requested"]).await;
        let id = requested[0]["data"]["topUpId"].clone();
        fail(&app, &id, "declined").await;
        let expected: &[&str] = if round < 3 { &["topup.failed"] } else { &["topup.failed", "auto_topup.disabled"] };
        watch.expect(&format!("failure {round}"), expected).await;
    }
    let off = set_auto(&app, "bo", json!({ "enabled": false })).await;
    assert_eq!(off["autoTopUp"]["consecutiveFailures"], 3);
    let credits = 1_100 - app.balance("bo").await;
    app.grant("bo", json!({ "credits": credits, "reason": "r", "idempotencyKey": "g4" })).await;
    app.consume("bo", image(70), "c4").await;
    watch.expect("a crossing once switched off", &[]).await;
}

/// 50 charges crossing the threshold together, on two server instances when
/// the suite runs on PostgreSQL: one automatic top-up, not two.
#[tokio::test]
async fn racing_charges_across_the_threshold_request_one_automatic_top_up() {
    let app = TestApp::start().await;
    let second =
        if crate::support::TestDatabase::postgres_url().is_some() { Some(app.second_instance().await) } else { None };
    app.subscribe("max", "STARTER", "pay-0").await;
    set_auto(&app, "max", json!({ "enabled": true, "threshold": 1_000, "packId": "tokens-500" })).await;
    // 1050 credits; 50 charges of 3 take it to 900.
    let answers = join_all((0..50).map(|i| {
        let server = if i % 2 == 1 { second.as_ref().unwrap_or(&app) } else { &app };
        async move { server.consume("max", image(1), &format!("race-{i}")).await }
    }))
    .await;
    assert!(answers.iter().all(|a| a["errors"] == json!([])), "{answers:#?}");
    let listed = top_ups(&app, "max").await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["trigger"], "AUTOMATIC");
    assert_eq!(app.balance("max").await, 900);
    app.assert_ledger_clean().await;
}
