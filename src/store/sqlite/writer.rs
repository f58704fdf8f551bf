//! The SQLite write connection of the group commit, run on the calling
//! thread. sqlx gives each SQLite connection a thread of its own, and every
//! statement is a round trip to it: two thread wake-ups, about 45 µs on a
//! small VM, for statements that take SQLite a few µs. A charge is a dozen
//! statements, so that hop, not SQLite, bounded the one writer.
//!
//! Here `AccountTx` still builds its statements with SeaORM, as on
//! PostgreSQL, and they run through rusqlite (on the same SQLite library
//! sqlx links) on the group commit's thread. SeaORM accepts rows it did not
//! fetch itself only through its proxy or its mock connection; the proxy
//! does not compile in SeaORM 2.0.4, so this is a `MockDatabaseTrait`: each
//! statement runs here, and SeaORM's `MockDatabase` merely turns the rows
//! into its `QueryResult`s. Rows come back typed by their declared column
//! type (`integer` as i64, `boolean` as bool, text as String), which is how
//! the entities of the tables written here are typed.
//!
//! SeaORM cannot hear of an error from BEGIN, COMMIT or ROLLBACK through
//! this interface, so a failed savepoint statement is kept, and the group
//! commit rolls back the whole batch it happened in.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use columns::Columns;
use rusqlite::config::DbConfig;
use rusqlite::types::Value as Sqlite;
use rusqlite::{CachedStatement, Connection, OpenFlags};
use sea_orm::sea_query::Value;
use sea_orm::{
    DatabaseConnection, DatabaseConnectionType, DbBackend, DbErr, ExecResult, MockDatabase, MockDatabaseConnection,
    MockDatabaseTrait, MockExecResult, QueryResult, RuntimeErr, Statement, Transaction,
};

/// Statements kept prepared: every statement an account transaction runs.
const STATEMENT_CACHE: usize = 256;
/// How often committed pages move from the WAL into the database file.
/// Spread charges append about nine pages each to the WAL, 40,000 pages a
/// second under the load benchmark: a checkpoint each second fell behind,
/// the WAL reached `WAL_PAGES_MAX`, and the writer checkpointed inside its
/// commits four times a second (26-41 ms each). The more often, the smaller
/// each checkpoint's flush of the database file, which the commits' flushes
/// of the WAL queue behind: spread p99 35-40 ms at 1 s, 29-31 at 50 ms,
/// 24 at 10 ms. Idle, a checkpoint finds nothing to do.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(10);
/// WAL pages (4 kB) after which the writer checkpoints by itself.
const WAL_PAGES_MAX: i64 = 10_000;

/// One connection, shared by SeaORM (statements) and the group commit
/// (the batch's transaction).
#[derive(Clone)]
pub struct SqliteWriter {
    state: Arc<Mutex<State>>,
    statements: Arc<AtomicU64>,
}

struct State {
    connection: Connection,
    /// 0 outside a transaction, 1 in the batch's, more in savepoints.
    depth: usize,
    /// A BEGIN, COMMIT or ROLLBACK (of a savepoint) that failed.
    failure: Option<DbErr>,
    /// The result columns of the statements run, by statement text.
    columns: Columns,
}

impl std::fmt::Debug for SqliteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriter")
    }
}

pub(super) fn error(error: rusqlite::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(format!("sqlite: {error}")))
}

/// Opens `path` with `flags`, waiting up to `busy_timeout` for another
/// connection's lock (the writer, its checkpointer and the analytics reads).
pub(super) fn open(path: &std::path::Path, flags: OpenFlags, busy_timeout: Duration) -> Result<Connection, DbErr> {
    let connection = Connection::open_with_flags(path, flags).map_err(error)?;
    connection.busy_timeout(busy_timeout).map_err(error)?;
    // Without the planner's stability guarantee, SQLite reads a bound
    // `LIMIT ?` while planning, and binding that parameter again (even to
    // the same value) expires the prepared statement: every `.one()` SeaORM
    // sends was parsed and planned anew, a fifth of the writer's time.
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(error)?;
    Ok(connection)
}

