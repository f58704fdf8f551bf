//! Queries and transactions. Money is guarded here by the database: every
//! operation on an account runs in one transaction that holds the account
//! (a row lock on PostgreSQL, the single writer connection on SQLite).
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, TransactionTrait,
};
use tokio::sync::broadcast;

use crate::domain::catalog::Catalog;
use crate::domain::rules::Rules;
use crate::error::Result;

mod account_tx;
pub mod analytics;
pub mod audit;
mod catalog;
mod gates;
mod grants;
mod group_commit;
pub mod holds;
mod idempotency;
pub mod keyset;
pub mod ledger;
mod lots;
mod postgres_reads;
pub mod refunds;
mod rows;
pub mod settings;
pub mod snapshot;
mod spending;
mod sql;
mod sqlite_reads;
mod sqlite_writer;
mod subscriptions;
mod thresholds;
pub mod usage;

pub use account_tx::AccountTx;
pub use grants::{GrantRequest, Granted};
pub use spending::Charge;

/// Where the data lives and how many connections may be open to it.
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
    /// `sqlite://file.db?mode=rwc` or `postgres://...`.
    pub url: String,
    /// PostgreSQL schema to use instead of `public` (tests use one each).
    pub schema: Option<String>,
    pub max_connections: u32,
    /// How long a request waits for a connection before it fails as unavailable.
    pub acquire_timeout: Duration,
}

#[derive(Clone)]
pub struct Store {
    /// Every write goes through this one. On SQLite it has a single
    /// connection, so writers queue in the pool instead of failing with
    /// SQLITE_BUSY; on PostgreSQL it is the same pool as `reader`.
    writer: DatabaseConnection,
    reader: DatabaseConnection,
    catalog: Arc<Catalog>,
    rules: Arc<Rules>,
    changes: broadcast::Sender<String>,
    /// SQL statements run, for the N+1 test and `/metrics`.
    statements: Arc<AtomicU64>,
    /// Requests waiting to begin a write transaction.
    writers_waiting: Arc<AtomicI64>,
    /// PostgreSQL: requests for one account queue here for its row lock.
    gates: gates::Gates,
    /// SQLite: every write joins a group commit on the one writer.
    group_commit: Option<group_commit::GroupCommit>,
    /// Reads of many rows (analytics), around sqlx's row by row decoding.
    bulk_reads: BulkReads,
}

/// How a backend reads many rows at once.
#[derive(Clone)]
enum BulkReads {
    /// Straight through rusqlite on a blocking thread.
    Sqlite(Arc<sqlite_reads::SqliteReads>),
    /// As one binary COPY stream.
    Postgres(postgres_reads::PostgresReads),
}

