//! The one seam between the store and the two database engines. Business
//! code (`account_tx`, `analytics`, the operations) asks for these and
//! names no engine: run an account's transaction, read what the account
//! holds, join the transaction's writes, fold the rows of an analytics
//! read, make the coming months' partitions. How each engine does them
//! lives in its folder:
//!
//! - `sqlite/`: one writer thread that group-commits account transactions,
//!   each in a savepoint, through rusqlite, with a checkpointer beside it;
//!   holdings in three reads, writes each at once; analytics reads through
//!   rusqlite on blocking threads.
//! - `postgres/`: a per-account queue in memory before a pooled connection
//!   and the account's row lock; holdings in one statement, writes joined
//!   into one; analytics reads streamed through sqlx; each month's
//!   partitions of usage events and ledger entries made ahead.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
};

use super::DatabaseOptions;
use super::account_tx::{HoldingRows, Prefetch};
use super::{postgres, sqlite};
use crate::error::{Error, Result};

/// How long a request waits for its account's turn to write, on either
/// engine, before it fails as unavailable.
pub const TURN_WAIT: Duration = Duration::from_secs(15);

/// What an account transaction did, to be answered once its commit is known.
pub struct Staged<T> {
    pub result: Result<T>,
    /// Runs only if the transaction committed (metrics, change notifications).
    pub after_commit: Option<Box<dyn FnOnce() + Send>>,
}

impl<T> Staged<T> {
    /// The answer once the commit's outcome is known: what committed runs
    /// its after-commit work (a refusal may have committed a notice); a
    /// success becomes the commit's failure; a refusal stays.
    pub fn answer(self, committed: Result<()>) -> Result<T> {
        match committed {
            Ok(()) => {
                if let Some(after_commit) = self.after_commit {
                    after_commit();
                }
                self.result
            }
            Err(error) => self.result.and(Err(error)),
        }
    }
}

/// An account's turn to write, kept until its transaction ends.
pub struct Turn(#[allow(dead_code)] Option<postgres::Turn>);

/// An account transaction's work: given the transaction (on SQLite, a
/// savepoint of the group commit) and the account's turn, what it did.
pub type Job<T> = Box<dyn FnOnce(DatabaseTransaction, Turn) -> BoxFuture<'static, Staged<T>> + Send>;

/// Joins writes into one statement that answers, in one row, the rows
/// they changed (`account_tx::Batched`).
pub type JoinWrites = fn(&[&Statement]) -> std::result::Result<Statement, sea_orm::DbErr>;

/// One row of an analytics read, its columns by position.
pub trait Columns {
    fn number(&self, i: usize) -> Result<i64>;
    fn text(&self, i: usize) -> Result<&str>;
    /// A number that may be NULL.
    fn optional_number(&self, i: usize) -> Result<Option<i64>>;
    /// A text that may be NULL.
    fn optional_text(&self, i: usize) -> Result<Option<&str>>;
}

/// Gives each row of an analytics read, with the fold's state.
pub type Each<S> = Box<dyn FnMut(&mut S, &dyn Columns) -> Result<()> + Send>;

#[derive(Clone)]
pub enum Engine {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

impl Engine {
    /// The engine of `options.url`, over the connections `connect` opened.
    pub fn open(
        options: &DatabaseOptions,
        reader: &DatabaseConnection,
        statements: Arc<AtomicU64>,
        writers_waiting: Arc<AtomicI64>,
    ) -> Result<Engine> {
        match reader.get_database_backend() {
            DbBackend::Sqlite => Ok(Engine::Sqlite(sqlite::Sqlite::open(options, statements, writers_waiting)?)),
            DbBackend::Postgres => Ok(Engine::Postgres(postgres::Postgres::open(reader, statements, writers_waiting))),
            other => Err(Error::internal(format!("{other:?} is not a supported database"))),
        }
    }

    /// Runs `job` in a transaction that holds one account, and answers once
    /// it is committed (or rolled back).
    pub async fn write<T: Send + 'static>(
        &self,
        writer: &DatabaseConnection,
        account_id: &str,
        job: Job<T>,
    ) -> Result<T> {
        match self {
            Engine::Sqlite(sqlite) => sqlite.write(move |savepoint| job(savepoint, Turn(None))).await,
            Engine::Postgres(postgres) => {
                let turn = postgres.turn(account_id).await?;
                let tx = sea_orm::TransactionTrait::begin(writer).await?;
                // The transaction's own commit is inside the job.
                job(tx, Turn(Some(turn))).await.answer(Ok(()))
            }
        }
    }

    /// What an account holds, as stored, read through `db` (its open
    /// transaction, or a reader); and on PostgreSQL, in the same round trip,
    /// what `prefetch` asks (SQLite has no round trip to save: the request
    /// reads those when it needs them).
    pub async fn holdings(
        &self,
        db: &impl ConnectionTrait,
        account_id: &str,
        open: &str,
        prefetch: &Prefetch,
    ) -> Result<HoldingRows> {
        Ok(match self {
            Engine::Sqlite(_) => sqlite::holdings(db, account_id, open).await?,
            Engine::Postgres(_) => postgres::holdings(db, account_id, open, prefetch).await?,
        })
    }

    /// How an account transaction's writes go together to the database:
    /// on PostgreSQL as one statement, to hold the account's lock for fewer
    /// round trips; on SQLite, which has none to save, not at all.
    pub fn joins_writes(&self) -> Option<JoinWrites> {
        match self {
            Engine::Sqlite(_) => None,
            Engine::Postgres(_) => Some(postgres::together),
        }
    }

    /// Makes the partitions that rows of `now`'s month and the next two
    /// will need, through `db`: on PostgreSQL, a month of `usage_events`
    /// and `ledger_entries` each; SQLite has no partitions.
    pub async fn prepare_partitions(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> Result<()> {
        match self {
            Engine::Sqlite(_) => Ok(()),
            Engine::Postgres(postgres) => postgres.prepare_partitions(db, now).await,
        }
    }

    /// Tells other processes that a catalog version was made in `tx`.
    pub async fn announce_catalog(&self, tx: &DatabaseTransaction, version: i64) -> Result<()> {
        match self {
            // One process: nobody else to tell (a command's change is found by the check).
            Engine::Sqlite(_) => Ok(()),
            Engine::Postgres(_) => postgres::announce_catalog(tx, version).await,
        }
    }

    /// What announces other processes' catalog changes, where there is
    /// one: on PostgreSQL, a listener holding one of `background`'s connections.
    pub async fn catalog_listener(&self, background: &DatabaseConnection) -> Result<Option<postgres::CatalogListener>> {
        match self {
            Engine::Sqlite(_) => Ok(None),
            Engine::Postgres(_) => {
                postgres::CatalogListener::open(background.get_postgres_connection_pool()).await.map(Some)
            }
        }
    }

    /// Every row of `statement` given to `each` with `state` as it is
    /// read; then `state`. On SQLite the read takes the connection the
    /// last one left, so reads one after another use one connection's page
    /// cache, not each of a pool's in turn.
    pub async fn fold<S: Send + 'static>(&self, statement: Statement, state: S, each: Each<S>) -> Result<S> {
        match self {
            Engine::Sqlite(sqlite) => sqlite.fold(statement, state, each).await,
            Engine::Postgres(postgres) => postgres.fold(statement, state, each).await,
        }
    }

    /// Connections open and idle in `connection`'s pool.
    pub fn pool_use(connection: &DatabaseConnection) -> (u32, u32) {
        match connection.get_database_backend() {
            DbBackend::Postgres => {
                let pool = connection.get_postgres_connection_pool();
                (pool.size(), pool.num_idle() as u32)
            }
            _ => {
                let pool = connection.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle() as u32)
            }
        }
    }
}

