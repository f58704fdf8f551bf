//! Usage summaries and totals from the rollups (edges from raw events):
//! `plan` says which rows serve which part of a range, `fold` adds them up.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::FromQueryResult;

use super::Store;
use super::engine::Columns;
use super::sql::Sql;
use crate::domain::analytics::{Bucket, DAY_MS, GroupBy, HOUR_MS, UsageFilter};
use crate::domain::refunds::RefundCause;

mod fold;
mod plan;
mod series;

use crate::error::Result;
use fold::{Folding, Row};
use plan::{DayPart, Piece, Source, offset_runs, pieces};

/// Most SELECTs in one statement (SQLite takes 500)...
const SELECTS_MAX: usize = 100;
/// ...and most values (SQLite takes 32,766).
const VALUES_MAX: usize = 16_000;

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

/// What an analytics read selects, over whatever time range.
#[derive(Clone, Copy, Debug)]
struct Read<'a> {
    scope: Scope<'a>,
    filter: &'a UsageFilter,
    grouping: Grouping,
    time_zone: Tz,
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
        let grouping = Grouping { group, by_account: false };
        let read = Read { scope, filter, grouping, time_zone };
        let folding = self.rows(read, now, Folding::new(group, time_zone)).await?;
        Ok(folding.finish())
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
        let ByAccount(by_account) = self
            .rows(Read { scope: Scope::Platform, filter, grouping, time_zone: Tz::UTC }, now, ByAccount::default())
            .await?;
        let mut top: Vec<(String, i64, i64)> =
            by_account.into_iter().filter(|(_, (events, _))| *events > 0).map(|(a, (e, c))| (a, e, c)).collect();
        top.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        top.truncate(limit);
        Ok(top)
    }

    /// Every row that `read` selects, into `sink`.
    async fn rows<S: Sink>(&self, read: Read<'_>, now: DateTime<Utc>, sink: S) -> Result<S> {
        let Some(start_ms) = self.range_start(read.scope, read.filter).await? else { return Ok(sink) };
        let end_ms = read.filter.to.map_or(now.timestamp_millis() + 1, |to| to.timestamp_millis()).max(start_ms);
        self.rows_between(read, (start_ms, end_ms), sink).await
    }

    /// The rows of `rows` from `start_ms` to `end_ms`.
    async fn rows_between<S: Sink>(&self, read: Read<'_>, (start_ms, end_ms): (i64, i64), mut sink: S) -> Result<S> {
        let Read { scope, filter, grouping, time_zone } = read;
        let by_period = grouping.group.period.is_some();
        let pieces: Vec<Piece> =
            offset_runs(time_zone, start_ms, end_ms).into_iter().flat_map(|run| pieces(run, by_period)).collect();
        let layout = Layout::of(grouping, &pieces);
        // The pieces in as few statements as SQLite takes: each would cost a
        // round trip (most on PostgreSQL), and a light account's summary is
        // mostly round trips.
        let mut statement = Sql::new(self.backend());
        let mut selects = 0;
        for piece in pieces {
            let mut select = Sql::new(self.backend());
            piece_select(&mut select, scope, filter, layout, piece);
            let full = selects == SELECTS_MAX || statement.values.len() + select.values.len() > VALUES_MAX;
            if selects > 0 && full {
                let done = std::mem::replace(&mut statement, Sql::new(self.backend()));
                sink = self.analytics_rows(done, layout, sink).await?;
                selects = 0;
            }
            if selects > 0 {
                statement.push(" UNION ALL ");
            }
            statement.append(select);
            selects += 1;
        }
        if selects > 0 {
            sink = self.analytics_rows(statement, layout, sink).await?;
        }
        Ok(sink)
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

    /// Rows of an analytics query, read by position as `layout` says, into
    /// `sink` as they come; a row moved from a neighbouring day is also
    /// taken back from it.
    async fn analytics_rows<S: Sink>(&self, sql: Sql, layout: Layout, sink: S) -> Result<S> {
        let add = move |sink: &mut S, (account, row, taken_from): (&str, Row<'_>, i64)| {
            sink.add(account, row);
            if taken_from != 0 {
                sink.add(account, row.taken_from(taken_from));
            }
        };
        let each = move |sink: &mut S, row: &dyn Columns| {
            layout.read(|i| row.number(i), |i| row.text(i)).map(|read| add(sink, read))
        };
        self.engine.fold(sql.statement(), sink, Box::new(each)).await
    }
}