impl SqliteWriter {
    /// Opens `path` as sqlx opens it: WAL, `synchronous=FULL` (a commit is on
    /// disk before anyone hears of it), foreign keys on, and a busy timeout
    /// for other processes writing to the same file. `statements` counts
    /// what runs, as the sqlx connections' callback does.
    pub fn open(path: &std::path::Path, busy_timeout: Duration, statements: Arc<AtomicU64>) -> Result<Self, DbErr> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = open(path, flags, busy_timeout)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(error)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(error)?;
        connection.pragma_update(None, "foreign_keys", "ON").map_err(error)?;
        // The checkpointer thread moves the WAL into the database; the writer
        // does it itself only if that thread falls far behind.
        connection.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_MAX).map_err(error)?;
        // 32 MB of page cache instead of SQLite's 2 MB: spread charges touch
        // index pages all over the lots, events, ledger and rollups (+5 %
        // consumes/s on the load benchmark, 35 -> 70 MB peak RSS).
        connection.pragma_update(None, "cache_size", -32_768).map_err(error)?;
        // Each account transaction runs in a savepoint, whose journal keeps
        // the first copy of every page it changes; past 64 kB SQLite spills
        // that journal to a temporary file, and a spread charge changes
        // about fifteen pages. In memory: spread 3,060 -> 3,650 charges/s,
        // hot account 3,820 -> 5,140/s.
        connection.pragma_update(None, "temp_store", "MEMORY").map_err(error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let state =
            Arc::new(Mutex::new(State { connection, depth: 0, failure: None, columns: Columns::new(STATEMENT_CACHE) }));
        start_checkpointer(path, busy_timeout, Arc::downgrade(&state))?;
        Ok(SqliteWriter { state, statements })
    }

    /// A SeaORM connection whose statements run on this one.
    pub fn connection(&self) -> DatabaseConnection {
        DatabaseConnectionType::MockDatabaseConnection(Arc::new(MockDatabaseConnection::new(self.clone()))).into()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Only one thread uses it; a panic while it was held left nothing in
        // it half-done (SQLite's own state is in SQLite).
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens the batch's transaction, taking the database's write lock.
    pub fn begin_batch(&self) -> Result<(), DbErr> {
        let mut state = self.state();
        state.failure = None;
        run_kept(&state.connection, "BEGIN IMMEDIATE").map_err(error)?;
        state.depth = 1;
        Ok(())
    }

    /// Commits the batch; rolls it back instead if a savepoint statement
    /// failed in it. Ok only if all of it is on disk.
    pub fn commit_batch(&self) -> Result<(), DbErr> {
        let mut state = self.state();
        state.depth = 0;
        if let Some(failure) = state.failure.take() {
            let _ = run_kept(&state.connection, "ROLLBACK");
            return Err(failure);
        }
        run_kept(&state.connection, "COMMIT").map_err(|commit| {
            // SQLite may still hold the transaction open: end it.
            let _ = run_kept(&state.connection, "ROLLBACK");
            error(commit)
        })
    }

    /// True if a savepoint statement failed since the batch began.
    pub fn failed(&self) -> bool {
        self.state().failure.is_some()
    }

    /// Runs BEGIN, COMMIT or ROLLBACK at the current depth. After a failed
    /// one the depth is unknown: nothing more runs until the batch ends.
    fn control(&self, statement: fn(usize) -> Control) {
        let mut state = self.state();
        if state.failure.is_some() {
            return;
        }
        let (statements, change) = statement(state.depth);
        for sql in &statements {
            self.statements.fetch_add(1, Ordering::Relaxed);
            if let Err(failed) = run_kept(&state.connection, sql) {
                tracing::error!(%failed, %sql, "a transaction statement failed");
                state.failure.get_or_insert(error(failed));
                return;
            }
        }
        state.depth = state.depth.saturating_add_signed(change);
    }

    fn run<T>(
        &self,
        statement: &Statement,
        work: impl FnOnce(&Connection, &mut CachedStatement<'_>, &mut Columns) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        self.statements.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        let State { connection, failure, columns, .. } = &mut *state;
        // A savepoint that failed to open would leave this statement in the
        // batch's transaction, or in none: refuse until the batch ends.
        if let Some(failure) = failure {
            return Err(DbErr::Custom(format!("the write batch failed: {failure}")));
        }
        let mut prepared = connection.prepare_cached(&statement.sql).map_err(error)?;
        for (index, value) in statement.values.iter().flat_map(|values| values.0.iter()).enumerate() {
            prepared.raw_bind_parameter(index + 1, bind(value)?).map_err(error)?;
        }
        let result = work(connection, &mut prepared, columns);
        prepared.clear_bindings();
        result
    }
}

/// Moves committed pages from the WAL into the database file beside the
/// writer, on a connection and a thread of its own. A PASSIVE checkpoint
/// never waits for the writer nor stops it, whereas SQLite's automatic one
/// runs inside the commit that crosses its threshold and holds up every
/// transaction queued behind it. Measured under the load benchmark: 3,300 ->
/// 3,900-4,300 charges/s; the p99 rises (27 -> 34 ms) because the
/// checkpoint's flush of the database file and the commits' flushes of the
/// WAL share the disk (on tmpfs the p99 is 21 ms). How often it runs is
/// `CHECKPOINT_EVERY`; it stops once the writer is gone.
fn start_checkpointer(path: &std::path::Path, busy_timeout: Duration, writer: Weak<Mutex<State>>) -> Result<(), DbErr> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = open(path, flags, busy_timeout)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while writer.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                // Kept prepared: it runs a hundred times a second.
                let checkpoint = connection.prepare_cached("PRAGMA wal_checkpoint(PASSIVE)");
                if let Err(failed) = checkpoint.and_then(|mut checkpoint| checkpoint.query_row([], |_| Ok(()))) {
                    tracing::warn!(%failed, "a WAL checkpoint failed; the next one tries again");
                }
            }
        })
        .map_err(|e| DbErr::Custom(format!("the SQLite checkpoint thread: {e}")))?;
    Ok(())
}

