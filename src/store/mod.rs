//! Queries and transactions. Money is guarded here by the database: every
//! operation on an account runs in one transaction that holds the account
//! (a row lock on PostgreSQL, the single writer connection on SQLite).
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend};
use tokio::sync::broadcast;

use crate::domain::catalog::Catalog;
use crate::domain::rules::Rules;
use crate::error::Result;

mod account_tx;
pub mod analytics;
pub mod audit;
pub mod catalog;
mod engine;
mod grants;
pub mod holds;
mod idempotency;
pub mod keyset;
pub mod ledger;
mod lots;
mod postgres;
pub mod refunds;
mod rows;
pub mod scheduler;
pub mod settings;
pub mod snapshot;
mod spend_limits;
mod spending;
mod sql;
mod sqlite;
mod subscriptions;
pub(crate) mod thresholds;
pub mod top_ups;
pub mod usage;
pub mod usage_export;
pub mod webhooks;

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
    /// The webhook worker's: see `engine::Connections`.
    background: DatabaseConnection,
    /// The catalog version in effect, swapped whole (`catalog.rs`).
    catalog: Arc<ArcSwap<Catalog>>,
    rules: Arc<Rules>,
    changes: broadcast::Sender<String>,
    /// SQL statements run, for the N+1 test and `/metrics`.
    statements: Arc<AtomicU64>,
    /// Requests waiting for their turn to write.
    writers_waiting: Arc<AtomicI64>,
    /// How account transactions are written and many rows read.
    engine: engine::Engine,
    /// Woken after a commit that wrote events, so that the delivery worker
    /// does not wait for its next poll.
    outbox: Arc<tokio::sync::Notify>,
    /// The key that seals endpoint secrets, and the URL rule.
    webhooks: Arc<webhooks::WebhookSettings>,
}

impl Store {
    pub async fn open(options: &DatabaseOptions, rules: Rules) -> Result<Store> {
        let engine::Connections { mut writer, mut reader, mut background } = engine::connect(options).await?;
        migration::Migrator::up(&writer, None).await?;
        let catalog = Arc::new(ArcSwap::from_pointee(catalog::load(&reader).await?));
        let (changes, _) = broadcast::channel(1024);
        let statements = Arc::new(AtomicU64::new(0));
        for connection in [&mut writer, &mut reader, &mut background] {
            let counter = statements.clone();
            connection.set_metric_callback(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            });
        }
        let writers_waiting = Arc::new(AtomicI64::new(0));
        let engine = engine::Engine::open(options, &reader, statements.clone(), writers_waiting.clone())?;
        let outbox = Arc::new(tokio::sync::Notify::new());
        Ok(Store {
            writer,
            reader,
            background,
            catalog,
            rules: Arc::new(rules),
            changes,
            statements,
            writers_waiting,
            engine,
            outbox,
            webhooks: Arc::default(),
        })
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

    pub(crate) fn background(&self) -> &DatabaseConnection {
        &self.background
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

    /// Notified after each commit that wrote events (in this process).
    pub fn outbox_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }

    /// Runs `work` in a transaction that is not an account's (the outbox,
    /// webhook endpoints and deliveries), committed when `work` succeeds and
    /// rolled back when it fails. `lane` names what it serializes with in
    /// this process (on SQLite every write shares the one writer; on
    /// PostgreSQL these take the background connections).
    pub(crate) async fn transact<T, F>(&self, lane: &str, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a DatabaseTransaction) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        let job: engine::Job<T> = Box::new(move |tx, _turn| {
            async move {
                let result = work(&tx).await;
                let ended = match &result {
                    Ok(_) => tx.commit().await,
                    Err(_) => tx.rollback().await,
                };
                engine::Staged { result: ended.map_err(crate::error::Error::from).and(result), after_commit: None }
            }
            .boxed()
        });
        self.engine.write(&self.background, lane, job).await
    }

    /// Checks that the database answers, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        self.reader.execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// Refreshes the gauges that are read rather than counted.
    pub async fn report_metrics(&self, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        use entity::reservations;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let open = reservations::Entity::find()
            .filter(reservations::Column::Status.eq(crate::domain::holds::ReservationStatus::Open.as_str()))
            .count(&self.reader)
            .await?;
        crate::metrics::gauge("credits_holds_open", open as f64);
        crate::metrics::gauge("credits_db_statements", self.statements_executed() as f64);
        let oldest = self.oldest_undelivered_event_ms().await?;
        let age_ms = oldest.map_or(0, |at| crate::clock::to_ms(now).saturating_sub(at).max(0));
        crate::metrics::gauge("credits_webhook_oldest_undelivered_event_age_seconds", age_ms as f64 / 1000.0);
        let waiting = self.writers_waiting.load(Ordering::Relaxed);
        for (name, connection) in [("writer", &self.writer), ("reader", &self.reader)] {
            let (size, idle) = engine::Engine::pool_use(connection);
            crate::metrics::pool(name, size.saturating_sub(idle), idle, if name == "writer" { waiting } else { 0 });
        }
        Ok(())
    }
}

use migration::MigratorTrait;

/// Runs the migrations alone (`credits migrate`).
pub async fn migrate(options: &DatabaseOptions) -> Result<()> {
    let connections = engine::connect(options).await?;
    migration::Migrator::up(&connections.writer, None).await?;
    Ok(())
}

/// A write connection as the server opens it, without migrating, for tests
/// that write a database under an earlier schema.
#[doc(hidden)]
pub async fn connect_for_tests(options: &DatabaseOptions) -> Result<DatabaseConnection> {
    Ok(engine::connect(options).await?.writer)
}
