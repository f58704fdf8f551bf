//! Usage history and analytics: an account's usage connection and summary
//! (the platform view for admins is `platform.rs`).
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::OnceCell;

use super::catalog::{Model, StudioKind};
use super::checks::query_check;
use super::context::{GraphqlResult, now, store};
use super::errors::graphql_error;
use super::pagination::{Cursors, PageArgs, page};
use super::refunds::RefundCause;
use super::scalars::int;
use super::spending::UsageEvent;
use crate::domain::analytics::{Bucket, Dimension, GroupBy, UsageFilter};
use crate::domain::error::DomainError;
use crate::domain::text;
use crate::domain::usage::UsageEvent as Event;
use crate::error::Error;
use crate::store::analytics::Scope;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "Dimension")]
pub enum UsageDimension {
    Day,
    Week,
    Month,
    Studio,
    Tool,
    Model,
}

#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "UsageFilter")]
pub struct UsageFilterInput {
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
    pub studios: Option<Vec<StudioKind>>,
    pub tools: Option<Vec<String>>,
    pub model_ids: Option<Vec<ID>>,
    /// Which refunds `refundedCredits` counts: those of these causes (all
    /// when omitted). It selects no generations: every other figure, and
    /// the events `usage` lists, are the same with or without it.
    pub refund_causes: Option<Vec<RefundCause>>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> async_graphql::Error {
    graphql_error(Error::Domain(DomainError::invalid(field, message)))
}

pub(super) fn domain_filter(filter: Option<UsageFilterInput>) -> GraphqlResult<UsageFilter> {
    let filter = filter.unwrap_or_default();
    let filter = UsageFilter {
        from: filter.from,
        to: filter.to,
        studios: filter.studios.map(|s| s.into_iter().map(Into::into).collect()),
        tools: filter.tools,
        model_ids: filter.model_ids.map(|ids| ids.into_iter().map(|id| id.0).collect()),
        refund_causes: filter.refund_causes.map(|causes| causes.into_iter().map(Into::into).collect()),
    };
    filter.validate().map_err(|e| graphql_error(Error::Domain(e)))?;
    Ok(filter)
}

pub(super) fn time_zone(name: Option<String>) -> GraphqlResult<Tz> {
    let name = name.unwrap_or_else(|| "UTC".into());
    query_check(text::TIME_ZONE.check(&name))?;
    name.parse().map_err(|_| invalid("timeZone", format!("{name} is not an IANA time zone")))
}

fn group_by(dimensions: &[UsageDimension]) -> GraphqlResult<GroupBy> {
    let dimensions: Vec<Dimension> = dimensions.iter().map(|&d| d.into()).collect();
    GroupBy::new(&dimensions).map_err(|e| graphql_error(Error::Domain(e)))
}

/// Generations, outputs, credits and refunded credits of one group. A
/// generation wholly refunded counts only in `refundedCredits`.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageBucket {
    /// Start of the day, week (Monday) or month in the requested time zone.
    pub period_start: Option<DateTime<Utc>>,
    pub studio: Option<StudioKind>,
    pub tool: Option<String>,
    pub model: Option<Arc<Model>>,
    pub generations: i64,
    pub outputs: i64,
    /// Net of refunds: charged and not given back.
    pub credits: i64,
    /// Refunded of the bucket's generations (of the filter's `refundCauses`).
    pub refunded_credits: i64,
}

fn buckets(ctx: &Context<'_>, buckets: Vec<Bucket>) -> GraphqlResult<Vec<UsageBucket>> {
    let catalog = store(ctx)?.catalog();
    // One `Model` per model id, shared by its buckets.
    let mut models: HashMap<String, Arc<Model>> = HashMap::new();
    let mut model = |id: String| match models.entry(id) {
        Entry::Occupied(model) => Some(model.get().clone()),
        Entry::Vacant(entry) => {
            let model = Arc::new(Model::from(catalog.model(entry.key())?));
            Some(entry.insert(model).clone())
        }
    };
    Ok(buckets
        .into_iter()
        .map(|b| UsageBucket {
            period_start: b.period_start,
            studio: b.studio.map(Into::into),
            tool: b.tool,
            model: b.model_id.and_then(&mut model),
            generations: b.generations,
            outputs: b.outputs,
            credits: b.credits,
            refunded_credits: b.refunded_credits,
        })
        .collect())
}

pub async fn usage_summary(
    ctx: &Context<'_>,
    scope: Scope<'_>,
    filter: Option<UsageFilterInput>,
    group: &[UsageDimension],
    time_zone_name: Option<String>,
) -> GraphqlResult<Vec<UsageBucket>> {
    let (filter, group, tz) = (domain_filter(filter)?, group_by(group)?, time_zone(time_zone_name)?);
    let summary = store(ctx)?.usage_summary(scope, &filter, group, tz, now(ctx)?).await.map_err(graphql_error)?;
    buckets(ctx, summary)
}

/// `totalCount` and `totalCredits`, computed (together, once) only when asked.
pub struct UsageTotals {
    account_id: String,
    filter: UsageFilter,
    totals: OnceCell<(i64, i64)>,
}

impl UsageTotals {
    async fn get(&self, ctx: &Context<'_>) -> GraphqlResult<(i64, i64)> {
        let totals = self.totals.get_or_try_init(|| async {
            let now = now(ctx)?;
            store(ctx)?.usage_totals(Scope::Account(&self.account_id), &self.filter, now).await.map_err(graphql_error)
        });
        totals.await.copied()
    }
}

#[Object]
impl UsageTotals {
    /// Generations in the filter (charged, not refunded).
    async fn total_count(&self, ctx: &Context<'_>) -> GraphqlResult<i32> {
        int(self.get(ctx).await?.0, "totalCount")
    }

    /// Credits of those generations.
    async fn total_credits(&self, ctx: &Context<'_>) -> GraphqlResult<i32> {
        int(self.get(ctx).await?.1, "totalCredits")
    }
}

pub type UsageEventConnection = Connection<String, UsageEvent, UsageTotals>;

/// Newest first. `first`/`after` pages towards older events, `last`/`before`
/// towards newer ones; cursors are bound to the filter.
pub async fn usage_connection(
    ctx: &Context<'_>,
    account_id: &str,
    args: PageArgs,
    filter: Option<UsageFilterInput>,
) -> GraphqlResult<UsageEventConnection> {
    let filter = domain_filter(filter)?;
    let cursors = Cursors::new("usage", filter.fingerprint());
    let page = page(args, &cursors)?;
    let events = store(ctx)?.usage_page(account_id, &filter, page.read()).await.map_err(graphql_error)?;
    let totals = UsageTotals { account_id: account_id.to_owned(), filter, totals: OnceCell::new() };
    let position = |event: &Event| (event.created_at.timestamp_millis(), event.id);
    Ok(page.connection(events, &cursors, position, UsageEvent, totals))
}
