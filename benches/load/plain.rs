//! The honest limit of issue 22: a charge written directly against the
//! database driver, not through `Store`: lock the account's row, read its
//! lots, take the credit from the first that has it, insert the usage
//! event, the ledger entry and the daily rollup, commit. The same
//! concurrency as the API phases; on PostgreSQL sqlx with the server's pool
//! size, on SQLite rusqlite with one writer connection (WAL, synchronous
//! FULL, a transaction per charge, as the simplest correct program would).
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use credits::store::DatabaseOptions;
use rand::Rng;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::{self, PgPool, Row};

use crate::stats::{CpuMeter, Phase, Tally};
use crate::{BoxError, Target};

const DAY_MS: i64 = 86_400_000;

/// Runs `charge` for each client task until the phase's time is up.
async fn run<F, Fut>(name: &str, target: &Target, charge: F) -> Result<Phase, BoxError>
where
    F: Fn(String, String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let meter = CpuMeter::start(None);
    let started = Instant::now();
    let deadline = started + target.duration;
    let mut tasks = Vec::new();
    for task in 0..target.clients {
        let (accounts, charge) = (target.accounts.clone(), charge.clone());
        let prefix = format!("{}-plain-{name}-{task}", target.run);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let account = accounts[rand::rng().random_range(0..accounts.len())].clone();
                n += 1;
                let sent = Instant::now();
                match charge(account, format!("{prefix}-{n}")).await {
                    Ok(()) => tally.committed(sent.elapsed()),
                    Err(code) => tally.failed(code),
                }
            }
            tally
        }));
    }
    Phase::gather(&format!("plain SQL, {name}"), started, tasks, meter).await
}

