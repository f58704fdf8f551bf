//! The writes of an account transaction that nothing reads back at once
//! (the usage event, taking from a lot, the rollups, the idempotency record,
//! and at commit the ledger, the events and the account's row) go to the
//! database together: on PostgreSQL as one statement, each write a
//! data-modifying `WITH` part, sent just before the next statement or the
//! commit, so a charge holds its account's lock for fewer round trips; on
//! SQLite, which has no round trips, each at once.
//!
//! Every statement of the transaction goes through `Batched`, which sends
//! what is pending first: a read always sees the writes before it. The
//! parts of one statement share a snapshot and do not see one another, so
//! a batch never holds two writes to one table: the second sends the first
//! batch before it joins the next. Each write says how many rows it must
//! change, and the batch fails (and the transaction rolls back) unless the
//! sum is what the database reports: a lot that no longer has the credits
//! is still refused by the database, as before.
use std::sync::Mutex;

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement, StatementBuilder, Value,
};

pub struct Batched {
    tx: DatabaseTransaction,
    pending: Mutex<Vec<Write>>,
}

/// One deferred write.
struct Write {
    statement: Statement,
    /// The rows it must change.
    rows: u64,
}

impl Write {
    /// The table it writes: the first quoted name of its text (`INSERT
    /// INTO "t"`, `UPDATE "t"`).
    fn table(&self) -> &str {
        self.statement.sql.split('"').nth(1).unwrap_or_default()
    }
}

impl Batched {
    pub fn new(tx: DatabaseTransaction) -> Batched {
        Batched { tx, pending: Mutex::new(Vec::new()) }
    }

    /// Writes `statement`, which must change exactly `rows` rows: with the
    /// next statement or the commit on PostgreSQL, now on SQLite.
    pub async fn defer<S: StatementBuilder>(&self, statement: &S, rows: u64) -> Result<(), DbErr> {
        let backend = self.tx.get_database_backend();
        if backend != DbBackend::Postgres {
            let changed = self.tx.execute(statement).await?.rows_affected();
            return expect_rows(rows, changed);
        }
        let write = Write { statement: backend.build(statement), rows };
        let same_table = self.lock().iter().any(|pending| pending.table() == write.table());
        if same_table {
            self.flush().await?;
        }
        self.lock().push(write);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Write>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends what is pending, as one statement.
    async fn flush(&self) -> Result<(), DbErr> {
        let writes = std::mem::take(&mut *self.lock());
        let rows = writes.iter().map(|write| write.rows).sum();
        let changed = match writes.as_slice() {
            [] => return Ok(()),
            [write] => self.tx.execute_raw(write.statement.clone()).await?.rows_affected(),
            _ => {
                let row = self.tx.query_one_raw(together(&writes)?).await?;
                let changed: i64 =
                    row.ok_or_else(|| DbErr::Custom("a batch answered no row".into()))?.try_get_by_index(0)?;
                u64::try_from(changed).map_err(|_| DbErr::Custom(format!("a batch changed {changed} rows")))?
            }
        };
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

/// `WITH w0 AS (<write> RETURNING 1), w1 AS (...) SELECT` the rows they
/// changed, every value still a bound parameter, renumbered: the text
/// depends only on the writes' shapes, so PostgreSQL keeps its plan.
fn together(writes: &[Write]) -> Result<Statement, DbErr> {
    let mut sql = String::from("WITH ");
    let mut values: Vec<Value> = Vec::new();
    for (i, write) in writes.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("w{i} AS ("));
        renumber(&write.statement.sql, values.len(), &mut sql)?;
        sql.push_str(" RETURNING 1)");
        values.extend(write.statement.values.iter().flat_map(|values| values.0.iter().cloned()));
    }
    let counts: Vec<String> = (0..writes.len()).map(|i| format!("(SELECT count(*) FROM w{i})")).collect();
    sql.push_str(&format!(" SELECT CAST({} AS BIGINT)", counts.join(" + ")));
    Ok(Statement::from_sql_and_values(DbBackend::Postgres, sql, values))
}

/// `text` with each parameter `$n` written as `$(n + offset)`.
fn renumber(text: &str, offset: usize, sql: &mut String) -> Result<(), DbErr> {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        sql.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = rest[at + 1..at + 1 + digits]
            .parse()
            .map_err(|_| DbErr::Custom(format!("a `$` that is not a parameter in {text}")))?;
        sql.push_str(&format!("${}", n + offset));
        rest = &rest[at + 1 + digits..];
    }
    sql.push_str(rest);
    Ok(())
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

#[cfg(test)]
mod tests {
    use sea_orm::Values;

    use super::*;

    fn write(sql: &str, values: Vec<Value>, rows: u64) -> Write {
        let statement = Statement { sql: sql.into(), values: Some(Values(values)), db_backend: DbBackend::Postgres };
        Write { statement, rows }
    }

    #[test]
    fn writes_become_one_statement_with_their_parameters_renumbered() {
        let writes = [
            write(r#"INSERT INTO "a" ("x", "y") VALUES ($1, $2)"#, vec![1i64.into(), "one".into()], 1),
            write(r#"UPDATE "b" SET "x" = "x" - $1 WHERE "id" = $2"#, vec![5i64.into(), 7i64.into()], 1),
        ];
        assert_eq!(writes[1].table(), "b");
        let statement = together(&writes).unwrap();
        assert_eq!(
            statement.sql,
            r#"WITH w0 AS (INSERT INTO "a" ("x", "y") VALUES ($1, $2) RETURNING 1), w1 AS (UPDATE "b" SET "x" = "x" - $3 WHERE "id" = $4 RETURNING 1) SELECT CAST((SELECT count(*) FROM w0) + (SELECT count(*) FROM w1) AS BIGINT)"#
        );
        let values: Vec<Value> = vec![1i64.into(), "one".into(), 5i64.into(), 7i64.into()];
        assert_eq!(statement.values.unwrap().0, values);
    }

    #[test]
    fn a_dollar_that_is_not_a_parameter_is_refused() {
        assert!(renumber("SELECT $x", 0, &mut String::new()).is_err());
    }
}