/// Appends the SELECT of `piece`'s rows, its columns as `layout` says.
fn piece_select(sql: &mut Sql, scope: Scope<'_>, filter: &UsageFilter, layout: Layout, piece: Piece) {
    // One account's rollup rows are few (a year of days is ~11,000 for the
    // heaviest user of the usage benchmark): folding them here costs less
    // than the database sorting them for GROUP BY. A total (nothing
    // grouped) needs no sort and stays in SQL.
    let rollups = matches!(piece.source, Source::Rollup { .. } | Source::Moved(_));
    let aggregate = !(layout.groups() && rollups && matches!(scope, Scope::Account(_)));
    let (time, model) = match rollups {
        true => ("bucket_start_ms", "model_id"),
        false => ("created_at_ms", "COALESCE(model_id, '')"),
    };
    let refunded = refunded_credits(filter, rollups);
    let counts: [String; 4] = match (rollups, aggregate) {
        (true, true) => {
            ["events", "outputs", "credits", &refunded].map(|count| format!("CAST(SUM({count}) AS BIGINT)"))
        }
        (true, false) => ["events", "outputs", "credits", &refunded].map(str::to_owned),
        // A wholly refunded event counts only in its refunded credits.
        (false, _) => [
            "CASE WHEN status = 'REFUNDED' THEN 0 ELSE 1 END",
            "CASE WHEN status = 'REFUNDED' THEN 0 ELSE count END",
            "credits - refunded_credits",
            &refunded,
        ]
        .map(|count| format!("CAST(SUM({count}) AS BIGINT)")),
    };
    // Every column is a bigint, and so is what is worked out from them:
    // only a sum (numeric on PostgreSQL) and a constant are cast. A cast
    // is a step of SQLite's machine per value, ~7 % of a year's summary.
    let day = match piece.offset_ms {
        0 => format!("{time} / {DAY_MS}"),
        offset_ms => format!("({time} + {offset_ms}) / {DAY_MS}"),
    };
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
    let taken_from = match piece.source {
        Source::Moved(part) => part.counted_in(),
        _ => 0,
    };
    let taken_from = format!("CAST({taken_from} AS BIGINT)");
    let counts = [counts[0].as_str(), &counts[1], &counts[2], &counts[3], &taken_from];
    let counts = counts[..if layout.moved { 5 } else { 4 }].iter();
    let selected: Vec<String> = grouped.iter().chain(counts).map(|column| column.to_string()).collect();
    sql.push(&format!("SELECT {} FROM ", selected.join(", ")));
    match piece.source {
        Source::Rollup { bucket_ms } => sql.push("usage_rollups WHERE bucket_ms = ").value(bucket_ms),
        Source::Moved(part) => moved_hours(sql, scope, piece, part).push(" AND bucket_ms = ").value(HOUR_MS),
        Source::Events => sql.push("usage_events WHERE credits >= 0"),
    };
    if !matches!(piece.source, Source::Moved(_)) {
        sql.push(&format!(" AND {time} >= "))
            .value(piece.start_ms)
            .push(&format!(" AND {time} < "))
            .value(piece.end_ms);
    }
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
    // Otherwise every row, folded as it comes.
}

/// The refunded credits of a rollup row or an event, of the filter's
/// refund causes. The causes are the domain's own names, never input text.
fn refunded_credits(filter: &UsageFilter, rollups: bool) -> String {
    let causes = filter.refund_causes.clone().unwrap_or_else(|| RefundCause::ALL.to_vec());
    if rollups {
        let columns: Vec<String> =
            causes.iter().map(|cause| format!("refunded_{}", cause.as_str().to_lowercase())).collect();
        return if columns.is_empty() { "0".into() } else { columns.join(" + ") };
    }
    if filter.refund_causes.is_none() {
        return "refunded_credits".into();
    }
    let names: Vec<String> = causes.iter().map(|cause| format!("'{}'", cause.as_str())).collect();
    let names = if names.is_empty() { "''".to_owned() } else { names.join(", ") };
    format!(
        "(SELECT COALESCE(SUM(r.credits), 0) FROM usage_refunds r \
          WHERE r.usage_event_id = usage_events.id AND r.cause IN ({names}))"
    )
}

