//! The ledger: paging through it, and the check that lots and ledger agree.
use serde_json::json;

use crate::support::{TestApp, graphql_error_code, image};

const PAGE: &str = "query($after: String) { account(id: \"p\") { ledger(first: 3, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { id kind amount } } } } }";

#[tokio::test]
async fn the_ledger_pages_newest_first_with_opaque_cursors() {
    let app = TestApp::start().await;
    for i in 0..6 {
        app.consume("p", image(1), &format!("c{i}")).await;
    }
    let mut after = serde_json::Value::Null;
    let mut seen = Vec::new();
    loop {
        let data = app.as_service(PAGE, json!({ "after": after })).await;
        let ledger = &data["account"]["ledger"];
        assert_eq!(ledger["totalCount"], 7, "one daily grant and six charges");
        seen.extend(
            ledger["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().parse::<i64>().unwrap()),
        );
        if ledger["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = ledger["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 7);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first: {seen:?}");
    let forged =
        app.graphql(Some(&app.token(credits::auth::Role::Service, "s")), PAGE, json!({ "after": "bm9wZQ" })).await;
    assert_eq!(graphql_error_code(&forged), json!("INVALID_INPUT"));
}

#[tokio::test]
async fn the_check_command_reports_a_clean_ledger_and_catches_tampering() {
    let app = TestApp::start().await;
    app.subscribe("k", "STARTER", "pay-1").await;
    app.consume("k", image(5), "c1").await;
    let clean = app.command(&["check"]).await;
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("all consistent"));

    // Money appearing from nowhere: a lot raised behind the ledger's back.
    use sea_orm::ConnectionTrait;
    let db = app.app.store.writer_for_tests();
    db.execute_unprepared("UPDATE credit_lots SET remaining = remaining + 1, granted = granted + 1 WHERE source = 'TOKENS' OR source = 'SUBSCRIPTION'")
        .await
        .unwrap();
    let dirty = app.command(&["check"]).await;
    assert_eq!(dirty.status.code(), Some(1), "{}", String::from_utf8_lossy(&dirty.stdout));
    let report = String::from_utf8_lossy(&dirty.stdout);
    assert!(report.contains("account k: lot"), "{report} {}", String::from_utf8_lossy(&dirty.stderr));
    let data = app.as_admin("{ ledgerCheck { clean problems { accountId problem } } }", json!({})).await;
    assert_eq!(data["ledgerCheck"]["clean"], false, "{data}");
    assert_eq!(data["ledgerCheck"]["problems"][0]["accountId"], "k");
}

/// The checks that tie usage events and holds to the ledger notice a charge
/// or a hold changed behind the ledger's back.
#[tokio::test]
async fn the_check_catches_charges_and_holds_that_disagree_with_the_ledger() {
    let app = TestApp::start().await;
    let charged = app.consume("t", image(2), "c1").await["usageEvent"]["id"].clone();
    let held = app.reserve("t", image(1), "h1", None).await["reservation"]["id"].clone();
    let captured = app.reserve("t", image(1), "h2", None).await["reservation"]["id"].clone();
    let captured_event = app.capture(&captured, None).await["usageEvent"]["id"].clone();
    let check = || app.as_admin("{ ledgerCheck { clean problems { accountId problem } } }", json!({}));
    assert_eq!(check().await["ledgerCheck"]["clean"], true);

    use sea_orm::ConnectionTrait;
    let db = app.app.store.writer_for_tests();
    for sql in [
        format!("UPDATE usage_events SET credits = credits + 1 WHERE id = {}", charged.as_str().unwrap()),
        format!("UPDATE usage_events SET credits = credits + 1 WHERE id = {}", captured_event.as_str().unwrap()),
        format!("UPDATE reservations SET credits = credits + 1 WHERE id = {}", held.as_str().unwrap()),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    let data = check().await;
    let problems: Vec<&str> =
        data["ledgerCheck"]["problems"].as_array().unwrap().iter().map(|p| p["problem"].as_str().unwrap()).collect();
    let expected = [
        format!("usage event {}: charged 7 credits, the ledger took 6", charged.as_str().unwrap()),
        format!("usage event {}: charged 4 credits, the ledger took 3", captured_event.as_str().unwrap()),
        format!("hold {}: should hold 4 credits, the ledger holds 3", captured.as_str().unwrap()),
        format!("hold {}: should hold 4 credits, the ledger holds 3", held.as_str().unwrap()),
    ];
    for problem in &expected {
        assert!(problems.contains(&problem.as_str()), "{problem} not in {problems:?}");
    }
    assert_eq!(problems.len(), expected.len(), "{problems:?}");
}

#[tokio::test]
async fn the_ledger_filters_by_kind_and_date_alone_and_combined() {
    let app = TestApp::start().await;
    let charged = |payload: serde_json::Value| -payload["usageEvent"]["credits"].as_i64().unwrap();
    let first = charged(app.consume("k", image(1), "day-1").await);
    app.advance(chrono::Duration::days(1));
    let second = charged(app.consume("k", image(2), "day-2").await);
    let query = "query($filter: LedgerFilterInput) { account(id: \"k\") { ledger(first: 100, filter: $filter) {
        totalCount edges { node { kind amount createdAt } } } } }";
    let entries = |filter: serde_json::Value| {
        let app = &app;
        async move {
            let ledger = app.as_service(query, json!({ "filter": filter })).await["account"]["ledger"].clone();
            let nodes: Vec<serde_json::Value> =
                ledger["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
            assert_eq!(ledger["totalCount"], nodes.len(), "totalCount counts what the filter selects");
            nodes
        }
    };
    let all = entries(serde_json::Value::Null).await;
    let day_2 = "2026-03-11T00:00:00Z";
    let on_day_2 = |e: &&serde_json::Value| e["createdAt"].as_str().unwrap() >= day_2;
    let consumes = entries(json!({ "kinds": ["CONSUME"] })).await;
    assert_eq!(consumes.iter().map(|e| e["amount"].as_i64().unwrap()).collect::<Vec<_>>(), vec![second, first]);
    let from_day_2 = entries(json!({ "from": day_2 })).await;
    assert_eq!(from_day_2, all.iter().filter(on_day_2).cloned().collect::<Vec<_>>());
    let before_day_2 = entries(json!({ "to": day_2 })).await;
    assert_eq!(before_day_2, all.iter().filter(|e| !on_day_2(e)).cloned().collect::<Vec<_>>());
    assert!(!from_day_2.is_empty() && !before_day_2.is_empty());
    let combined = entries(json!({ "kinds": ["CONSUME", "REFUND"], "from": day_2 })).await;
    assert_eq!(
        combined.iter().map(|e| (e["kind"].as_str().unwrap(), e["amount"].as_i64().unwrap())).collect::<Vec<_>>(),
        vec![("CONSUME", second)]
    );
}
