//! Reads of many rows on SQLite, straight through rusqlite.
//!
//! sqlx hands each SQLite row from its connection's thread to the caller
//! on its own, copying every value: for the 11,000 rollup rows of a year's
//! DAY x MODEL summary that took 15 ms, where SQLite itself needs 1.6 ms
//! (measured on the usage benchmark's database). The analytics queries
//! run here instead, on a blocking thread with a connection of their own.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_orm::{ConnAcquireErr, DbErr, Statement};
use tokio::sync::Semaphore;

use super::writer::{bind, error, open};

/// Prepared statements kept per connection: the analytics queries differ
/// by the dimensions grouped and the filters set.
const STATEMENT_CACHE: usize = 64;

/// Read-only connections, opened when needed and kept for the next read;
/// at most `max_connections` at once, as for the sqlx readers.
pub struct SqliteReads {
    path: std::path::PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    turns: Arc<Semaphore>,
    acquire_timeout: Duration,
    statements: Arc<AtomicU64>,
}

impl SqliteReads {
    pub fn new(
        path: std::path::PathBuf,
        busy_timeout: Duration,
        max_connections: u32,
        acquire_timeout: Duration,
        statements: Arc<AtomicU64>,
    ) -> Arc<SqliteReads> {
        let turns = Arc::new(Semaphore::new(max_connections.max(1) as usize));
        Arc::new(SqliteReads { path, busy_timeout, idle: Mutex::new(Vec::new()), turns, acquire_timeout, statements })
    }

    /// Every row of `statement` given to `each` with `state`, on the read's
    /// thread as it is read; then `state`.
    pub async fn fold<S: Send + 'static>(
        self: &Arc<Self>,
        statement: Statement,
        state: S,
        each: impl FnMut(&mut S, &rusqlite::Row<'_>) -> rusqlite::Result<()> + Send + 'static,
    ) -> Result<S, DbErr> {
        // Waiting longer than for a pooled connection fails the same way.
        let turn = tokio::time::timeout(self.acquire_timeout, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        let reads = self.clone();
        tokio::task::spawn_blocking(move || {
            // Held until the read ends, even if its caller stopped waiting.
            let _turn = turn;
            reads.fold_now(&statement, state, each)
        })
        .await
        .map_err(|e| DbErr::Custom(format!("a SQLite read stopped: {e}")))?
    }

    fn fold_now<S>(
        &self,
        statement: &Statement,
        mut state: S,
        mut each: impl FnMut(&mut S, &rusqlite::Row<'_>) -> rusqlite::Result<()>,
    ) -> Result<S, DbErr> {
        let values: Option<Vec<_>> = statement.values.as_ref().map(|v| v.0.iter().map(bind).collect()).transpose()?;
        let connection = self.checkout()?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        let read = || -> rusqlite::Result<()> {
            let mut prepared = connection.prepare_cached(&statement.sql)?;
            let mut rows = prepared.query(rusqlite::params_from_iter(values.unwrap_or_default()))?;
            while let Some(row) = rows.next()? {
                each(&mut state, row)?;
            }
            Ok(())
        };
        let read = read();
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        read.map_err(error)?;
        Ok(state)
    }

    fn checkout(&self) -> Result<Connection, DbErr> {
        if let Some(connection) = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop() {
            return Ok(connection);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = open(&self.path, flags, self.busy_timeout)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::DbBackend;

    use super::*;

    fn reads(max_connections: u32) -> (tempfile::TempDir, Arc<SqliteReads>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reads.db");
        let setup = Connection::open(&path).unwrap();
        setup
            .execute_batch("CREATE TABLE t (n INTEGER, s TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');")
            .unwrap();
        let statements = Arc::new(AtomicU64::new(0));
        let reads = SqliteReads::new(path, Duration::from_secs(1), max_connections, Duration::from_secs(5), statements);
        (dir, reads)
    }

    fn at_least(n: i64) -> Statement {
        Statement::from_sql_and_values(DbBackend::Sqlite, "SELECT n, s FROM t WHERE n >= ? ORDER BY n", [n.into()])
    }

    #[tokio::test]
    async fn rows_come_back_bound_and_counted() {
        let (_dir, reads) = reads(2);
        let each = |rows: &mut Vec<_>, r: &rusqlite::Row<'_>| {
            rows.push((r.get::<_, i64>(0)?, r.get::<_, String>(1)?));
            Ok(())
        };
        let rows = reads.fold(at_least(2), Vec::new(), each).await.unwrap();
        assert_eq!(rows, vec![(2, "b".to_owned()), (3, "c".to_owned())]);
        assert_eq!(reads.statements.load(Ordering::Relaxed), 1);
        assert_eq!(reads.idle.lock().unwrap().len(), 1, "the connection is kept for the next read");
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_waiting_past_the_acquire_timeout_fails_as_unavailable() {
        let (_dir, reads) = reads(1);
        let held = reads.turns.clone().acquire_owned().await.unwrap();
        let numbers = |rows: &mut Vec<i64>, r: &rusqlite::Row<'_>| {
            rows.push(r.get(0)?);
            Ok(())
        };
        let refused = reads.fold(at_least(0), Vec::new(), numbers).await;
        assert!(matches!(refused, Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))), "{refused:?}");
        assert_eq!(reads.statements.load(Ordering::Relaxed), 0);
        drop(held);
        assert_eq!(reads.fold(at_least(0), Vec::new(), numbers).await.unwrap(), vec![1, 2, 3]);
    }
}
