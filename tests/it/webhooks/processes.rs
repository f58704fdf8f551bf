//! Real server processes: deliveries outlive a killed process, and two
//! processes on one PostgreSQL make each attempt once between them.
use std::collections::BTreeMap;
use std::time::Duration;

use credits::auth::Role;
use serde_json::{Value, json};

use super::Receiver;
use crate::processes::{ServerProcess, token};
use crate::support::TestDatabase;

/// Real time, as these servers run on the system clock.
const PROCESS_WAIT: Duration = Duration::from_secs(40);
const SHORT_TIMEOUT: [(&str, &str); 1] = [("CREDITS_WEBHOOK_TIMEOUT_SECONDS", "1")];

async fn admin(server: &ServerProcess, query: &str, variables: Value) -> Value {
    server.graphql(&token(Role::Admin, "admin"), query, variables).await.expect("an answer")
}

async fn endpoint(server: &ServerProcess, receiver: &Receiver) {
    let query = "mutation($url: String!) { createWebhookEndpoint(input: { url: $url, eventTypes: [\"subscription.started\"] }) {
        secret errors { code } } }";
    let created = admin(server, query, json!({ "url": receiver.url })).await;
    receiver.trust(created["createWebhookEndpoint"]["secret"].as_str().expect("a secret"));
}

async fn subscribe(server: &ServerProcess, account: &str) {
    let query = "mutation($account: ID!) { subscribe(input: { accountId: $account, planCode: \"STARTER\",
        paymentReference: $account }) { errors { code } } }";
    let data = server.graphql(&token(Role::Service, "backend"), query, json!({ "account": account })).await;
    assert_eq!(data.expect("an answer")["subscribe"]["errors"], json!([]));
}

async fn deliveries(server: &ServerProcess) -> Vec<Value> {
    let query = "{ events(first: 100, filter: { types: [\"subscription.started\"] }) { edges { node { id
        deliveries { status attempts } } } } }";
    let data = admin(server, query, json!({})).await;
    data["events"]["edges"].as_array().unwrap().iter().map(|edge| edge["node"].clone()).collect()
}

/// Waits (bounded) until every delivery of the log has succeeded.
async fn all_succeeded(server: &ServerProcess) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PROCESS_WAIT;
    loop {
        let events = deliveries(server).await;
        if events.iter().all(|e| e["deliveries"].as_array().unwrap().iter().all(|d| d["status"] == "SUCCEEDED")) {
            return events;
        }
        assert!(tokio::time::Instant::now() < deadline, "not all delivered: {events:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_attempt_cut_off_by_a_killed_process_is_made_again_after_a_restart() {
    let database = TestDatabase::new().await;
    let receiver = Receiver::start().await;
    receiver.hang_next(1);
    let mut first = ServerProcess::start_with(&database.options, &SHORT_TIMEOUT).await;
    endpoint(&first, &receiver).await;
    subscribe(&first, "survivor").await;
    // The first attempt is under way (the receiver holds it): kill the process now.
    let cut_off = receiver.wait_for(1, PROCESS_WAIT).await[0].clone();
    first.kill();

    let second = ServerProcess::start_with(&database.options, &SHORT_TIMEOUT).await;
    let got = receiver.wait_for(2, PROCESS_WAIT).await;
    assert!(got.iter().all(|r| r.verified), "{got:#?}");
    assert_eq!((&got[1].webhook_id, &got[1].body), (&cut_off.webhook_id, &cut_off.body));
    let events = all_succeeded(&second).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["deliveries"],
        json!([{ "status": "SUCCEEDED", "attempts": 2 }]),
        "the cut-off attempt counts"
    );
}

#[tokio::test]
#[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
async fn two_processes_on_one_postgres_make_each_attempt_once() {
    if TestDatabase::postgres_url().is_none() {
        return;
    }
    let database = TestDatabase::new().await;
    let receiver = Receiver::start().await;
    let servers = [
        ServerProcess::start_with(&database.options, &SHORT_TIMEOUT).await,
        ServerProcess::start_with(&database.options, &SHORT_TIMEOUT).await,
    ];
    endpoint(&servers[0], &receiver).await;
    const ACCOUNTS: usize = 30;
    // Every first attempt fails, so each event is attempted twice.
    receiver.fail_next(ACCOUNTS);
    for n in 0..ACCOUNTS {
        subscribe(&servers[n % 2], &format!("pair-{n}")).await;
    }
    let got = receiver.wait_for(2 * ACCOUNTS, PROCESS_WAIT).await;
    let events = all_succeeded(&servers[1]).await;
    assert_eq!(events.len(), ACCOUNTS);
    for event in &events {
        assert_eq!(event["deliveries"], json!([{ "status": "SUCCEEDED", "attempts": 2 }]), "{event:#}");
    }
    let got = receiver.received().len().max(got.len());
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    for request in receiver.received() {
        assert!(request.verified);
        *per_id.entry(request.webhook_id).or_default() += 1;
    }
    assert_eq!(got, 2 * ACCOUNTS, "{per_id:?}");
    assert!(per_id.values().all(|n| *n == 2), "each attempt once: {per_id:?}");
}

#[tokio::test]
async fn events_tail_prints_each_event_as_a_json_line() {
    use std::io::BufRead;
    let app = crate::support::TestApp::start().await;
    super::subscribe(&app, "tailed").await;
    let options = &app.database.options;
    let mut tail = std::process::Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["events", "tail", "--from-start", "--type", "subscription.started"])
        .env("CREDITS_DATABASE_URL", &options.url)
        .env("CREDITS_DATABASE_SCHEMA", options.schema.clone().unwrap_or_default())
        .env("CREDITS_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn credits events tail");
    let stdout = tail.stdout.take().expect("stdout");
    let first = tokio::task::spawn_blocking(move || std::io::BufReader::new(stdout).lines().next());
    let line = tokio::time::timeout(PROCESS_WAIT, first).await.expect("a line in time").unwrap();
    let _ = tail.kill();
    let _ = tail.wait();
    let event: Value = serde_json::from_str(&line.expect("a line").expect("text")).expect("a JSON line");
    assert_eq!((&event["type"], &event["accountId"]), (&json!("subscription.started"), &json!("tailed")));
    assert!(event["sequence"].as_i64().is_some_and(|n| n >= 1), "{event}");
    assert!(event["id"].as_str().unwrap().starts_with("evt_") && event["data"]["planCode"] == "STARTER", "{event}");
}