impl Store {
    pub async fn open(options: &DatabaseOptions, rules: Rules) -> Result<Store> {
        let (mut writer, mut reader) = connect(options).await?;
        migration::Migrator::up(&writer, None).await?;
        let catalog = Arc::new(catalog::load(&reader).await?);
        let (changes, _) = broadcast::channel(1024);
        let statements = Arc::new(AtomicU64::new(0));
        for connection in [&mut writer, &mut reader] {
            let counter = statements.clone();
            connection.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
        }
        let writers_waiting = Arc::new(AtomicI64::new(0));
        let (group_commit, bulk_reads) = match writer.get_database_backend() {
            DbBackend::Sqlite => {
                let path = sqlite_path(&options.url)?;
                let connection = sqlite_writer::SqliteWriter::open(&path, SQLITE_BUSY_TIMEOUT, statements.clone())?;
                let reads = sqlite_reads::SqliteReads::new(
                    path,
                    SQLITE_BUSY_TIMEOUT,
                    options.max_connections,
                    options.acquire_timeout,
                    statements.clone(),
                );
                (Some(group_commit::GroupCommit::start(connection, writers_waiting.clone())?), BulkReads::Sqlite(reads))
            }
            DbBackend::Postgres => {
                let pool = reader.get_postgres_connection_pool().clone();
                (None, BulkReads::Postgres(postgres_reads::PostgresReads::new(pool, statements.clone())))
            }
            other => return Err(crate::error::Error::internal(format!("{other:?} is not a supported database"))),
        };
        Ok(Store {
            writer,
            reader,
            catalog,
            rules: Arc::new(rules),
            changes,
            statements,
            writers_waiting,
            gates: gates::Gates::default(),
            group_commit,
            bulk_reads,
        })
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn backend(&self) -> DbBackend {
        self.writer.get_database_backend()
    }

    /// The write connection, for tests that tamper with data to prove the
    /// ledger check notices.
    #[doc(hidden)]
    pub fn writer_for_tests(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub(crate) fn reader(&self) -> &DatabaseConnection {
        &self.reader
    }

    /// SQL statements this store has run since it opened.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Account ids whose wallet changed, sent after each commit.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    pub(crate) fn publish_change(&self, account_id: &str) {
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(account_id.to_owned());
    }

    /// Checks that the database answers, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        self.reader.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Waits for this account's turn to write (see `gates`).
    pub(crate) async fn turn(&self, account_id: &str) -> Result<gates::Turn> {
        self.writers_waiting.fetch_add(1, Ordering::Relaxed);
        let turn = self.gates.wait(account_id).await;
        self.writers_waiting.fetch_sub(1, Ordering::Relaxed);
        turn
    }

    pub(crate) async fn begin_write(&self) -> Result<DatabaseTransaction> {
        Ok(self.writer.begin().await?)
    }

    fn group_commit(&self) -> Option<&group_commit::GroupCommit> {
        self.group_commit.as_ref()
    }

    /// Refreshes the gauges that are read rather than counted.
    pub async fn report_metrics(&self) -> Result<()> {
        use entity::reservations;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let open = reservations::Entity::find()
            .filter(reservations::Column::Status.eq(crate::domain::holds::ReservationStatus::Open.as_str()))
            .count(&self.reader)
            .await?;
        crate::metrics::gauge("credits_holds_open", open as f64);
        crate::metrics::gauge("credits_db_statements", self.statements_executed() as f64);
        let waiting = self.writers_waiting.load(Ordering::Relaxed);
        for (name, connection) in [("writer", &self.writer), ("reader", &self.reader)] {
            let (size, idle) = match connection.get_database_backend() {
                DbBackend::Postgres => {
                    let pool = connection.get_postgres_connection_pool();
                    (pool.size(), pool.num_idle() as u32)
                }
                _ => {
                    let pool = connection.get_sqlite_connection_pool();
                    (pool.size(), pool.num_idle() as u32)
                }
            };
            crate::metrics::pool(name, size.saturating_sub(idle), idle, if name == "writer" { waiting } else { 0 });
        }
        Ok(())
    }
}

use migration::MigratorTrait;

/// How long a SQLite connection waits for another process's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The file of a `sqlite:` URL, as sqlx reads it.
fn sqlite_path(url: &str) -> Result<std::path::PathBuf> {
    use std::str::FromStr;
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| crate::error::Error::internal(format!("the SQLite URL: {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

/// Runs the migrations alone (`credits migrate`).
pub async fn migrate(options: &DatabaseOptions) -> Result<()> {
    let (writer, _) = connect(options).await?;
    migration::Migrator::up(&writer, None).await?;
    Ok(())
}

/// A write connection as the server opens it, without migrating, for tests
/// that write a database under an earlier schema.
#[doc(hidden)]
pub async fn connect_for_tests(options: &DatabaseOptions) -> Result<DatabaseConnection> {
    Ok(connect(options).await?.0)
}

async fn connect(options: &DatabaseOptions) -> Result<(DatabaseConnection, DatabaseConnection)> {
    let configure = |max_connections: u32| {
        let mut connect = ConnectOptions::new(options.url.clone());
        connect
            .max_connections(max_connections)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            .connect_timeout(options.acquire_timeout)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit is on disk before the client hears of it.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .create_if_missing(true)
            });
        // A generic plan for a keyset page filtered by studio is ~50x slower
        // than a custom one; prepared statements must not switch to it. Our
        // queries are short: compiling them (jit) or starting parallel
        // workers costs more than it saves.
        connect.map_sqlx_postgres_opts(|postgres| {
            postgres.options([
                ("plan_cache_mode", "force_custom_plan"),
                ("jit", "off"),
                ("max_parallel_workers_per_gather", "0"),
            ])
        });
        if let Some(schema) = &options.schema {
            connect.set_schema_search_path(schema.clone());
        }
        connect
    };
    if options.url.starts_with("sqlite:") {
        // The writer and the readers are separate connections: in memory,
        // each would see a database of its own.
        if options.url.contains(":memory:") || options.url.contains("mode=memory") {
            return Err(crate::error::Error::internal("an in-memory SQLite database is not supported: give a file"));
        }
        let writer = Database::connect(configure(1)).await?;
        let reader = Database::connect(configure(options.max_connections.max(1))).await?;
        Ok((writer, reader))
    } else {
        let pool = Database::connect(configure(options.max_connections.max(2))).await?;
        Ok((pool.clone(), pool))
    }
}
