//! Operating the server: metrics, and a database that goes away and comes back.
use std::time::Duration;

use credits::auth::Role;
use serde_json::json;

use crate::proxy::Proxy;
use crate::support::{TestApp, TestDatabase, graphql_error_code, image};

async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap();
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

/// The value of a series (name and labels exactly as rendered), 0 if absent.
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_operations_charges_credits_errors_and_holds() {
    let app = TestApp::start().await;
    let before = scrape(&app).await;
    app.consume("m", image(2), "c1").await;
    app.consume("m", image(100), "c2").await; // refused: 300 > 44
    app.reserve("m", image(1), "h1", None).await;
    let after = scrape(&app).await;
    let grew = |series: &str, by: f64| {
        let delta = value(&after, series) - value(&before, series);
        assert!(delta >= by, "{series} grew by {delta}, expected at least {by}\n{after}");
    };
    grew(r#"credits_graphql_requests_total{operation="consumeCredits"}"#, 2.0);
    grew(r#"credits_charges_total{outcome="CHARGED"}"#, 1.0);
    grew(r#"credits_charges_total{outcome="INSUFFICIENT_CREDITS"}"#, 1.0);
    grew(r#"credits_user_errors_total{code="INSUFFICIENT_CREDITS"}"#, 1.0);
    grew(r#"credits_moved_total{kind="CONSUME",source="DAILY_FREE"}"#, 6.0);
    grew(r#"credits_moved_total{kind="HOLD",source="DAILY_FREE"}"#, 3.0);
    assert!(value(&after, "credits_holds_open") >= 1.0);
    assert!(after.contains(r#"credits_graphql_request_duration_seconds_bucket{operation="reserveCredits""#));
    assert!(after.contains(r#"credits_db_connections_idle{pool="writer"}"#));
    if TestDatabase::postgres_url().is_none() {
        grew("credits_group_commits_total", 1.0);
        grew("credits_group_commit_writes_total", 3.0);
        assert!(after.contains("credits_group_commit_flush_seconds_bucket"));
    }
}

/// PostgreSQL only: SQLite is a file inside the process and cannot go away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
async fn a_database_that_goes_away_fails_requests_fast_and_comes_back() {
    let url = TestDatabase::postgres_url().expect("CREDITS_TEST_POSTGRES_URL: this test runs on PostgreSQL only");
    let mut database = TestDatabase::new().await;
    let target = "127.0.0.1:5432".parse().unwrap();
    let proxy = Proxy::start(target).await;
    database.options.url = url.replace("127.0.0.1:5432", &proxy.address.to_string());
    database.options.acquire_timeout = Duration::from_secs(1);
    let app = TestApp::start_on(database).await;
    assert_eq!(app.consume("away", image(1), "before").await["errors"], json!([]));

    proxy.cut().await;
    let service = app.token(Role::Service, "s");
    let started = std::time::Instant::now();
    let response = app.graphql(Some(&service), "{ account(id: \"away\") { wallet { balance } } }", json!({})).await;
    assert_eq!(graphql_error_code(&response), json!("SERVICE_UNAVAILABLE"), "{response}");
    assert!(!response.to_string().contains("pool"), "no database detail reaches the client: {response}");
    let consume = "mutation { consumeCredits(input: { accountId: \"away\", idempotencyKey: \"during\",
        generation: { tool: \"upscale\" } }) { errors { code } } }";
    assert_eq!(
        graphql_error_code(&app.graphql(Some(&service), consume, json!({})).await),
        json!("SERVICE_UNAVAILABLE")
    );
    let health = reqwest::get(format!("{}/healthz", app.base_url)).await.unwrap();
    assert_eq!(health.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(8), "failed in {:?}", started.elapsed());

    proxy.restore();
    let health = reqwest::get(format!("{}/healthz", app.base_url)).await.unwrap();
    assert_eq!(health.status(), 200, "the server reconnects by itself");
    assert_eq!(app.consume("away", image(1), "after").await["errors"], json!([]));
    assert_eq!(app.balance("away").await, 44, "two charges of 3, none during the outage");
    app.assert_ledger_clean().await;
}

/// The SQLite writer and readers are separate connections, so an in-memory
/// database (one per connection) would lose every write: refused at start.
#[test]
fn an_in_memory_sqlite_database_is_refused_at_start() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_credits"))
        .args(["check", "--database-url", "sqlite::memory:"])
        .output()
        .expect("run credits check");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("an in-memory SQLite database is not supported"), "{stderr}");
}
