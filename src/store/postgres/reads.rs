//! Analytics reads on PostgreSQL: the statement with bound parameters
//! through sqlx, each row given to the fold as it arrives, read by position
//! without SeaORM's `QueryResult` in between (which copies every value: an
//! earlier session measured a year's summary at 22-25 ms through it). A
//! binary COPY stream parsed here, its values written in as escaped
//! literals, was measured against this in one run and bought at most 14 %
//! on one figure, so it went with its 400 lines (`docs/performance.md`).
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::TryStreamExt;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::{self, PgPool, Row as _};
use sea_orm::{DbErr, RuntimeErr, Statement, Value};

use crate::error::{Error, Result};
use crate::store::engine::Columns;

/// Every row of `statement` given to `each` with `state` as it arrives.
pub async fn fold<S>(
    pool: &PgPool,
    statements: &Arc<AtomicU64>,
    statement: Statement,
    mut state: S,
    mut each: impl FnMut(&mut S, &PgRow) -> std::result::Result<(), DbErr>,
) -> std::result::Result<S, DbErr> {
    // The text is the store's own; every value is a bound parameter.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str()));
    for value in statement.values.iter().flat_map(|values| values.0.iter()) {
        query = match value {
            Value::BigInt(Some(n)) => query.bind(*n),
            // A LIMIT, as SeaORM builds one.
            Value::BigUnsigned(Some(n)) => query.bind(i64::try_from(*n).unwrap_or(i64::MAX)),
            Value::String(Some(text)) => query.bind(text.as_str()),
            other => return Err(DbErr::Custom(format!("no parameter is bound for {other:?}"))),
        };
    }
    statements.fetch_add(1, Ordering::Relaxed);
    // The rows from the connection's own stream: the pool's wraps it in one
    // more, which moves each row through another lock and another poll.
    let failed = |e: sqlx::Error| DbErr::Query(RuntimeErr::SqlxError(e.into()));
    let mut connection = pool.acquire().await.map_err(failed)?;
    let mut rows = query.fetch(&mut *connection);
    while let Some(row) = rows.try_next().await.map_err(failed)? {
        each(&mut state, &row)?;
    }
    Ok(state)
}

impl Columns for PgRow {
    fn number(&self, i: usize) -> Result<i64> {
        self.try_get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn text(&self, i: usize) -> Result<&str> {
        self.try_get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn optional_number(&self, i: usize) -> Result<Option<i64>> {
        self.try_get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn optional_text(&self, i: usize) -> Result<Option<&str>> {
        self.try_get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;
    use sea_orm::sqlx::postgres::PgPoolOptions;

    use super::*;
    use crate::store::sql::Sql;

    async fn pool() -> PgPool {
        let url = std::env::var("CREDITS_TEST_POSTGRES_URL").expect("CREDITS_TEST_POSTGRES_URL is set");
        PgPoolOptions::new().max_connections(1).connect(&url).await.expect("the test database")
    }

    fn pair(all: &mut Vec<(i64, String)>, row: &PgRow) -> std::result::Result<(), DbErr> {
        let failed = |e: Error| DbErr::Custom(e.to_string());
        all.push((Columns::number(row, 0).map_err(failed)?, Columns::text(row, 1).map_err(failed)?.to_owned()));
        Ok(())
    }

    #[tokio::test]
    #[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
    async fn rows_are_read_by_position_with_every_value_bound() {
        let pool = pool().await;
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("SELECT CAST(x AS BIGINT) + ")
            .value(-2i64)
            .push(", CAST(")
            .value(r"it's \ é")
            .push(" AS TEXT) || x FROM generate_series(1, 3) AS x");
        let statements = Arc::new(AtomicU64::new(0));
        let rows = fold(&pool, &statements, sql.statement(), Vec::new(), pair).await.expect("the rows");
        let expected: Vec<(i64, String)> = (1..=3).map(|x| (x - 2, format!(r"it's \ é{x}"))).collect();
        assert_eq!(rows, expected);
        assert_eq!(statements.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    #[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
    async fn a_failed_read_leaves_the_connection_answering_the_next_query() {
        let pool = pool().await;
        let statements = Arc::new(AtomicU64::new(0));
        let read = |sql: &str| {
            fold(&pool, &statements, Statement::from_string(sea_orm::DbBackend::Postgres, sql), Vec::new(), pair)
        };
        // Refused before its first row, and failing after four rows.
        assert!(read("SELECT nothing FROM nowhere").await.is_err());
        assert!(read("SELECT CAST(10 / (5 - x) AS BIGINT), 'a' FROM generate_series(1, 9) AS x").await.is_err());
        // A column of another type than asked (an integer is not a bigint).
        assert!(read("SELECT 1, 'a'").await.is_err());
        let rows = read("SELECT CAST(x AS BIGINT), 'a' FROM generate_series(1, 2) AS x").await.expect("the rows");
        assert_eq!(rows, vec![(1, "a".to_owned()), (2, "a".to_owned())]);
    }
}
