//! Usage summaries and totals from the rollups (edges from raw events); see
//! `domain::analytics` for how a range is split.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement, Value};

use super::Store;
use crate::domain::analytics::{Bucket, GroupBy, HOUR_MS, Piece, Row, Source, UsageFilter, fold, offset_runs, pieces};
use crate::error::Result;

/// Whose usage: one account's, or the platform's.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    Account(&'a str),
    Platform,
}

#[derive(FromQueryResult)]
struct Earliest {
    start_ms: Option<i64>,
}

/// What to group by beyond the domain's dimensions: top accounts group by account.
#[derive(Clone, Copy, Debug, Default)]
struct Grouping {
    group: GroupBy,
    by_account: bool,
}

impl Store {
    pub async fn usage_summary(
        &self,
        scope: Scope<'_>,
        filter: &UsageFilter,
        group: GroupBy,
        time_zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<Bucket>> {
        filter.validate()?;
        let rows = self.rows(scope, filter, Grouping { group, by_account: false }, time_zone, now).await?;
        Ok(fold(rows.into_iter().map(|(_, row)| row), group, time_zone))
    }

    /// Generations and credits that `filter` selects, charged and not refunded.
    pub async fn usage_totals(&self, scope: Scope<'_>, filter: &UsageFilter, now: DateTime<Utc>) -> Result<(i64, i64)> {
        let buckets = self.usage_summary(scope, filter, GroupBy::default(), Tz::UTC, now).await?;
        Ok(buckets.first().map_or((0, 0), |b| (b.generations, b.credits)))
    }

    /// The accounts that spent the most credits, with their generations.
    pub async fn top_accounts(
        &self,
        filter: &UsageFilter,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64, i64)>> {
        filter.validate()?;
        let grouping = Grouping { group: GroupBy::default(), by_account: true };
        let rows = self.rows(Scope::Platform, filter, grouping, Tz::UTC, now).await?;
        let mut by_account: std::collections::HashMap<String, (i64, i64)> = std::collections::HashMap::new();
        for (account, row) in rows {
            let totals = by_account.entry(account).or_default();
            *totals = (totals.0 + row.events, totals.1 + row.credits);
        }
        let mut top: Vec<(String, i64, i64)> =
            by_account.into_iter().filter(|(_, (events, _))| *events > 0).map(|(a, (e, c))| (a, e, c)).collect();
        top.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        top.truncate(limit);
        Ok(top)
    }

    async fn rows(
        &self,
        scope: Scope<'_>,
        filter: &UsageFilter,
        grouping: Grouping,
        time_zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, Row)>> {
        let Some(start_ms) = self.range_start(scope, filter).await? else { return Ok(Vec::new()) };
        let end_ms = filter.to.map_or(now.timestamp_millis() + 1, |to| to.timestamp_millis());
        let mut rows = Vec::new();
        for run in offset_runs(time_zone, start_ms, end_ms.max(start_ms)) {
            for piece in pieces(run, grouping.group.period.is_some()) {
                rows.extend(self.piece_rows(scope, filter, grouping, piece).await?);
            }
        }
        Ok(rows)
    }

    /// `filter.from`, or the earliest usage in scope (None when there is none).
    async fn range_start(&self, scope: Scope<'_>, filter: &UsageFilter) -> Result<Option<i64>> {
        if let Some(from) = filter.from {
            return Ok(Some(from.timestamp_millis()));
        }
        let mut sql = Sql::new(self.backend());
        sql.push("SELECT MIN(bucket_start_ms) AS start_ms FROM usage_rollups WHERE bucket_ms = ").value(HOUR_MS);
        if let Scope::Account(account) = scope {
            sql.push(" AND account_id = ").value(account);
        }
        let earliest = Earliest::find_by_statement(sql.statement()).one(self.reader()).await?;
        Ok(earliest.and_then(|e| e.start_ms))
    }

    async fn piece_rows(
        &self,
        scope: Scope<'_>,
        filter: &UsageFilter,
        grouping: Grouping,
        piece: Piece,
    ) -> Result<Vec<(String, Row)>> {
        let group = grouping.group;
        let layout = Layout {
            day: group.period.is_some(),
            account: grouping.by_account,
            studio: group.studio,
            tool: group.tool,
            model: group.model,
        };
        // One account's rollup rows are few (a year of days is ~11,000 for the
        // heaviest user of the usage benchmark): folding them here costs less
        // than the database sorting them for GROUP BY. A total (nothing
        // grouped) needs no sort and stays in SQL.
        let aggregate =
            !layout.groups() || !matches!((scope, piece.source), (Scope::Account(_), Source::Rollup { .. }));
        let (table, time, model) = match piece.source {
            Source::Rollup { .. } => ("usage_rollups", "bucket_start_ms", "model_id"),
            Source::Events => ("usage_events", "created_at_ms", "COALESCE(model_id, '')"),
        };
        let counts = match (piece.source, aggregate) {
            (Source::Rollup { .. }, true) => ["SUM(events)", "SUM(outputs)", "SUM(credits)"],
            (Source::Rollup { .. }, false) => ["events", "outputs", "credits"],
            (Source::Events, _) => ["COUNT(*)", "SUM(count)", "SUM(credits)"],
        };
        let day = format!("CAST(({time} + {}) / {} AS BIGINT)", piece.offset_ms, crate::domain::analytics::DAY_MS);
        // Only what is asked for is selected and grouped by: a constant in
        // GROUP BY would still make the database sort every row.
        let grouped: Vec<&str> = [
            (layout.day, day.as_str()),
            (layout.account, "account_id"),
            (layout.studio, "studio"),
            (layout.tool, "tool"),
            (layout.model, model),
        ]
        .into_iter()
        .filter_map(|(on, column)| on.then_some(column))
        .collect();
        let counts = counts.map(|count| format!("CAST({count} AS BIGINT)"));
        let selected: Vec<&str> = grouped.iter().copied().chain(counts.iter().map(String::as_str)).collect();
        let select = format!("SELECT {} FROM {table} WHERE {time} >= ", selected.join(", "));
        let mut sql = Sql::new(self.backend());
        sql.push(&select).value(piece.start_ms).push(&format!(" AND {time} < ")).value(piece.end_ms);
        match piece.source {
            Source::Rollup { bucket_ms } => sql.push(" AND bucket_ms = ").value(bucket_ms),
            Source::Events => sql.push(" AND status = 'CHARGED'"),
        };
        if let Scope::Account(account) = scope {
            sql.push(" AND account_id = ").value(account);
        }
        if let Some(studios) = &filter.studios {
            sql.push(" AND studio").list(studios.iter().map(|s| s.as_str()));
        }
        if let Some(tools) = &filter.tools {
            sql.push(" AND tool").list(tools.iter().map(String::as_str));
        }
        if let Some(models) = &filter.model_ids {
            sql.push(&format!(" AND {model}")).list(models.iter().map(String::as_str));
        }
        if aggregate && grouped.is_empty() {
            // One total, or no row at all when nothing matches.
            sql.push(" HAVING COUNT(*) > 0");
        } else if aggregate {
            sql.push(&format!(" GROUP BY {}", grouped.join(", ")));
        }
        // Otherwise every row, folded by the caller.
        self.analytics_rows(sql.statement(), layout).await
    }

    /// Rows of an analytics query, read by position as `layout` says.
    async fn analytics_rows(&self, statement: Statement, layout: Layout) -> Result<Vec<(String, Row)>> {
        if let Some(reads) = &self.bulk_reads {
            return Ok(reads.query(statement, move |r| layout.read(|i| r.get(i), |i| r.get(i))).await?);
        }
        let rows = self.reader().query_all_raw(statement).await?;
        let rows: std::result::Result<Vec<_>, DbErr> =
            rows.iter().map(|r| layout.read(|i| r.try_get_by_index(i), |i| r.try_get_by_index(i))).collect();
        Ok(rows?)
    }
}

/// Which grouped columns an analytics query selects, in this order, before
/// its three counts (events, outputs, credits).
#[derive(Clone, Copy, Debug)]
struct Layout {
    day: bool,
    account: bool,
    studio: bool,
    tool: bool,
    model: bool,
}

impl Layout {
    fn groups(self) -> bool {
        self.day || self.account || self.studio || self.tool || self.model
    }

