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
    let run_check = || {
        let options = &app.database.options;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_credits"));
        command.args(["check", "--database-url", &options.url]);
        if let Some(schema) = &options.schema {
            command.args(["--database-schema", schema]);
        }
        command.output().expect("run credits check")
    };
    let clean = run_check();
    assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stdout));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("all consistent"));

    // Money appearing from nowhere: a lot raised behind the ledger's back.
    use sea_orm::ConnectionTrait;
    let db = app.app.store.writer_for_tests();
    db.execute_unprepared("UPDATE credit_lots SET remaining = remaining + 1, granted = granted + 1 WHERE source = 'TOKENS' OR source = 'SUBSCRIPTION'")
        .await
        .unwrap();
    let dirty = run_check();
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
