//! Usage events and ledger entries partitioned by month on PostgreSQL
//! (issue 22, migration `m20261208_000001_time_partitions`): a charge, a
//! page, a summary and a refund work across a month's boundary; a row whose
//! month had no partition yet is moved into it when the scheduler makes it;
//! what was recorded before the tables were partitioned is kept, and kept
//! again when they are made whole (the migration undone). On SQLite the same
//! requests answer the same, and where each row lies is checked only on
//! PostgreSQL.
use chrono::{Duration, TimeZone, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};

use crate::events::run_scheduler;
use crate::support::{TestApp, TestDatabase, image};

const PAGE: &str = "query($id: ID!, $after: String) { account(id: $id) {
  usage(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id createdAt credits } } } }";

const BY_MONTH: &str = "query($id: ID!) { account(id: $id) {
  usageSummary(groupBy: [MONTH]) { periodStart generations credits } } }";

/// The partition (table name) of each of `table`'s rows, oldest first;
/// empty on SQLite.
async fn placement(app: &TestApp, table: &str) -> Vec<String> {
    let sql = format!("SELECT tableoid::regclass::text AS part FROM {table} ORDER BY id");
    rows(app, &sql).await.iter().map(|row| row.try_get::<String>("", "part").unwrap()).collect()
}

/// The partitions `table`'s rows lie in, each once, and how many rows lie
/// outside their own month's; nothing on SQLite.
async fn months(app: &TestApp, table: &str) -> (Vec<String>, i64) {
    let mut parts = placement(app, table).await;
    parts.dedup();
    let sql = format!(
        "SELECT COUNT(*) AS misplaced FROM {table} WHERE tableoid::regclass::text <>
           '{table}_' || to_char(to_timestamp(created_at_ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY_MM')"
    );
    let misplaced = rows(app, &sql).await.first().map_or(0, |row| row.try_get::<i64>("", "misplaced").unwrap());
    (parts, misplaced)
}

async fn rows(app: &TestApp, sql: &str) -> Vec<sea_orm::QueryResult> {
    if TestDatabase::postgres_url().is_none() {
        return Vec::new();
    }
    let db = app.app.store.writer_for_tests();
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await.unwrap()
}

/// `names` on PostgreSQL; none on SQLite, where nothing is partitioned.
fn names(names: &[&str]) -> Vec<String> {
    match TestDatabase::postgres_url() {
        Some(_) => names.iter().map(|name| name.to_string()).collect(),
        None => Vec::new(),
    }
}

/// Undoes the partitioning migration (`undo`), or applies it again, under
/// the running server.
async fn migrate(app: &TestApp, undo: bool) {
    let db = app.app.store.writer_for_tests();
    let done = if undo { Migrator::down(db, Some(1)).await } else { Migrator::up(db, None).await };
    done.unwrap();
}

/// Every page of `account`'s usage, one event a page, newest first.
async fn pages(app: &TestApp, account: &str) -> Vec<Value> {
    let (mut nodes, mut after) = (Vec::new(), Value::Null);
    loop {
        let data = app.as_service(PAGE, json!({ "id": account, "after": after })).await;
        let usage = &data["account"]["usage"];
        nodes.extend(usage["nodes"].as_array().unwrap().iter().cloned());
        if usage["pageInfo"]["hasNextPage"] != json!(true) {
            return nodes;
        }
        after = usage["pageInfo"]["endCursor"].clone();
    }
}

// A month after the cutoff (the month after the migration ran): its
// partitions are the scheduler's to make.
#[tokio::test]
async fn a_charge_a_page_a_summary_and_a_refund_work_across_a_month_boundary() {
    let app = TestApp::start().await;
    app.clock.set(Utc.with_ymd_and_hms(2199, 12, 31, 23, 59, 0).unwrap());
    run_scheduler(&app).await;
    let granted = app.grant("p", json!({ "credits": 100, "reason": "boundary", "idempotencyKey": "g" })).await;
    assert_eq!(granted["errors"], json!([]), "{granted}");
    let december = app.consume("p", image(1), "before-midnight").await;
    assert_eq!(december["errors"], json!([]), "{december}");
    app.advance(Duration::minutes(2));
    let january = app.consume("p", image(2), "after-midnight").await;
    assert_eq!(january["errors"], json!([]), "{january}");

    let nodes = pages(&app, "p").await;
    let seen: Vec<(&str, i64)> =
        nodes.iter().map(|n| (n["createdAt"].as_str().unwrap(), n["credits"].as_i64().unwrap())).collect();
    assert_eq!(seen, [("2200-01-01T00:01:00+00:00", 6), ("2199-12-31T23:59:00+00:00", 3)]);
    let summary = app.as_service(BY_MONTH, json!({ "id": "p" })).await["account"]["usageSummary"].clone();
    assert_eq!(
        summary,
        json!([
            { "periodStart": "2199-12-01T00:00:00+00:00", "generations": 1, "credits": 3 },
            { "periodStart": "2200-01-01T00:00:00+00:00", "generations": 1, "credits": 6 },
        ])
    );

    // December's daily credits are gone; January's paid for its charge.
    assert_eq!(app.balance("p").await, 100 + 50 - 6);
    // December's event, found by its id alone, refunded in January: its
    // credits came from December's daily ones, expired, so none come back.
    let refund = app.refund(&december["usageEvent"]["id"]).await;
    assert_eq!(refund["usageEvent"]["status"], "REFUNDED", "{refund}");
    assert_eq!((&refund["refund"]["credits"], &refund["refundedCredits"]), (&json!(3), &json!(0)));
    assert_eq!(app.balance("p").await, 100 + 50 - 6);
    assert_eq!(placement(&app, "usage_events").await, names(&["usage_events_2199_12", "usage_events_2200_01"]));
    // The grants, the charges, the refund and the expiries: each in its month's.
    let ledger = months(&app, "ledger_entries").await;
    assert_eq!(ledger, (names(&["ledger_entries_2199_12", "ledger_entries_2200_01"]), 0));
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn rows_of_a_month_without_its_partition_move_into_it_when_the_scheduler_makes_it() {
    let app = TestApp::start().await;
    app.clock.set(Utc.with_ymd_and_hms(2199, 6, 15, 12, 0, 0).unwrap());
    let charged = app.consume("d", image(1), "no-partition-yet").await;
    assert_eq!(charged["errors"], json!([]), "{charged}");
    assert_eq!(placement(&app, "usage_events").await, names(&["usage_events_default"]));

    run_scheduler(&app).await;
    assert_eq!(months(&app, "usage_events").await, (names(&["usage_events_2199_06"]), 0));
    assert_eq!(months(&app, "ledger_entries").await, (names(&["ledger_entries_2199_06"]), 0));
    let again = app.consume("d", image(1), "into-the-partition").await;
    assert_eq!(again["errors"], json!([]), "{again}");
    let nodes = pages(&app, "d").await;
    let ids: Vec<&Value> = nodes.iter().map(|n| &n["id"]).collect();
    assert_eq!(ids, [&again["usageEvent"]["id"], &charged["usageEvent"]["id"]]);
    assert_eq!(app.balance("d").await, 50 - 3 - 3);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn what_was_recorded_is_kept_when_the_tables_are_partitioned_and_made_whole_again() {
    let app = TestApp::start().await;
    let granted = app.grant("k", json!({ "credits": 40, "reason": "kept", "idempotencyKey": "g" })).await;
    assert_eq!(granted["errors"], json!([]), "{granted}");
    let first = app.consume("k", image(2), "before-1").await;
    app.consume("k", image(1), "before-2").await;

    // Back to one table each, then partitioned again with these rows in it,
    // under the running server.
    migrate(&app, true).await;
    assert_eq!(placement(&app, "usage_events").await, names(&["usage_events"; 2]));
    migrate(&app, false).await;
    let kept: Vec<i64> = pages(&app, "k").await.iter().map(|n| n["credits"].as_i64().unwrap()).collect();
    assert_eq!(kept, [3, 6]);
    let next = app.consume("k", image(1), "after").await;
    assert_eq!(next["errors"], json!([]), "{next}");
    // Ids go on after the kept ones: the same instant, so a repeated id
    // would break the key.
    let ids: Vec<&Value> = [&first, &next].iter().map(|payload| &payload["usageEvent"]["id"]).collect();
    assert_eq!(ids, [&json!("1"), &json!("3")]);
    // The test's clock is before the cutoff: every row in the first partition.
    assert_eq!(placement(&app, "usage_events").await, names(&["usage_events_initial"; 3]));

    migrate(&app, true).await;
    assert_eq!(app.refund(&first["usageEvent"]["id"]).await["refundedCredits"], 6);
    let last = app.consume("k", image(1), "whole-again").await;
    assert_eq!(last["usageEvent"]["id"], "4", "{last}");
    assert_eq!(placement(&app, "usage_events").await, names(&["usage_events"; 4]));
    migrate(&app, false).await;
    assert_eq!(app.balance("k").await, 40 + 50 - 6 - 3 - 3 + 6 - 3);
    // The grant, the day's free credits, four charges, the refund.
    assert_eq!(app.ledger("k").await.len(), 7);
    app.assert_ledger_clean().await;
}