/// The connections of a store, each engine's settings applied.
pub struct Connections {
    pub writer: DatabaseConnection,
    pub reader: DatabaseConnection,
    /// The background work's (the webhook worker's and the catalog
    /// listener's): on PostgreSQL a pool of its own, so that the worker's few
    /// short transactions do not queue behind the requests for a pooled
    /// connection, and the listener takes none of theirs; on SQLite the
    /// readers (the worker's writes share the one writer whatever
    /// connection they name).
    pub background: DatabaseConnection,
}

/// Connections the background work keeps on PostgreSQL: the catalog
/// listener's one and two for the webhook worker.
const BACKGROUND_CONNECTIONS: u32 = 3;

/// The connections of `options`.
pub async fn connect(options: &DatabaseOptions) -> Result<Connections> {
    let configure = |max_connections: u32, reads: bool| {
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
                    .busy_timeout(sqlite::BUSY_TIMEOUT)
                    .create_if_missing(true)
            });
        connect.map_sqlx_postgres_opts(move |options| {
            let options = options.options(postgres::SESSION_SETTINGS);
            if reads { options.options(postgres::READER_SETTINGS) } else { options }
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
            return Err(Error::internal("an in-memory SQLite database is not supported: give a file"));
        }
        let writer = Database::connect(configure(1, false)).await?;
        let reader = Database::connect(configure(options.max_connections.max(1), true)).await?;
        Ok(Connections { writer, background: reader.clone(), reader })
    } else {
        // Two pools: the account transactions' and the reads' (their plans
        // differ: `READER_SETTINGS`), each of the configured size, so a
        // dashboard's reads never take a charge's connection.
        let writer = Database::connect(configure(options.max_connections.max(2), false)).await?;
        let reader = Database::connect(configure(options.max_connections.max(2), true)).await?;
        let background = Database::connect(configure(BACKGROUND_CONNECTIONS, false)).await?;
        Ok(Connections { writer, reader, background })
    }
}
