//! Bulk writing: multi-row INSERTs, and indexes dropped during the load.
use futures_util::{StreamExt, stream};
use sea_orm::sea_query::{Expr, PostgresQueryBuilder, Query, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::BoxError;

/// Rows per INSERT statement (about 12 kB of SQL), and statements per
/// transaction. sqlx 0.9.0 leaves Nagle's algorithm on for TCP sockets
/// (transact-rs/sqlx#4335, fixed upstream by #4336): a message over ~16 kB
/// to PostgreSQL then waits ~40 ms for a delayed ACK, so statements stay small.
const ROWS_PER_INSERT: usize = 100;
const INSERTS_PER_TRANSACTION: usize = 500;

/// Drops the secondary indexes of the two tables; returns the SQL that makes
/// them again, as the database itself gives it (so it follows the migrations).
pub async fn drop_indexes(db: &DatabaseConnection) -> Result<Vec<String>, BoxError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE schemaname = current_schema()
             AND tablename IN ('usage_events', 'usage_rollups') AND indexname NOT LIKE '%_pkey' ORDER BY 1"
        }
        _ => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
             AND tbl_name IN ('usage_events', 'usage_rollups') ORDER BY 1"
        }
    };
    let mut create = Vec::new();
    for row in db.query_all_raw(Statement::from_string(backend, sql)).await? {
        let (name, sql): (String, String) = (row.try_get("", "name")?, row.try_get("", "sql")?);
        db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        create.push(sql);
    }
    Ok(create)
}

/// Sends rows `0..count` as multi-row INSERTs, many of them per transaction;
/// on PostgreSQL two transactions at a time (the server does the work).
/// Rows carry their key, so the data is the same however they interleave; a
/// table with an `id` column gets its sequence moved past the rows' ids.
pub async fn insert_rows<F>(
    db: &DatabaseConnection,
    table: &str,
    columns: &[&str],
    count: usize,
    row: F,
) -> Result<(), BoxError>
where
    F: Fn(usize) -> Vec<Value>,
{
    let backend = db.get_database_backend();
    let chunk = ROWS_PER_INSERT * INSERTS_PER_TRANSACTION;
    let transaction = |first: usize| {
        let row = &row;
        async move {
            let tx = db.begin().await?;
            for start in (first..count.min(first + chunk)).step_by(ROWS_PER_INSERT) {
                let mut insert = Query::insert();
                insert.into_table(table.to_owned()).columns(columns.iter().map(|c| (*c).to_owned()));
                for i in start..count.min(start + ROWS_PER_INSERT) {
                    insert.values_panic(row(i).into_iter().map(Expr::from));
                }
                // Values inlined (sea-query escapes them): faster to send
                // than a thousand bound parameters.
                let sql = match backend {
                    DbBackend::Postgres => insert.to_string(PostgresQueryBuilder),
                    _ => insert.to_string(SqliteQueryBuilder),
                };
                tx.execute_raw(Statement::from_string(backend, sql)).await?;
            }
            tx.commit().await?;
            Ok::<(), BoxError>(())
        }
    };
    let parallel = if backend == DbBackend::Postgres { 2 } else { 1 };
    let mut transactions = stream::iter((0..count).step_by(chunk)).map(transaction).buffer_unordered(parallel);
    while let Some(done) = transactions.next().await {
        done?;
    }
    if backend == DbBackend::Postgres && columns.first() == Some(&"id") {
        let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
