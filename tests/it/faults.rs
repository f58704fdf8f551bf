//! Money under faults: a server killed mid-load, and 200 racing operations
//! of every kind from two server processes (one on SQLite).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use credits::auth::Role;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::processes::{ServerProcess, token};
use crate::support::TestDatabase;

const CONSUME: &str = "mutation($input: ConsumeCreditsInput!) { consumeCredits(input: $input) {
    usageEvent { id credits } errors { code } } }";
const WALLET: &str = "query($id: ID!) { account(id: $id) { wallet { balance held } } }";

/// One credit per output: `count` credits.
fn charge(account: &str, key: &str, count: i64) -> Value {
    json!({ "input": { "accountId": account, "idempotencyKey": key,
                       "generation": { "tool": "background-removal", "count": count } } })
}

async fn fund(server: &ServerProcess, account: &str, credits: i64) {
    let grant = "mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { errors { code } } }";
    let input =
        json!({ "input": { "accountId": account, "credits": credits, "reason": "test", "idempotencyKey": "fund" } });
    let data = server.graphql(&token(Role::Admin, "admin"), grant, input).await.expect("grant");
    assert_eq!(data["grantCredits"]["errors"], json!([]));
}

async fn balance(server: &ServerProcess, account: &str) -> i64 {
    let data = server.graphql(&token(Role::Service, "s"), WALLET, json!({ "id": account })).await.expect("wallet");
    data["account"]["wallet"]["balance"].as_i64().unwrap()
}

fn run_check(database: &credits::store::DatabaseOptions) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["check", "--database-url", &database.url, "--database-schema", database.schema.as_deref().unwrap_or("")])
        .output()
        .expect("credits check");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "credits check: {report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_mid_load_loses_nothing_acknowledged_and_charges_nothing_twice() {
    let database = TestDatabase::new().await;
    let mut server = ServerProcess::start(&database.options).await;
    fund(&server, "crash", 100_000).await;
    let before = balance(&server, "crash").await;

    // 16 clients charge 2 credits per request until the server dies under them.
    let service = token(Role::Service, "load");
    let dead = Arc::new(AtomicBool::new(false));
    let server_url = server.base_url.clone();
    let clients = (0..16).map(|client| {
        let (service, dead) = (service.clone(), dead.clone());
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("a client");
        let url = format!("{server_url}/graphql");
        tokio::spawn(async move {
            let (mut attempted, mut acknowledged) = (Vec::new(), Vec::new());
            for i in 0.. {
                let key = format!("load-{client}-{i}");
                attempted.push(key.clone());
                let sent = http
                    .post(&url)
                    .bearer_auth(&service)
                    .json(&json!({ "query": CONSUME, "variables": charge("crash", &key, 2) }))
                    .send()
                    .await;
                let body: Option<Value> = match sent {
                    Ok(response) => response.json().await.ok(),
                    Err(_) => None,
                };
                match body.and_then(|b| b["data"]["consumeCredits"]["usageEvent"]["id"].as_str().map(str::to_owned)) {
                    Some(event) => acknowledged.push((key, event)),
                    None if dead.load(Ordering::SeqCst) => break,
                    None => panic!("a charge failed while the server was up"),
                }
            }
            (attempted, acknowledged)
        })
    });
    let clients: Vec<_> = clients.collect();
    // Let the load run until a few hundred charges are through, then kill;
    // a load that stalls fails the test rather than hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while balance(&server, "crash").await > before - 600 {
        assert!(Instant::now() < deadline, "300 charges did not go through in a minute");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    dead.store(true, Ordering::SeqCst);
    server.kill();
    let mut attempted = Vec::new();
    let mut acknowledged = Vec::new();
    // Every client stops at its first request after the kill.
    let clients = tokio::time::timeout(Duration::from_secs(60), join_all(clients)).await;
    for client in clients.expect("the clients stop once the server is dead") {
        let (a, k) = client.expect("client task");
        attempted.extend(a);
        acknowledged.extend(k);
    }
    // 300 were committed; a few of their answers may not have left before the kill.
    assert!(acknowledged.len() >= 200, "{} charges acknowledged", acknowledged.len());

    // Restarted on the same database: the ledger is consistent, and every
    // acknowledged charge is there under its key.
    let server = ServerProcess::start(&database.options).await;
    run_check(&database.options);
    let charged_before_retries = before - balance(&server, "crash").await;
    assert_eq!(charged_before_retries % 2, 0);
    assert!(charged_before_retries >= 2 * acknowledged.len() as i64, "an acknowledged charge is missing");
    assert!(charged_before_retries <= 2 * attempted.len() as i64);
    for (key, event) in &acknowledged {
        let data = server.graphql(&service, CONSUME, charge("crash", key, 2)).await.expect("retry");
        assert_eq!(data["consumeCredits"]["usageEvent"]["id"].as_str(), Some(event.as_str()), "{key}");
    }
    // Retrying every attempted key charges each exactly once in all.
    for key in &attempted {
        let data = server.graphql(&service, CONSUME, charge("crash", key, 2)).await.expect("retry");
        assert_eq!(data["consumeCredits"]["errors"], json!([]), "{key}");
    }
    assert_eq!(before - balance(&server, "crash").await, 2 * attempted.len() as i64);
    assert!(run_check(&database.options).contains("all consistent"));
}

const RESERVE: &str = "mutation($input: ReserveCreditsInput!) { reserveCredits(input: $input) {
    reservation { id } errors { code } } }";
