//! The writes of an account transaction that nothing reads back at once
//! (taking from a lot, the rollups, the idempotency record, and at commit
//! the ledger, the events and the account's row) go to the database
//! together: on PostgreSQL as one round trip, just before the next
//! statement or the commit, so a charge holds its account's lock for fewer
//! round trips; on SQLite, which has no round trips, each at once.
//!
//! Every statement of the transaction goes through `Batched`, which sends
//! what is pending first: a read always sees the writes before it, and
//! statements run in the order they were made. Each deferred write says how
//! many rows it must change, and the batch fails (and the transaction rolls
//! back) unless the sum is what the database reports: a lot that no longer
//! has the credits is still refused by the database, as before.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement, StatementBuilder,
};

use crate::store::postgres::inline;

pub struct Batched {
    tx: DatabaseTransaction,
    pending: Mutex<Pending>,
    /// The store's count of statements run: a batch counts as one.
    statements: Arc<AtomicU64>,
}

#[derive(Default)]
struct Pending {
    /// The statements, each with its values written in, `;`-separated.
    sql: String,
    /// The rows they must change, together.
    rows: u64,
}

impl Batched {
    pub fn new(tx: DatabaseTransaction, statements: Arc<AtomicU64>) -> Batched {
        Batched { tx, pending: Mutex::new(Pending::default()), statements }
    }

    /// Writes `statement`, which must change exactly `rows` rows: with the
    /// next statement or the commit on PostgreSQL, now on SQLite.
    pub async fn defer<S: StatementBuilder>(&self, statement: &S, rows: u64) -> Result<(), DbErr> {
        let backend = self.tx.get_database_backend();
        if backend != DbBackend::Postgres {
            let changed = self.tx.execute(statement).await?.rows_affected();
            return expect_rows(rows, changed);
        }
        let sql = inline(&backend.build(statement))?;
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if !pending.sql.is_empty() {
            pending.sql.push_str(";\n");
        }
        pending.sql.push_str(&sql);
        pending.rows += rows;
        Ok(())
    }

    /// Sends what is pending, in one round trip.
    async fn flush(&self) -> Result<(), DbErr> {
        let Pending { sql, rows } = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if sql.is_empty() {
            return Ok(());
        }
        self.statements.fetch_add(1, Ordering::Relaxed);
        let changed = self.tx.execute_unprepared(&sql).await?.rows_affected();
        expect_rows(rows, changed)
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.flush().await?;
        self.tx.commit().await
    }

    /// Rolls back, pending writes and all.
    pub async fn rollback(self) -> Result<(), DbErr> {
        self.tx.rollback().await
    }
}

fn expect_rows(expected: u64, changed: u64) -> Result<(), DbErr> {
    if expected == changed {
        return Ok(());
    }
    // A lot without the credits, a row that is not there: a bug upstream,
    // refused here rather than written.
    Err(DbErr::Custom(format!("the writes were to change {expected} rows and changed {changed}")))
}

#[async_trait::async_trait]
impl ConnectionTrait for Batched {
    fn get_database_backend(&self) -> DbBackend {
        self.tx.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.tx.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.tx.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.flush().await?;
        self.tx.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.flush().await?;
        self.tx.query_all_raw(stmt).await
    }
}
