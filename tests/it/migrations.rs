//! Upgrades keep what was recorded: a database written under an earlier
//! schema answers the same through GraphQL once the server has migrated it,
//! and goes on recording into what it kept.
use chrono::{DateTime, Duration, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::support::{TestApp, TestDatabase, image, start_time};

/// The migrations applied before the rollups were keyed by their bucket.
const BEFORE_ROLLUP_KEY: u32 = 4;

const BY_DAY_AND_MODEL: &str = "query($id: ID!, $tz: String, $filter: UsageFilter) { account(id: $id) {
  usageSummary(groupBy: [DAY, MODEL], timeZone: $tz, filter: $filter) {
    periodStart model { id } generations outputs credits } } }";

/// Whole days from the 1st to the 10th of March in `tz` at `offset`: read
/// from the daily rollups in UTC, from the hourly ones in Paris.
async fn by_day_and_model(app: &TestApp, account: &str, tz: &str, offset: &str) -> Vec<(String, Value, i64, i64, i64)> {
    let filter =
        json!({ "from": format!("2026-03-01T00:00:00{offset}"), "to": format!("2026-03-11T00:00:00{offset}") });
    let data = app.as_service(BY_DAY_AND_MODEL, json!({ "id": account, "tz": tz, "filter": filter })).await;
    data["account"]["usageSummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let count = |field: &str| b[field].as_i64().unwrap();
            let start = b["periodStart"].as_str().unwrap().to_owned();
            (start, b["model"]["id"].clone(), count("generations"), count("outputs"), count("credits"))
        })
        .collect()
}

#[tokio::test]
async fn rollups_written_before_they_were_keyed_by_bucket_survive_the_upgrade() {
    let database = TestDatabase::new().await;
    let db = credits::store::connect_for_tests(&database.options).await.unwrap();
    Migrator::up(&db, Some(BEFORE_ROLLUP_KEY)).await.unwrap();
    // Usage on three days before the upgrade, as the earlier schema kept it:
    // numbered rows, one per UTC hour and one per UTC day.
    let recorded = [(3, 10, (1, 2, 6)), (1, 15, (2, 5, 15)), (0, 9, (1, 1, 3))];
    let mut rows = Vec::new();
    for (days_before, hour, (events, outputs, credits)) in recorded {
        let day = (start_time().date_naive() - Duration::days(days_before)).and_hms_opt(0, 0, 0).unwrap().and_utc();
        let hour = day + Duration::hours(hour);
        for (bucket_ms, start) in [(3_600_000, hour), (86_400_000, day)] {
            let (id, start) = (rows.len() + 1, start.timestamp_millis());
            rows.push(format!(
                "({id}, 'upgraded', {bucket_ms}, {start}, 'IMAGE', 'text-to-image', 'sdxl', {events}, {outputs}, {credits})"
            ));
        }
    }
    db.execute_unprepared(&format!(
        "INSERT INTO usage_rollups (id, account_id, bucket_ms, bucket_start_ms, studio, tool, model_id,
                                    events, outputs, credits) VALUES {}",
        rows.join(", ")
    ))
    .await
    .unwrap();
    db.close().await.unwrap();

    let app = TestApp::start_on(database).await;
    assert_days(&app, (1, 1, 3)).await;
    // A charge today adds to the day's row kept from before, and to a new
    // hourly one.
    let charged = app.consume("upgraded", image(2), "after-upgrade").await;
    assert_eq!(charged["usageEvent"]["credits"], json!(6), "{charged}");
    assert_days(&app, (2, 3, 9)).await;
}

/// The upgraded account's days, in UTC and in Paris: the two days recorded
/// before the upgrade as they were, and today as `today`.
async fn assert_days(app: &TestApp, today: (i64, i64, i64)) {
    // A bucket starts at the local midnight, given in UTC.
    let bucket = |day: &str, offset: &str, counts: (i64, i64, i64)| {
        let local = DateTime::parse_from_rfc3339(&format!("2026-03-{day}T00:00:00{offset}")).unwrap();
        (local.with_timezone(&Utc).to_rfc3339(), json!("sdxl"), counts.0, counts.1, counts.2)
    };
    for (tz, offset) in [("UTC", "+00:00"), ("Europe/Paris", "+01:00")] {
        assert_eq!(
            by_day_and_model(app, "upgraded", tz, offset).await,
            vec![bucket("07", offset, (1, 2, 6)), bucket("09", offset, (2, 5, 15)), bucket("10", offset, today)],
            "{tz}"
        );
    }
}

/// The migrations applied before the catalog had versions.
const BEFORE_CATALOG_VERSIONS: u32 = 6;

