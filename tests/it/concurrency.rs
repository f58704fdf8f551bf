//! Money under concurrency: the database guards every credit.
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, pro_image};

/// 1 credit per output: 5 outputs cost 5, so the 50 daily credits pay for exactly 10.
fn five_credits() -> Value {
    json!({ "tool": "background-removal", "count": 5 })
}

async fn race(servers: &[&TestApp], account: &str, attempts: usize) -> (usize, usize) {
    race_charges(servers, account, attempts, five_credits(), "INSUFFICIENT_CREDITS").await
}

/// `attempts` charges of `generation` at once, spread over `servers`: how
/// many were charged, and how many refused with `refusal`.
pub async fn race_charges(
    servers: &[&TestApp],
    account: &str,
    attempts: usize,
    generation: Value,
    refusal: &str,
) -> (usize, usize) {
    let keys: Vec<String> = (0..attempts).map(|i| format!("race-{i}")).collect();
    let charges =
        keys.iter().enumerate().map(|(i, key)| servers[i % servers.len()].consume(account, generation.clone(), key));
    let payloads = join_all(charges).await;
    let charged = payloads.iter().filter(|p| p["errors"] == json!([])).count();
    let refused = payloads.iter().filter(|p| error_code(p) == json!(refusal)).count();
    (charged, refused)
}

async fn assert_exactly_ten_charged(app: &TestApp, account: &str, outcome: (usize, usize)) {
    assert_eq!(outcome, (10, 54), "64 racing charges with room for 10");
    assert_eq!(app.balance(account).await, 0);
    let consumed = app.ledger(account).await.iter().filter(|e| e["kind"] == "CONSUME").count();
    assert_eq!(consumed, 10);
    app.assert_ledger_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_racing_charges_with_room_for_ten_charge_exactly_ten() {
    let app = TestApp::start().await;
    app.wallet("hot").await;
    let outcome = race(&[&app], "hot", 64).await;
    assert_exactly_ten_charged(&app, "hot", outcome).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_database_never_overspend() {
    let app = TestApp::start().await;
    let other = app.second_instance().await;
    // The account is created by the race itself, from both servers at once.
    let outcome = race(&[&app, &other], "shared", 64).await;
    assert_exactly_ten_charged(&app, "shared", outcome).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_retries_of_one_key_charge_once() {
    let app = TestApp::start().await;
    let other = app.second_instance().await;
    let retries = (0..16).map(|i| [&app, &other][i % 2].consume("retry", five_credits(), "same-key"));
    let payloads = join_all(retries).await;
    let ids: Vec<&Value> = payloads.iter().map(|p| &p["usageEvent"]["id"]).collect();
    assert!(ids.iter().all(|id| *id == ids[0] && !id.is_null()), "{payloads:?}");
    assert_eq!(app.balance("retry").await, 45);
    app.assert_ledger_clean().await;
}

/// Refusals that happen inside the transaction (after the account was read
/// and settled: a new day's credits granted, yesterday's expired) race with
/// charges that go through. On SQLite they share group commits: each
/// refusal rolls back alone and every charge stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusals_racing_with_charges_leave_every_charge_whole() {
    let app = TestApp::start().await;
    let (app, accounts) = (&app, (0..8).map(|i| format!("mixed-{i}")).collect::<Vec<_>>());
    for account in &accounts {
        app.consume(account, five_credits(), &format!("{account}-first")).await;
    }
    app.advance(chrono::Duration::days(1));
    let attempts = (0..64).map(|i| {
        let account = accounts[i % 8].clone();
        let (generation, key, code) = match (i / 8) % 4 {
            0 => (five_credits(), format!("ok-{i}"), json!(null)),
            1 => (pro_image(1), format!("pro-{i}"), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION")),
            2 => (
                json!({ "tool": "background-removal", "count": 100 }),
                format!("big-{i}"),
                json!("INSUFFICIENT_CREDITS"),
            ),
            _ => (json!({ "tool": "upscale" }), format!("{account}-first"), json!("IDEMPOTENCY_CONFLICT")),
        };
        async move { (app.consume(&account, generation, &key).await, code) }
    });
    for (payload, code) in join_all(attempts).await {
        assert_eq!(error_code(&payload), code, "{payload}");
    }
    for account in &accounts {
        // Today's 50 free credits and two racing charges of 5.
        assert_eq!(app.balance(account).await, 40, "{account}");
        let consumed = app.ledger(account).await.iter().filter(|e| e["kind"] == "CONSUME").count();
        assert_eq!(consumed, 3, "{account}");
    }
    app.assert_ledger_clean().await;
}