/// The days of `piece` joined to the hourly rollups of `part` of each: a
/// range of the key for each day, so that only those hours are read.
fn moved_hours<'s>(sql: &'s mut Sql, scope: Scope<'_>, piece: Piece, part: DayPart) -> &'s mut Sql {
    let (from_ms, to_ms) = part.span_ms();
    let last_day = piece.end_ms - DAY_MS;
    match scope {
        // An account's days with usage, from its daily rows (each charge
        // and refund writes its hour's row and its day's row together): a
        // light account has a few dozen, not a year of them.
        Scope::Account(account) => sql
            .push("(SELECT DISTINCT bucket_start_ms AS day FROM usage_rollups WHERE account_id = ")
            .value(account)
            .push(" AND bucket_ms = ")
            .value(DAY_MS)
            .push(" AND bucket_start_ms >= ")
            .value(piece.start_ms)
            .push(" AND bucket_start_ms < ")
            .value(piece.end_ms)
            .push(") AS days"),
        Scope::Platform => sql.day_series(piece.start_ms, last_day, DAY_MS).push(" AS days"),
    };
    // CROSS JOIN: SQLite takes the days as the outer loop, as it must.
    sql.push(" CROSS JOIN usage_rollups WHERE bucket_start_ms >= days.day + ")
        .value(from_ms)
        .push(" AND bucket_start_ms < days.day + ")
        .value(to_ms)
}

/// Where an analytics query's rows go as they are read: each row with its
/// account (empty unless grouped by account).
trait Sink: Send + 'static {
    fn add(&mut self, account: &str, row: Row<'_>);
}

impl Sink for Folding {
    fn add(&mut self, _account: &str, row: Row<'_>) {
        Folding::add(self, row);
    }
}

/// Generations and credits by account.
#[derive(Default)]
struct ByAccount(HashMap<String, (i64, i64)>);

impl Sink for ByAccount {
    fn add(&mut self, account: &str, row: Row<'_>) {
        // An account's name is copied once, not for each of its rows.
        match self.0.get_mut(account) {
            Some(totals) => *totals = (totals.0 + row.events, totals.1 + row.credits),
            None => {
                self.0.insert(account.to_owned(), (row.events, row.credits));
            }
        }
    }
}

/// Which grouped columns an analytics query selects, in this order, before
/// its four counts (events, outputs, credits, refunded credits) and, when some of its rows
/// are moved, the day they are taken back from (relative to their own; 0
/// for none).
#[derive(Clone, Copy, Debug)]
struct Layout {
    day: bool,
    account: bool,
    studio: bool,
    tool: bool,
    model: bool,
    moved: bool,
}

impl Layout {
    fn of(grouping: Grouping, pieces: &[Piece]) -> Layout {
        let group = grouping.group;
        Layout {
            day: group.period.is_some(),
            account: grouping.by_account,
            studio: group.studio,
            tool: group.tool,
            model: group.model,
            moved: pieces.iter().any(|piece| matches!(piece.source, Source::Moved(_))),
        }
    }

    fn groups(self) -> bool {
        self.day || self.account || self.studio || self.tool || self.model
    }

    /// `(account_id, row, taken_from)` with what was not selected left empty.
    fn read<'r, E>(
        self,
        number: impl Fn(usize) -> std::result::Result<i64, E>,
        text: impl Fn(usize) -> std::result::Result<&'r str, E>,
    ) -> std::result::Result<(&'r str, Row<'r>, i64), E> {
        let mut column = 0;
        let mut next = |on: bool| {
            on.then(|| {
                column += 1;
                column - 1
            })
        };
        let (day, account, studio, tool, model) =
            (next(self.day), next(self.account), next(self.studio), next(self.tool), next(self.model));
        let text = |at: Option<usize>| at.map_or(Ok(""), &text);
        let row = Row {
            local_day: day.map_or(Ok(0), &number)?,
            studio: text(studio)?,
            tool: text(tool)?,
            model_id: text(model)?,
            events: number(column)?,
            outputs: number(column + 1)?,
            credits: number(column + 2)?,
            refunded: number(column + 3)?,
        };
        let taken_from = if self.moved { number(column + 4)? } else { 0 };
        Ok((text(account)?, row, taken_from))
    }
}