#[tokio::test]
async fn usage_recorded_before_catalog_versions_gets_version_1_and_the_seed_price() {
    let database = TestDatabase::new().await;
    let db = credits::store::connect_for_tests(&database.options).await.unwrap();
    Migrator::up(&db, Some(BEFORE_CATALOG_VERSIONS)).await.unwrap();
    let at = start_time().timestamp_millis() - 3_600_000;
    db.execute_unprepared(&format!(
        "INSERT INTO usage_events (account_id, created_at_ms, studio, tool, model_id, count, units, options, credits,
                                   status, idempotency_key, lot_split)
         VALUES ('upgraded', {at}, 'IMAGE', 'text-to-image', 'sdxl', 2, NULL, '[]', 6, 'CHARGED', 'old-1', '[]'),
                ('upgraded', {at} + 1, 'IMAGE', 'upscale', NULL, 1, NULL, '[]', 2, 'CHARGED', 'old-2', '[]')"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
    let app = TestApp::start_on(database).await;
    let query = "query($id: ID!) { account(id: $id) { usage(first: 10) { edges { node {
        tool credits unitPrice catalogVersion } } } } }";
    let data = app.as_service(query, json!({ "id": "upgraded" })).await;
    let events: Vec<Value> =
        data["account"]["usage"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(
        events,
        [
            json!({ "tool": "upscale", "credits": 2, "unitPrice": 2000, "catalogVersion": 1 }),
            json!({ "tool": "text-to-image", "credits": 6, "unitPrice": 3000, "catalogVersion": 1 }),
        ]
    );
}

/// The migrations applied before refunds had causes and parts.
const BEFORE_REFUND_CAUSES: u32 = 6;

#[tokio::test]
async fn events_refunded_before_refunds_had_causes_become_one_refund_of_other() {
    let database = TestDatabase::new().await;
    let db = credits::store::connect_for_tests(&database.options).await.unwrap();
    Migrator::up(&db, Some(BEFORE_REFUND_CAUSES)).await.unwrap();
    // A promo of 50, a charge of 6 and its refund, as the earlier schema kept
    // them: the rollups had taken the refunded generation out again.
    let charged_ms = (start_time() - Duration::days(1)).timestamp_millis();
    let refunded_ms = charged_ms + 60_000;
    let (hour_ms, day_ms) = (charged_ms - charged_ms % 3_600_000, charged_ms - charged_ms % 86_400_000);
    for sql in [
        format!("INSERT INTO accounts (id, created_at_ms) VALUES ('old', {charged_ms})"),
        format!(
            "INSERT INTO credit_lots (id, account_id, source, granted, remaining, expires_at_ms, pro_eligible,
                                      reference, created_at_ms)
             VALUES (1, 'old', 'PROMO', 50, 50, NULL, FALSE, 'welcome', {charged_ms})"
        ),
        format!(
            "INSERT INTO usage_events (id, account_id, created_at_ms, studio, tool, model_id, count, units, options,
                                       credits, status, idempotency_key, lot_split)
             VALUES (1, 'old', {charged_ms}, 'IMAGE', 'text-to-image', 'sdxl', 2, NULL, '[]', 6, 'REFUNDED', 'k',
                     '[[1,6]]')"
        ),
        format!(
            "INSERT INTO ledger_entries (account_id, created_at_ms, kind, lot_id, amount, balance_after,
                                         usage_event_id, reservation_id, reference)
             VALUES ('old', {charged_ms}, 'PROMO_GRANT', 1, 50, 50, NULL, NULL, 'welcome'),
                    ('old', {charged_ms}, 'CONSUME', 1, -6, 44, 1, NULL, 'k'),
                    ('old', {refunded_ms}, 'REFUND', 1, 6, 50, 1, NULL, 'refund')"
        ),
        format!(
            "INSERT INTO usage_rollups (account_id, bucket_ms, bucket_start_ms, studio, tool, model_id,
                                        events, outputs, credits)
             VALUES ('old', 3600000, {hour_ms}, 'IMAGE', 'text-to-image', 'sdxl', 0, 0, 0),
                    ('old', 86400000, {day_ms}, 'IMAGE', 'text-to-image', 'sdxl', 0, 0, 0)"
        ),
    ] {
        db.execute_unprepared(&sql).await.unwrap();
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        // The ids written above: what the server inserts next comes after them.
        for table in ["credit_lots", "usage_events"] {
            db.execute_unprepared(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)")).await.unwrap();
        }
    }
    db.close().await.unwrap();

    let app = TestApp::start_on(database).await;
    let query = "query($filter: UsageFilter) { account(id: \"old\") {
        usage(first: 5) { edges { node { status refundedCredits refunds { credits cause createdAt } } } }
        usageSummary(groupBy: [DAY], filter: $filter) { generations credits refundedCredits } } }";
    let data = app.as_service(query, json!({})).await;
    let event = &data["account"]["usage"]["edges"][0]["node"];
    let refunded_at = DateTime::from_timestamp_millis(refunded_ms).unwrap();
    assert_eq!(
        event,
        &json!({ "status": "REFUNDED", "refundedCredits": 6,
                 "refunds": [{ "credits": 6, "cause": "OTHER", "createdAt": refunded_at.to_rfc3339() }] })
    );
    let summary = json!([{ "generations": 0, "credits": 0, "refundedCredits": 6 }]);
    assert_eq!(data["account"]["usageSummary"], summary);
    let other = app.as_service(query, json!({ "filter": { "refundCauses": ["TIMEOUT"] } })).await;
    assert_eq!(other["account"]["usageSummary"], json!([]), "no refund of that cause, nothing charged");
    app.assert_ledger_clean().await;
}
