//! PostgreSQL, the engine for production and for several server processes:
//! requests for one account queue in memory (`gates`) before they take a
//! pooled connection and the account's row lock, and analytics reads are
//! one binary COPY stream (`reads`).
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use sea_orm::{DatabaseConnection, DbErr};

use super::engine::{Columns, Each};
use super::sql::Sql;
use crate::error::Result;

mod gates;
mod reads;
mod rows;

pub use gates::Turn;

/// Settings of every session. A generic plan for a keyset page filtered by
/// studio is ~50x slower than a custom one; prepared statements must not
/// switch to it. Our queries are short: compiling them (jit) or starting
/// parallel workers costs more than it saves.
pub const SESSION_SETTINGS: [(&str, &str); 3] =
    [("plan_cache_mode", "force_custom_plan"), ("jit", "off"), ("max_parallel_workers_per_gather", "0")];

/// How analytics rows are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reads {
    /// One binary COPY stream, parsed here (`reads`).
    Copy,
    /// Plain SQL through sqlx (`rows`): the benchmark's reference.
    Rows,
}

#[derive(Clone)]
pub struct Postgres {
    gates: gates::Gates,
    reads: reads::PostgresReads,
    pool: sea_orm::sqlx::PgPool,
    statements: Arc<AtomicU64>,
    how: Reads,
    /// Requests waiting for their account's turn, for `/metrics`.
    waiting: Arc<AtomicI64>,
}

impl Postgres {
    pub fn open(pool: &DatabaseConnection, statements: Arc<AtomicU64>, waiting: Arc<AtomicI64>) -> Postgres {
        let pool = pool.get_postgres_connection_pool().clone();
        let reads = reads::PostgresReads::new(pool.clone(), statements.clone());
        // Only the usage benchmark sets this, to measure what COPY buys.
        let how = match std::env::var("CREDITS_POSTGRES_READS").as_deref() {
            Ok("rows") => Reads::Rows,
            _ => Reads::Copy,
        };
        Postgres { gates: gates::Gates::default(), reads, pool, statements, how, waiting }
    }

    /// Waits for this account's turn to write (see `gates`).
    pub async fn turn(&self, account_id: &str) -> Result<Turn> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let turn = self.gates.wait(account_id).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        turn
    }

    pub async fn fold<S: Send + 'static>(&self, sql: &Sql, state: S, mut each: Each<S>) -> Result<S> {
        let failed = |error: crate::error::Error| DbErr::Custom(error.to_string());
        if self.how == Reads::Rows {
            let each = move |state: &mut S, row: &sea_orm::sqlx::postgres::PgRow| each(state, row).map_err(failed);
            return Ok(rows::fold(&self.pool, &self.statements, sql.statement(), state, each).await?);
        }
        let select = reads::with_literals(sql)?;
        let each = move |state: &mut S, tuple: &reads::Tuple<'_>| each(state, tuple).map_err(failed);
        Ok(self.reads.fold(select, state, each).await?)
    }
}

impl Columns for reads::Tuple<'_> {
    fn number(&self, i: usize) -> Result<i64> {
        Ok(reads::Tuple::number(self, i)?)
    }

    fn text(&self, i: usize) -> Result<&str> {
        Ok(reads::Tuple::text(self, i)?)
    }
}