pub async fn drive(name: &str, options: &DatabaseOptions, target: &Target) -> Result<Phase, BoxError> {
    if options.url.starts_with("postgres") {
        let pool = postgres_pool(options).await?;
        let phase = run(name, target, move |account, key| {
            let pool = pool.clone();
            async move { postgres_charge(&pool, &account, &key).await.map_err(|e| format!("sqlx {e}")) }
        })
        .await;
        return phase;
    }
    let path = options.url.trim_start_matches("sqlite://").split('?').next().unwrap_or_default().to_owned();
    let connection = rusqlite::Connection::open(&path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.busy_timeout(Duration::from_secs(5))?;
    let connection = Arc::new(Mutex::new(connection));
    run(name, target, move |account, key| {
        let connection = connection.clone();
        async move {
            let charged = tokio::task::spawn_blocking(move || {
                let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
                sqlite_charge(&mut connection, &account, &key)
            });
            charged.await.map_err(|e| e.to_string())?.map_err(|e| format!("rusqlite {e}"))
        }
    })
    .await
}

async fn postgres_pool(options: &DatabaseOptions) -> Result<PgPool, BoxError> {
    let mut connect: PgConnectOptions = options.url.parse()?;
    if let Some(schema) = &options.schema {
        connect = connect.options([("search_path", schema.as_str())]);
    }
    Ok(PgPoolOptions::new().max_connections(options.max_connections).connect_with(connect).await?)
}

async fn postgres_charge(pool: &PgPool, account: &str, key: &str) -> Result<(), sqlx::Error> {
    let now = Utc::now().timestamp_millis();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE").bind(account).fetch_one(&mut *tx).await?;
    let lots = sqlx::query(
        "SELECT id, remaining FROM credit_lots WHERE account_id = $1 AND remaining > 0 \
         AND (expires_at_ms IS NULL OR expires_at_ms > $2) ORDER BY expires_at_ms NULLS LAST, created_at_ms, id",
    )
    .bind(account)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    let lot: i64 = lots.first().ok_or(sqlx::Error::RowNotFound)?.try_get("id")?;
    let balance: i64 = lots.iter().map(|row| row.try_get::<i64, _>("remaining").unwrap_or(0)).sum::<i64>() - 1;
    sqlx::query("UPDATE credit_lots SET remaining = remaining - 1 WHERE id = $1 AND remaining >= 1")
        .bind(lot)
        .execute(&mut *tx)
        .await?;
    let event: i64 = sqlx::query(
        "INSERT INTO usage_events (account_id, created_at_ms, studio, tool, model_id, count, units, options, credits, \
         status, idempotency_key, lot_split) VALUES ($1, $2, 'IMAGE', 'background-removal', NULL, 1, NULL, '[]', 1, \
         'CHARGED', $3, $4) RETURNING id",
    )
    .bind(account)
    .bind(now)
    .bind(key)
    .bind(format!("[[{lot},1]]"))
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    sqlx::query(
        "INSERT INTO ledger_entries (account_id, created_at_ms, kind, lot_id, amount, balance_after, usage_event_id, \
         reservation_id, reference) VALUES ($1, $2, 'CONSUME', $3, -1, $4, $5, NULL, $6)",
    )
    .bind(account)
    .bind(now)
    .bind(lot)
    .bind(balance)
    .bind(event)
    .bind(key)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO usage_rollups (account_id, bucket_ms, bucket_start_ms, studio, tool, model_id, events, outputs, \
         credits) VALUES ($1, $2, $3, 'IMAGE', 'background-removal', '', 1, 1, 1) ON CONFLICT (account_id, bucket_ms, \
         bucket_start_ms, studio, tool, model_id) DO UPDATE SET events = usage_rollups.events + 1, \
         outputs = usage_rollups.outputs + 1, credits = usage_rollups.credits + 1",
    )
    .bind(account)
    .bind(DAY_MS)
    .bind(now.div_euclid(DAY_MS) * DAY_MS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

fn sqlite_charge(connection: &mut rusqlite::Connection, account: &str, key: &str) -> rusqlite::Result<()> {
    let now = Utc::now().timestamp_millis();
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.query_row("SELECT id FROM accounts WHERE id = ?1", [account], |_| Ok(()))?;
    let (lot, balance) = {
        let mut lots = tx.prepare_cached(
            "SELECT id, remaining FROM credit_lots WHERE account_id = ?1 AND remaining > 0 \
             AND (expires_at_ms IS NULL OR expires_at_ms > ?2) ORDER BY expires_at_ms IS NULL, expires_at_ms, created_at_ms, id",
        )?;
        let rows: Vec<(i64, i64)> = lots
            .query_map(rusqlite::params![account, now], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let lot = rows.first().ok_or(rusqlite::Error::QueryReturnedNoRows)?.0;
        (lot, rows.iter().map(|(_, remaining)| remaining).sum::<i64>() - 1)
    };
    tx.execute("UPDATE credit_lots SET remaining = remaining - 1 WHERE id = ?1 AND remaining >= 1", [lot])?;
    tx.execute(
        "INSERT INTO usage_events (account_id, created_at_ms, studio, tool, model_id, count, units, options, credits, \
         status, idempotency_key, lot_split) VALUES (?1, ?2, 'IMAGE', 'background-removal', NULL, 1, NULL, '[]', 1, \
         'CHARGED', ?3, ?4)",
        rusqlite::params![account, now, key, format!("[[{lot},1]]")],
    )?;
    let event = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO ledger_entries (account_id, created_at_ms, kind, lot_id, amount, balance_after, usage_event_id, \
         reservation_id, reference) VALUES (?1, ?2, 'CONSUME', ?3, -1, ?4, ?5, NULL, ?6)",
        rusqlite::params![account, now, lot, balance, event, key],
    )?;
    tx.execute(
        "INSERT INTO usage_rollups (account_id, bucket_ms, bucket_start_ms, studio, tool, model_id, events, outputs, \
         credits) VALUES (?1, ?2, ?3, 'IMAGE', 'background-removal', '', 1, 1, 1) ON CONFLICT (account_id, bucket_ms, \
         bucket_start_ms, studio, tool, model_id) DO UPDATE SET events = events + 1, outputs = outputs + 1, \
         credits = credits + 1",
        rusqlite::params![account, DAY_MS, now.div_euclid(DAY_MS) * DAY_MS],
    )?;
    tx.commit()
}
