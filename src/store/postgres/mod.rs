//! PostgreSQL, the engine for production and for several server processes:
//! requests for one account queue in memory (`gates`) before they take a
//! pooled connection and the account's row lock, and analytics reads stream
//! their rows through sqlx (`reads`).
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgRow;
use sea_orm::{DatabaseConnection, DbErr, Statement};

use super::engine::Each;
use crate::error::Result;

mod batch;
mod catalog_listener;
mod gates;
mod holdings;
mod partitions;
mod reads;

pub use batch::together;
pub use catalog_listener::{CatalogListener, announce as announce_catalog};

pub use gates::Turn;
pub use holdings::holdings;

/// Settings of every session: our queries are short, and compiling them
/// (jit) or starting parallel workers costs more than it saves.
pub const SESSION_SETTINGS: [(&str, &str); 2] = [("jit", "off"), ("max_parallel_workers_per_gather", "0")];

/// And of the readers' sessions: a generic plan for a keyset page filtered
/// by studio is ~50x slower than a custom one, so their prepared statements
/// must not switch to it. The writers' statements find rows by key, where a
/// generic plan is as good and saves planning every charge's statements
/// again (about 0.15 ms of PostgreSQL's CPU a charge, measured in the load
/// benchmark).
pub const READER_SETTINGS: [(&str, &str); 1] = [("plan_cache_mode", "force_custom_plan")];

#[derive(Clone)]
pub struct Postgres {
    gates: gates::Gates,
    pool: PgPool,
    /// SQL statements run, for the N+1 test and `/metrics`: sqlx's own
    /// queries are not seen by SeaORM's counter.
    statements: Arc<AtomicU64>,
    /// Requests waiting for their account's turn, for `/metrics`.
    waiting: Arc<AtomicI64>,
    partitions: partitions::Partitions,
}

impl Postgres {
    pub fn open(pool: &DatabaseConnection, statements: Arc<AtomicU64>, waiting: Arc<AtomicI64>) -> Postgres {
        let pool = pool.get_postgres_connection_pool().clone();
        Postgres { gates: gates::Gates::default(), pool, statements, waiting, partitions: Default::default() }
    }

    /// Waits for this account's turn to write (see `gates`).
    pub async fn turn(&self, account_id: &str) -> Result<Turn> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let turn = self.gates.wait(account_id).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        turn
    }

    /// Makes the monthly partitions `now` needs (see `partitions`).
    pub async fn prepare_partitions(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> Result<()> {
        self.partitions.prepare(db, now).await
    }

    pub async fn fold<S: Send + 'static>(&self, statement: Statement, state: S, mut each: Each<S>) -> Result<S> {
        let each = move |state: &mut S, row: &PgRow| each(state, row).map_err(|e| DbErr::Custom(e.to_string()));
        Ok(reads::fold(&self.pool, &self.statements, statement, state, each).await?)
    }
}