    /// `(account_id, row)` with what was not selected left empty.
    fn read<E>(
        self,
        number: impl Fn(usize) -> std::result::Result<i64, E>,
        text: impl Fn(usize) -> std::result::Result<String, E>,
    ) -> std::result::Result<(String, Row), E> {
        let mut column = 0;
        let mut next = |on: bool| {
            on.then(|| {
                column += 1;
                column - 1
            })
        };
        let (day, account, studio, tool, model) =
            (next(self.day), next(self.account), next(self.studio), next(self.tool), next(self.model));
        let text = |at: Option<usize>| at.map_or(Ok(String::new()), &text);
        let row = Row {
            local_day: day.map_or(Ok(0), &number)?,
            studio: text(studio)?,
            tool: text(tool)?,
            model_id: text(model)?,
            events: number(column)?,
            outputs: number(column + 1)?,
            credits: number(column + 2)?,
        };
        Ok((text(account)?, row))
    }
}

/// SQL with bound values and the placeholders of its backend.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::new(), values: Vec::new() }
    }

    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn value(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                let n = self.values.len();
                self.text.push_str(&format!("${n}"));
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// ` IN (...)`, or a condition nothing meets for an empty list.
    fn list<'v>(&mut self, values: impl Iterator<Item = &'v str>) -> &mut Self {
        let values: Vec<&str> = values.collect();
        if values.is_empty() {
            return self.push(" IS NULL AND 1 = 0");
        }
        self.push(" IN (");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.value(value);
        }
        self.push(")")
    }

    fn statement(&self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text.clone(), self.values.clone())
    }
}
