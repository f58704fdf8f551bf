//! Several processes on one database: a change reaches every process
//! within a second, and no charge mixes two versions or misses a committed
//! change.
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Running, charge, fund, quoted_credits, set_price};
use crate::support::{TestApp, TestDatabase, image};

#[tokio::test]
#[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
async fn two_processes_agree_on_a_price_within_a_second_of_a_change() {
    TestDatabase::postgres_url().expect("CREDITS_TEST_POSTGRES_URL: this test runs on PostgreSQL only");
    let app = TestApp::start().await;
    let other = app.second_instance().await;
    let _watching = Running(other.app.spawn_catalog_watcher());
    assert_eq!(quoted_credits(&other, image(1)).await, 3);

    set_price(&app, "text-to-image", Some("sdxl"), 4_000, None).await;
    let changed = Instant::now();
    // A quote reads only the snapshot: this waits for the notification.
    while quoted_credits(&other, image(1)).await != 4 {
        assert!(changed.elapsed() < Duration::from_secs(1), "the other process still quotes the old price");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let version: i64 = other.data(None, "{ catalogVersion }", json!({})).await["catalogVersion"].as_i64().unwrap();
    assert_eq!(version, 2);
}

#[tokio::test]
#[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
async fn a_charge_on_another_process_right_after_a_change_pays_the_new_price() {
    TestDatabase::postgres_url().expect("CREDITS_TEST_POSTGRES_URL: this test runs on PostgreSQL only");
    let app = TestApp::start().await;
    // No watcher, no notification heard: the charge's own transaction sees the version.
    let other = app.second_instance().await;
    fund(&app, "alice", 100).await;
    assert_eq!(charge(&other, "alice", image(1), "before").await["usageEvent"]["unitPrice"], 3000);
    set_price(&app, "text-to-image", Some("sdxl"), 6_000, None).await;
    let event = charge(&other, "alice", image(1), "after").await["usageEvent"].clone();
    assert_eq!(
        (event["unitPrice"].clone(), event["catalogVersion"].clone(), event["credits"].clone()),
        (json!(6000), json!(2), json!(6))
    );
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn charges_racing_a_price_change_each_use_one_version_wholly() {
    let app = TestApp::start().await;
    let other = if TestDatabase::postgres_url().is_some() { Some(app.second_instance().await) } else { None };
    let accounts: Vec<String> = (0..20).map(|i| format!("racer-{i}")).collect();
    for account in &accounts {
        fund(&app, account, 1_000).await;
    }
    let charges = (0..200).map(|i| {
        let server = if i % 2 == 1 { other.as_ref().unwrap_or(&app) } else { &app };
        let account = accounts[i % accounts.len()].clone();
        async move { charge(server, &account, image(2), &format!("race-{i}")).await }
    });
    let change = async {
        tokio::task::yield_now().await;
        set_price(&app, "text-to-image", Some("sdxl"), 6_000, None).await
    };
    let (payloads, version) = tokio::join!(futures_util::future::join_all(charges), change);
    assert_eq!(version, 2);
    let mut by_version = [0, 0];
    for payload in &payloads {
        assert_eq!(payload["errors"], json!([]), "{payload:#}");
        let event = &payload["usageEvent"];
        let (unit_price, credits) = match event["catalogVersion"].as_i64() {
            Some(1) => (3_000, 6),
            Some(2) => (6_000, 12),
            other => panic!("version {other:?}: {event:#}"),
        };
        assert_eq!(
            (event["unitPrice"].as_i64(), event["credits"].as_i64()),
            (Some(unit_price), Some(credits)),
            "{event:#}"
        );
        by_version[usize::from(event["catalogVersion"] == 2)] += 1;
    }
    assert_eq!(by_version.iter().sum::<i32>(), 200);
    // Every charge after the change's answer uses it.
    let late = charge(other.as_ref().unwrap_or(&app), &accounts[0], image(2), "late").await;
    assert_eq!(late["usageEvent"]["catalogVersion"], 2);
    app.assert_ledger_clean().await;
}
