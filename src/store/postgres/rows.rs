//! The analytics reads as plain SQL through sqlx, bound parameters and one
//! decoded row at a time: what every other query of the store does, and the
//! reference the COPY stream of `reads` is measured against. The benchmark
//! selects it with `CREDITS_POSTGRES_READS=rows`; `docs/performance.md` has
//! both figures.
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
            Value::String(Some(text)) => query.bind(text.as_str()),
            other => return Err(DbErr::Custom(format!("no parameter is bound for {other:?}"))),
        };
    }
    statements.fetch_add(1, Ordering::Relaxed);
    let mut rows = query.fetch(pool);
    while let Some(row) = rows.try_next().await.map_err(|e| DbErr::Query(RuntimeErr::SqlxError(e.into())))? {
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
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;
    use sea_orm::sqlx::postgres::PgPoolOptions;

    use super::*;
    use crate::store::postgres::reads::{PostgresReads, Tuple, with_literals};
    use crate::store::sql::Sql;

    fn pair(columns: &dyn Columns) -> std::result::Result<(i64, String), DbErr> {
        let failed = |e: Error| DbErr::Custom(e.to_string());
        Ok((columns.number(0).map_err(failed)?, columns.text(1).map_err(failed)?.to_owned()))
    }

    #[tokio::test]
    #[ignore = "needs CREDITS_TEST_POSTGRES_URL"]
    async fn plain_rows_read_what_the_copy_stream_reads() {
        let url = std::env::var("CREDITS_TEST_POSTGRES_URL").expect("CREDITS_TEST_POSTGRES_URL is set");
        let pool = PgPoolOptions::new().max_connections(2).connect(&url).await.expect("the test database");
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("SELECT CAST(x AS BIGINT) + ")
            .value(-2i64)
            .push(", CAST(")
            .value(r"it's \ é")
            .push(" AS TEXT) || x FROM generate_series(1, 3) AS x");
        let statements = Arc::new(AtomicU64::new(0));
        let rows = fold(&pool, &statements, sql.statement(), Vec::new(), |all, row| {
            all.push(pair(row)?);
            Ok(())
        })
        .await
        .expect("plain rows");
        let copy = PostgresReads::new(pool, statements.clone())
            .fold(with_literals(&sql).expect("literals"), Vec::new(), |all, tuple: &Tuple<'_>| {
                all.push(pair(tuple)?);
                Ok(())
            })
            .await
            .expect("the COPY stream");
        let expected: Vec<(i64, String)> = (1..=3).map(|x| (x - 2, format!(r"it's \ é{x}"))).collect();
        assert_eq!((&rows, &copy), (&expected, &expected));
        assert_eq!(statements.load(Ordering::Relaxed), 2);
    }
}
