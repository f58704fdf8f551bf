//! `credits demo-data`, run as the real binary against the test database, then
//! read back through the API: the accounts have months of usage and the
//! ledger check is clean.
use chrono::Utc;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn demo_data_fills_accounts_through_the_store() {
    let app = TestApp::start().await;
    let output = app.command(&["demo-data", "--accounts", "5", "--events", "200", "--seed", "7"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo-data failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("ledger check of 5 accounts: clean"), "{stdout}");

    // The data ends now: reading it at the test's own (earlier) time would
    // settle the accounts in their past.
    app.clock.set(Utc::now());
    let query = "query($id: ID!) { account(id: $id) { subscription { plan { code } } } }";
    let mut subscribed = 0;
    for n in 1..=5 {
        let id = format!("demo-{n:04}");
        let ledger = app.ledger(&id).await;
        assert!(ledger.iter().any(|e| e["kind"] == "CONSUME"), "{id} has no usage: {ledger:#?}");
        let data = app.as_service(query, json!({ "id": id })).await;
        subscribed += usize::from(!data["account"]["subscription"].is_null());
    }
    assert!(subscribed > 0, "no demo account ever subscribed");
    app.assert_ledger_clean().await;
}
