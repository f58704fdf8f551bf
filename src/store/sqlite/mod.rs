//! SQLite, the embedded engine: one writer thread group-commits account
//! transactions (`group_commit`) on a rusqlite connection that SeaORM
//! drives (`writer`), and analytics reads run through rusqlite on blocking
//! threads (`reads`).
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseTransaction, Statement};

use super::DatabaseOptions;
use super::engine::{Columns, Each, Staged};
use crate::error::{Error, Result};

mod group_commit;
mod holdings;
mod reads;
mod writer;

pub use holdings::holdings;

/// How long a SQLite connection waits for another process's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Sqlite {
    group_commit: group_commit::GroupCommit,
    reads: Arc<reads::SqliteReads>,
}

impl Sqlite {
    pub fn open(
        options: &DatabaseOptions,
        statements: Arc<AtomicU64>,
        writers_waiting: Arc<AtomicI64>,
    ) -> Result<Sqlite> {
        let path = path(&options.url)?;
        let connection = writer::SqliteWriter::open(&path, BUSY_TIMEOUT, statements.clone())?;
        let reads =
            reads::SqliteReads::new(path, BUSY_TIMEOUT, options.max_connections, options.acquire_timeout, statements);
        Ok(Sqlite { group_commit: group_commit::GroupCommit::start(connection, writers_waiting)?, reads })
    }

    /// Runs `work` on a savepoint of the group commit, on the writer's thread.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(DatabaseTransaction) -> BoxFuture<'static, Staged<T>> + Send + 'static,
    {
        self.group_commit.submit(work).await
    }

    pub async fn fold<S: Send + 'static>(&self, statement: Statement, state: S, mut each: Each<S>) -> Result<S> {
        // The variant that carries any error: rusqlite has no other without
        // its `functions` feature.
        let each = move |state: &mut S, row: &rusqlite::Row<'_>| {
            each(state, &Row(row)).map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
        };
        Ok(self.reads.fold(statement, state, each).await?)
    }
}

/// The file of a `sqlite:` URL, as sqlx reads it.
fn path(url: &str) -> Result<std::path::PathBuf> {
    use std::str::FromStr;
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url)
        .map_err(|e| Error::internal(format!("the SQLite URL: {e}")))?;
    Ok(options.get_filename().to_path_buf())
}

struct Row<'r, 's>(&'r rusqlite::Row<'s>);

impl Columns for Row<'_, '_> {
    fn number(&self, i: usize) -> Result<i64> {
        self.0.get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn text(&self, i: usize) -> Result<&str> {
        let value = self.0.get_ref(i).map_err(|e| Error::internal(format!("column {i}: {e}")))?;
        value.as_str().map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn optional_number(&self, i: usize) -> Result<Option<i64>> {
        self.0.get(i).map_err(|e| Error::internal(format!("column {i}: {e}")))
    }

    fn optional_text(&self, i: usize) -> Result<Option<&str>> {
        let value = self.0.get_ref(i).map_err(|e| Error::internal(format!("column {i}: {e}")))?;
        value.as_str_or_null().map_err(|e| Error::internal(format!("column {i}: {e}")))
    }
}