/// What BEGIN, COMMIT or ROLLBACK run at a depth: the statements, in
/// order, and how the depth changes. At depth 0 there is nothing to end.
type Control = (Vec<String>, isize);

fn begin_statement(depth: usize) -> Control {
    match depth {
        0 => (vec!["BEGIN IMMEDIATE".into()], 1),
        depth => (vec![format!("SAVEPOINT sp{}", depth + 1)], 1),
    }
}

fn commit_statement(depth: usize) -> Control {
    match depth {
        0 => (Vec::new(), 0),
        1 => (vec!["COMMIT".into()], -1),
        depth => (vec![format!("RELEASE sp{depth}")], -1),
    }
}

fn rollback_statement(depth: usize) -> Control {
    match depth {
        0 => (Vec::new(), 0),
        1 => (vec!["ROLLBACK".into()], -1),
        depth => (vec![format!("ROLLBACK TO sp{depth}"), format!("RELEASE sp{depth}")], -1),
    }
}

/// Runs one of the writer's own statements (BEGIN, SAVEPOINT, RELEASE,
/// COMMIT, ROLLBACK), kept prepared like the others instead of parsed anew
/// each time (`execute_batch`). That saves little (about 5 K instructions
/// a charge, against 80 K for the commit's own work), but it is the same
/// path as every other statement.
fn run_kept(connection: &Connection, sql: &str) -> rusqlite::Result<()> {
    connection.prepare_cached(sql)?.raw_execute().map(drop)
}

pub(super) fn bind(value: &Value) -> Result<Sqlite, DbErr> {
    let number = |n: Option<i64>| n.map_or(Sqlite::Null, Sqlite::Integer);
    Ok(match value {
        Value::Bool(b) => number(b.map(i64::from)),
        Value::TinyInt(n) => number(n.map(i64::from)),
        Value::SmallInt(n) => number(n.map(i64::from)),
        Value::Int(n) => number(n.map(i64::from)),
        Value::BigInt(n) => number(*n),
        Value::TinyUnsigned(n) => number(n.map(i64::from)),
        Value::SmallUnsigned(n) => number(n.map(i64::from)),
        Value::Unsigned(n) => number(n.map(i64::from)),
        Value::BigUnsigned(n) => match n {
            Some(n) => Sqlite::Integer(i64::try_from(*n).map_err(|_| DbErr::Custom(format!("{n} overflows")))?),
            None => Sqlite::Null,
        },
        Value::Float(x) => x.map_or(Sqlite::Null, |x| Sqlite::Real(f64::from(x))),
        Value::Double(x) => x.map_or(Sqlite::Null, Sqlite::Real),
        Value::String(s) => s.clone().map_or(Sqlite::Null, Sqlite::Text),
        Value::Char(c) => c.map_or(Sqlite::Null, |c| Sqlite::Text(c.to_string())),
        Value::Bytes(b) => b.clone().map_or(Sqlite::Null, Sqlite::Blob),
        Value::Json(j) => j.as_ref().map_or(Sqlite::Null, |j| Sqlite::Text(j.to_string())),
        other => return Err(DbErr::Custom(format!("the SQLite writer does not bind {other:?}"))),
    })
}

impl MockDatabaseTrait for SqliteWriter {
    fn execute(&mut self, _counter: usize, statement: Statement) -> Result<ExecResult, DbErr> {
        let result = self.run(&statement, |connection, prepared, _| {
            let rows_affected = prepared.raw_execute().map_err(error)? as u64;
            Ok(MockExecResult { last_insert_id: connection.last_insert_rowid() as u64, rows_affected })
        })?;
        MockDatabase::new(DbBackend::Sqlite).append_exec_results([result]).execute(0, statement)
    }

    fn query(&mut self, _counter: usize, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let rows = self.run(&statement, |_, prepared, columns| {
            let columns = columns.of(&statement.sql, prepared);
            let mut rows = prepared.raw_query();
            let mut found = Vec::new();
            while let Some(row) = rows.next().map_err(error)? {
                let mut values = BTreeMap::new();
                for (index, (name, declared)) in columns.iter().enumerate() {
                    values.insert(name.clone(), declared.read(row.get_ref(index).map_err(error)?)?);
                }
                found.push(values);
            }
            Ok(found)
        })?;
        MockDatabase::new(DbBackend::Sqlite).append_query_results([rows]).query(0, statement)
    }

    fn begin(&mut self) {
        self.control(begin_statement);
    }

    fn commit(&mut self) {
        self.control(commit_statement);
    }

    fn rollback(&mut self) {
        self.control(rollback_statement);
    }

    fn drain_transaction_log(&mut self) -> Vec<Transaction> {
        Vec::new()
    }

    fn get_database_backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    fn ping(&self) -> Result<(), DbErr> {
        Ok(())
    }
}

mod columns;
#[cfg(test)]
mod tests;
