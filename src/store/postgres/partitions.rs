//! The monthly partitions of `usage_events` and `ledger_entries` (migration
//! `m20261208_000001_time_partitions`): each month's exists before its
//! first row. The scheduler asks for the month of its `now` and the two
//! after it; a month made is remembered, so a run costs no statement until
//! the month turns.
//!
//! A row whose month has no partition yet (the scheduler was stopped for
//! months, or a test's clock jumped) lands in `<table>_default`; making
//! that month's partition then moves its rows out of the default, in one
//! transaction that holds the table for as long as the move takes.
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use migration::m20261208_000001_time_partitions::{PARTITIONS_FROM, TABLES};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};

use crate::error::{Error, Result};

/// Months made ahead of the current one.
const MONTHS_AHEAD: u32 = 2;

/// How long making a partition waits for the table's lock before it gives
/// up until the next run (charges queue behind a waiting lock).
const LOCK_TIMEOUT: &str = "2s";

/// Month starts (ms) whose partitions exist, of this process.
#[derive(Clone, Default)]
pub struct Partitions(Arc<Mutex<BTreeSet<i64>>>);

/// One month: its first instant, the next month's, and its name's suffix.
struct Month {
    from_ms: i64,
    to_ms: i64,
    suffix: String,
}

impl Month {
    fn starting(first: NaiveDate) -> Option<Month> {
        let next = first.checked_add_months(Months::new(1))?;
        let ms = |day: NaiveDate| day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis());
        Some(Month {
            from_ms: ms(first)?,
            to_ms: ms(next)?,
            suffix: format!("{:04}_{:02}", first.year(), first.month()),
        })
    }
}

impl Partitions {
    /// Makes the partitions of `now`'s month and the next `MONTHS_AHEAD`.
    pub async fn prepare(&self, db: &DatabaseConnection, now: DateTime<Utc>) -> Result<()> {
        let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).ok_or_else(|| Error::internal("no month"))?;
        let months: Vec<Month> = (0..=MONTHS_AHEAD)
            .filter_map(|ahead| first.checked_add_months(Months::new(ahead)).and_then(Month::starting))
            .filter(|month| !self.done(month))
            .collect();
        if months.is_empty() {
            return Ok(());
        }
        // Unpartitioned tables (migrated down, as the load benchmark's
        // reference is) need no month's partition.
        let from_ms = partitioned_from(db).await?.unwrap_or(i64::MAX);
        for month in months {
            if month.from_ms >= from_ms {
                for table in TABLES {
                    make(db, table, &month).await?;
                }
            }
            self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(month.from_ms);
        }
        Ok(())
    }

    fn done(&self, month: &Month) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).contains(&month.from_ms)
    }
}

/// Where the monthly partitions begin, if the tables are partitioned (the
/// migration keeps it in `settings`; undoing it removes it), or None.
async fn partitioned_from(db: &DatabaseConnection) -> Result<Option<i64>> {
    let sql = format!("SELECT value FROM settings WHERE key = '{PARTITIONS_FROM}'");
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql)).await?;
    let Some(value) = row.map(|row| row.try_get_by_index::<String>(0)).transpose()? else { return Ok(None) };
    let from_ms = value.parse().map_err(|_| Error::internal(format!("setting {PARTITIONS_FROM} is not a number")))?;
    Ok(Some(from_ms))
}

/// Makes `table`'s partition of `month` unless it exists, moving the
/// month's rows out of the default partition if any landed there.
async fn make(db: &DatabaseConnection, table: &str, month: &Month) -> Result<()> {
    let (name, from, to) = (format!("{table}_{}", month.suffix), month.from_ms, month.to_ms);
    let state = format!(
        "SELECT to_regclass('{name}') IS NOT NULL,
                EXISTS (SELECT 1 FROM {table}_default WHERE created_at_ms >= {from} AND created_at_ms < {to})"
    );
    let row = db.query_one_raw(Statement::from_string(DbBackend::Postgres, state)).await?;
    let (exists, stranded): (bool, bool) = match row {
        Some(row) => (row.try_get_by_index(0)?, row.try_get_by_index(1)?),
        None => return Err(Error::internal(format!("no state of partition {name}"))),
    };
    if exists {
        return Ok(());
    }
    let create = format!("CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ({from}) TO ({to})");
    let mut statements = vec![format!("SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")];
    if stranded {
        statements.extend([
            format!("ALTER TABLE {table} DETACH PARTITION {table}_default"),
            create,
            format!(
                "WITH moved AS (DELETE FROM {table}_default WHERE created_at_ms >= {from} AND created_at_ms < {to} \
                 RETURNING *) INSERT INTO {name} SELECT * FROM moved"
            ),
            format!("ALTER TABLE {table} ATTACH PARTITION {table}_default DEFAULT"),
        ]);
    } else {
        statements.push(create);
    }
    let tx = db.begin().await?;
    for statement in statements {
        tx.execute_unprepared(&statement).await?;
    }
    tx.commit().await?;
    if stranded {
        tracing::info!(partition = %name, "made a month's partition and moved its rows out of the default one");
    }
    Ok(())
}
