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
use sea_orm::{DbErr, Statement};

use super::sqlite_writer::{bind, error};

/// Prepared statements kept per connection: the analytics queries differ
/// by the dimensions grouped and the filters set.
const STATEMENT_CACHE: usize = 64;

/// Read-only connections, opened when needed and kept for the next read.
pub struct SqliteReads {
    path: std::path::PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    statements: Arc<AtomicU64>,
}

impl SqliteReads {
    pub fn new(path: std::path::PathBuf, busy_timeout: Duration, statements: Arc<AtomicU64>) -> Arc<SqliteReads> {
        Arc::new(SqliteReads { path, busy_timeout, idle: Mutex::new(Vec::new()), statements })
    }

    /// Every row of `statement`, each turned into a `T` by `row`.
    pub async fn query<T: Send + 'static>(
        self: &Arc<Self>,
        statement: Statement,
        row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<Vec<T>, DbErr> {
        let reads = self.clone();
        tokio::task::spawn_blocking(move || reads.query_now(&statement, row))
            .await
            .map_err(|e| DbErr::Custom(format!("a SQLite read stopped: {e}")))?
    }

    fn query_now<T>(
        &self,
        statement: &Statement,
        row: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, DbErr> {
        let connection = self.checkout()?;
        self.statements.fetch_add(1, Ordering::Relaxed);
        let values: Option<Vec<_>> = statement.values.as_ref().map(|v| v.0.iter().map(bind).collect()).transpose()?;
        let rows = {
            let mut prepared = connection.prepare_cached(&statement.sql).map_err(error)?;
            let params = rusqlite::params_from_iter(values.unwrap_or_default());
            prepared.query_map(params, row).map_err(error)?.collect::<rusqlite::Result<Vec<T>>>().map_err(error)
        };
        self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(connection);
        rows
    }

    fn checkout(&self) -> Result<Connection, DbErr> {
        if let Some(connection) = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop() {
            return Ok(connection);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(error)?;
        connection.busy_timeout(self.busy_timeout).map_err(error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}