const CAPTURE: &str = "mutation($id: ID!) { captureReservation(input: { reservationId: $id, credits: 3 }) {
    usageEvent { credits } errors { code } } }";
const RELEASE: &str = "mutation($id: ID!) { releaseReservation(input: { reservationId: $id }) { errors { code } } }";
const REFUND: &str =
    "mutation($id: ID!) { refundUsage(input: { usageEventId: $id }) { refundedCredits errors { code } } }";
const PURCHASE: &str = "mutation($key: String!) { purchaseTokens(input: { accountId: \"race\", packId: \"tokens-500\",
    paymentReference: $key, idempotencyKey: $key }) { lot { granted } errors { code } } }";

/// The five operations of the mix; operation `i` is `MIX[i % 6]`.
const MIX: [&str; 6] = ["charge", "reserve+capture", "reserve+release", "charge+refund", "purchase", "charge"];

/// Runs operation `i` of the mix; returns its kind if every request of it
/// did what it should (else what failed), and what it did to the balance.
async fn mixed_operation(server: &ServerProcess, service: &str, i: usize) -> (String, i64) {
    let key = format!("op-{i}");
    let ok = |data: &Option<Value>, field: &str| data.as_ref().is_some_and(|d| d[field]["errors"] == json!([]));
    let kind = MIX[i % 6];
    let failed = |step: &str, delta: i64| (format!("{kind}: {step} failed"), delta);
    match kind {
        "charge" => {
            let data = server.graphql(service, CONSUME, charge("race", &key, 5)).await;
            if ok(&data, "consumeCredits") { (kind.into(), -5) } else { failed("charge", 0) }
        }
        "reserve+capture" | "reserve+release" => {
            let data = server.graphql(service, RESERVE, charge("race", &key, 5)).await;
            if !ok(&data, "reserveCredits") {
                return failed("reserve", 0);
            }
            let id = data.unwrap()["reserveCredits"]["reservation"]["id"].clone();
            if kind == "reserve+capture" {
                let captured = server.graphql(service, CAPTURE, json!({ "id": id })).await;
                let credits = captured.as_ref().map(|d| d["captureReservation"]["usageEvent"]["credits"].clone());
                if credits == Some(json!(3)) { (kind.into(), -3) } else { failed("capture", -5) }
            } else {
                let released = server.graphql(service, RELEASE, json!({ "id": id })).await;
                if ok(&released, "releaseReservation") { (kind.into(), 0) } else { failed("release", -5) }
            }
        }
        "charge+refund" => {
            let data = server.graphql(service, CONSUME, charge("race", &key, 4)).await;
            if !ok(&data, "consumeCredits") {
                return failed("charge", 0);
            }
            let id = data.unwrap()["consumeCredits"]["usageEvent"]["id"].clone();
            let refunded = server.graphql(service, REFUND, json!({ "id": id })).await;
            let back = refunded.as_ref().and_then(|d| d["refundUsage"]["refundedCredits"].as_i64()).unwrap_or(0);
            if back == 4 { (kind.into(), 0) } else { failed("refund", back - 4) }
        }
        _ => {
            let data = server.graphql(service, PURCHASE, json!({ "key": key })).await;
            if ok(&data, "purchaseTokens") { (kind.into(), 500) } else { failed("purchase", 0) }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_racing_operations_of_every_kind_keep_every_credit() {
    let database = TestDatabase::new().await;
    // No daily free credits: the allowance alone pays, and a day boundary
    // during the run changes nothing.
    let no_daily = [("CREDITS_DAILY_FREE_CREDITS", "0")];
    let first = ServerProcess::start_with(&database.options, &no_daily).await;
    // Two processes share PostgreSQL; SQLite is one process's file.
    let second = match TestDatabase::postgres_url() {
        Some(_) => Some(ServerProcess::start_with(&database.options, &no_daily).await),
        None => None,
    };
    let servers: Vec<&ServerProcess> = [Some(&first), second.as_ref()].into_iter().flatten().collect();
    let subscribe = "mutation { subscribe(input: { accountId: \"race\", planCode: \"STARTER\", paymentReference: \"p\" }) { errors { code } } }";
    let service = token(Role::Service, "race");
    assert_eq!(first.graphql(&service, subscribe, json!({})).await.unwrap()["subscribe"]["errors"], json!([]));
    let before = balance(&first, "race").await;
    assert_eq!(before, 1_000, "the Starter allowance");

    let operations = (0..200).map(|i| mixed_operation(servers[i % servers.len()], &service, i));
    let outcomes = join_all(operations).await;
    // Even if every charge and hold ran before any purchase, release or
    // refund, they would need 67 * 5 + 67 * 5 + 33 * 4 = 802 of the 1,000
    // credits: every operation of the mix succeeds, whatever the order.
    let mut expected = BTreeMap::new();
    for i in 0..200 {
        *expected.entry(MIX[i % 6].to_owned()).or_insert(0) += 1;
    }
    let mut succeeded = BTreeMap::new();
    for (kind, _) in &outcomes {
        *succeeded.entry(kind.clone()).or_insert(0) += 1;
    }
    assert_eq!(succeeded, expected);
    let moved: i64 = outcomes.iter().map(|(_, delta)| delta).sum();
    assert_eq!(moved, -(67 * 5) - 34 * 3 + 33 * 500);
    let data = first.graphql(&service, WALLET, json!({ "id": "race" })).await.unwrap();
    assert_eq!(data["account"]["wallet"], json!({ "balance": before + moved, "held": 0 }));
    assert!(run_check(&database.options).contains("all consistent"));
}
