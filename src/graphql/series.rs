//! Chart-ready usage: `Account.usageSeries` and the admin's
//! `platformUsageSeries`, one column-shaped answer per chart. The periods,
//! lines and `other` are the domain's (`domain::series`); here they are
//! checked to fit GraphQL's `Int` and given their catalog models.
use std::sync::Arc;

use async_graphql::{Context, Enum, SimpleObject};
use chrono::{DateTime, Utc};

use super::catalog::{Model, StudioKind};
use super::columns::Column;
use super::context::{GraphqlResult, now, store};
use super::errors::graphql_error;
use super::scalars::int;
use super::usage::{UsageDimension, UsageFilterInput, domain_filter, time_zone};
use crate::domain::analytics::Period;
use crate::domain::series::{Line, LineKey, Series, SeriesRequest};
use crate::error::Error;
use crate::store::analytics::Scope;

/// The length of a series' periods, in the requested time zone.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "Period")]
pub enum UsageInterval {
    Day,
    /// From Monday.
    Week,
    Month,
}

/// Usage per period, zero-filled, split into lines; every line's arrays are
/// as long as `periods`.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageSeries {
    /// The start of every period of the range, in the time zone.
    pub periods: Column<DateTime<Utc>>,
    /// The top lines by credits, most first; then, when anything is left,
    /// one line with `other: true` adding up the rest.
    pub series: Vec<UsageSeriesLine>,
    pub generations: i32,
    pub outputs: i32,
    /// Net of refunds.
    pub credits: i32,
    /// Refunded of the range's generations (of the filter's `refundCauses`).
    pub refunded_credits: i32,
}

/// One studio's, tool's or model's usage per period (or everything's, or the rest's).
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageSeriesLine {
    /// Unique in the series: `all`, `other`, `studio:IMAGE`, `tool:upscale`, `model:sdxl`.
    pub key: String,
    /// For a legend: the model's name, the tool's or studio's code.
    pub label: String,
    /// Whether this line adds up what the top lines leave.
    pub other: bool,
    pub studio: Option<StudioKind>,
    pub tool: Option<String>,
    pub model: Option<Arc<Model>>,
    pub generations: Column<i32>,
    pub outputs: Column<i32>,
    /// Net of refunds.
    pub credits: Column<i32>,
    pub total_credits: i32,
    /// Refunded of each period's generations (of the filter's `refundCauses`).
    pub refunded_credits: Column<i32>,
}

const TOP_DEFAULT: i32 = 8;

/// The arguments of both fields.
pub struct SeriesArgs {
    pub filter: Option<UsageFilterInput>,
    pub interval: UsageInterval,
    pub by: Option<UsageDimension>,
    /// Absent or null: 8.
    pub top: Option<i32>,
    pub time_zone: Option<String>,
}

pub async fn usage_series(ctx: &Context<'_>, scope: Scope<'_>, args: SeriesArgs) -> GraphqlResult<UsageSeries> {
    let filter = domain_filter(args.filter)?;
    let request = SeriesRequest::new(
        args.interval.into(),
        args.by.map(Into::into),
        args.top.unwrap_or(TOP_DEFAULT),
        time_zone(args.time_zone)?,
    )
    .map_err(|e| graphql_error(Error::Domain(e)))?;
    let series = store(ctx)?.usage_series(scope, &filter, &request, now(ctx)?).await.map_err(graphql_error)?;
    answer(ctx, series)
}

/// Every figure as an `Int`: one past 32 bits (the platform's, over a long
/// range) is INVALID_INPUT on `filter`, as an account's summary is.
fn ints(figures: &[i64], what: &str) -> GraphqlResult<Column<i32>> {
    figures.iter().map(|&figure| int(figure, what)).collect::<GraphqlResult<_>>().map(Column)
}

fn answer(ctx: &Context<'_>, series: Series) -> GraphqlResult<UsageSeries> {
    let catalog = store(ctx)?.catalog();
    let line = |line: Line| -> GraphqlResult<UsageSeriesLine> {
        let model = match &line.key {
            LineKey::Model(Some(id)) => catalog.model(id).map(|m| Arc::new(Model::from(m))),
            _ => None,
        };
        Ok(UsageSeriesLine {
            key: line.key.key(),
            label: model.as_ref().map_or_else(|| line.key.label(), |m| m.name.clone()),
            other: line.key == LineKey::Other,
            studio: match line.key {
                LineKey::Studio(studio) => studio.map(Into::into),
                _ => None,
            },
            tool: match &line.key {
                LineKey::Tool(tool) => tool.clone(),
                _ => None,
            },
            model,
            generations: ints(&line.generations, "a period's generations")?,
            outputs: ints(&line.outputs, "a period's outputs")?,
            credits: ints(&line.credits, "a period's credits")?,
            total_credits: int(line.total_credits, "a line's credits")?,
            refunded_credits: ints(&line.refunded_credits, "a period's refunded credits")?,
        })
    };
    Ok(UsageSeries {
        generations: int(series.generations, "generations")?,
        outputs: int(series.outputs, "outputs")?,
        credits: int(series.credits, "credits")?,
        refunded_credits: int(series.refunded_credits, "refunded credits")?,
        series: series.lines.into_iter().map(line).collect::<GraphqlResult<_>>()?,
        periods: Column(series.periods),
    })
}
