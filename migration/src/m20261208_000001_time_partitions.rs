//! On PostgreSQL, `usage_events` and `ledger_entries` become partitioned by
//! month of `created_at_ms` (issue 22, README "Scaling"): each index is the
//! size of a month, and an old month leaves with `DETACH PARTITION`.
//! Measured in one run against the same schema without it (`cargo bench
//! --bench load -- --database postgres --phases partitions`), it costs a
//! charge nothing the load benchmark can tell from its noise
//! (docs/performance.md).
//!
//! Nothing already recorded is rewritten. Each table as it stands becomes
//! the partition `<table>_initial` of everything before the cutoff: the
//! first day (UTC) of the month after both the newest row and now. Its
//! indexes are attached to the partitioned table's as they are. From the
//! cutoff on, the server's scheduler makes a partition a month ahead
//! (`store::postgres::partitions`), and `<table>_default` takes rows whose
//! month has none yet. The primary key becomes `(id, created_at_ms)`, as
//! PostgreSQL asks of a partitioned table; ids come from the partitioned
//! table's one identity sequence, which starts after the highest id kept,
//! so each stays unique. The cutoff is kept in `settings`.
//!
//! Down copies every row back into one table each. SQLite has no
//! partitioning: there this migration does nothing.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables partitioned by month of `created_at_ms`.
pub const TABLES: [&str; 2] = ["usage_events", "ledger_entries"];

/// The `settings` key of the first instant of the monthly partitions (ms).
pub const PARTITIONS_FROM: &str = "partitions_from_ms";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let from_ms: i64 = query(db, CUTOFF).await?.first().ok_or_else(|| no_row("cutoff"))?.try_get_by_index(0)?;
        for table in TABLES {
            let indexes = indexes(db, table).await?;
            let initial = format!("{table}_initial");
            let mut statements = vec![
                format!("ALTER TABLE {table} RENAME TO {initial}"),
                format!("ALTER TABLE {initial} DROP CONSTRAINT {table}_pkey"),
                format!(
                    "CREATE TABLE {table} (LIKE {initial} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) \
                     PARTITION BY RANGE (created_at_ms)"
                ),
                format!("ALTER TABLE {table} ADD PRIMARY KEY (id, created_at_ms)"),
            ];
            statements.extend(ids_move(table, &initial));
            for index in &indexes {
                // The partition's index is attached to the parent's of the
                // same definition, not built again.
                statements.push(format!("ALTER INDEX {} RENAME TO {}_initial", index.name, index.name));
                statements.push(index.create(table));
            }
            statements.push(format!(
                "ALTER TABLE {table} ATTACH PARTITION {initial} FOR VALUES FROM (MINVALUE) TO ({from_ms})"
            ));
            statements.push(format!("CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"));
            run(db, statements).await?;
        }
        let remember = format!(
            "INSERT INTO settings (key, value) VALUES ('{PARTITIONS_FROM}', '{from_ms}')
             ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        );
        run(db, vec![remember]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for table in TABLES {
            let indexes = indexes(db, table).await?;
            let partitioned = format!("{table}_partitioned");
            let mut statements = vec![
                format!("ALTER TABLE {table} RENAME TO {partitioned}"),
                format!("CREATE TABLE {table} (LIKE {partitioned} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
                format!("INSERT INTO {table} SELECT * FROM {partitioned}"),
            ];
            statements.extend(ids_move(table, &partitioned));
            // Its key's and indexes' names are free once it is gone.
            statements.push(format!("DROP TABLE {partitioned}"));
            statements.push(format!("ALTER TABLE {table} ADD PRIMARY KEY (id)"));
            statements.extend(indexes.iter().map(|index| index.create(table)));
            run(db, statements).await?;
        }
        run(db, vec![format!("DELETE FROM settings WHERE key = '{PARTITIONS_FROM}'")]).await
    }
}

/// The first instant of the month (UTC) after the newest row and now, in ms.
const CUTOFF: &str = "SELECT (EXTRACT(EPOCH FROM date_trunc('month', to_timestamp(GREATEST(
    (SELECT COALESCE(MAX(created_at_ms), 0) FROM usage_events),
    (SELECT COALESCE(MAX(created_at_ms), 0) FROM ledger_entries),
    (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT) / 1000.0) AT TIME ZONE 'UTC') + INTERVAL '1 month') * 1000)::BIGINT";

/// An index of a table other than its primary key, as it was made.
struct Index {
    name: String,
    unique: bool,
    /// What follows `USING`: the method and the columns.
    using: String,
}

impl Index {
    fn create(&self, table: &str) -> String {
        let unique = if self.unique { "UNIQUE " } else { "" };
        format!("CREATE {unique}INDEX {} ON {table} USING {}", self.name, self.using)
    }
}

async fn indexes(db: &impl ConnectionTrait, table: &str) -> Result<Vec<Index>, DbErr> {
    let sql = format!(
        "SELECT c.relname::text, i.indisunique, substring(pg_get_indexdef(i.indexrelid) from ' USING (.*)$')
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = to_regclass('{table}') AND NOT i.indisprimary ORDER BY c.relname"
    );
    let rows = query(db, &sql).await?;
    rows.iter()
        .map(|row| {
            Ok(Index {
                name: row.try_get_by_index(0)?,
                unique: row.try_get_by_index(1)?,
                using: row.try_get_by_index(2)?,
            })
        })
        .collect()
}

/// The ids of `from` go on in `to`'s column: `from`'s identity sequence is
/// dropped, and `to`'s own starts after the highest id kept.
fn ids_move(to: &str, from: &str) -> [String; 3] {
    [
        format!("ALTER TABLE {from} ALTER COLUMN id DROP IDENTITY"),
        format!("ALTER TABLE {to} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"),
        format!(
            "SELECT setval(pg_get_serial_sequence('{to}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM {from}), false)"
        ),
    ]
}

async fn run(db: &impl ConnectionTrait, statements: Vec<String>) -> Result<(), DbErr> {
    for statement in statements {
        db.execute_unprepared(&statement).await?;
    }
    Ok(())
}

async fn query(db: &impl ConnectionTrait, sql: &str) -> Result<Vec<QueryResult>, DbErr> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql)).await
}

fn no_row(what: &str) -> DbErr {
    DbErr::Custom(format!("no {what} was read"))
}
