//! The platform view for admins: usage added up over every account. Its
//! figures can pass 32 bits, so they are `BigInt`s (decimal strings) where
//! an account's own figures are `Int`s.
use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::catalog::{Model, StudioKind};
use super::context::{GraphqlResult, now, require_admin, store};
use super::errors::graphql_error;
use super::pagination::page_size;
use super::scalars::BigInt;
use super::series::{SeriesArgs, UsageInterval, UsageSeries, usage_series};
use super::usage::{UsageBucket, UsageDimension, UsageFilterInput, domain_filter, usage_summary};
use crate::store::analytics::Scope;

/// Generations, outputs, credits and refunded credits of one group, over every account.
#[derive(SimpleObject, Clone, Debug)]
pub struct PlatformUsageBucket {
    /// Start of the day, week (Monday) or month in the requested time zone.
    pub period_start: Option<DateTime<Utc>>,
    pub studio: Option<StudioKind>,
    pub tool: Option<String>,
    pub model: Option<Arc<Model>>,
    pub generations: BigInt,
    pub outputs: BigInt,
    /// Net of refunds.
    pub credits: BigInt,
    /// Refunded of the bucket's generations (of the filter's `refundCauses`).
    pub refunded_credits: BigInt,
}

impl From<UsageBucket> for PlatformUsageBucket {
    fn from(bucket: UsageBucket) -> Self {
        PlatformUsageBucket {
            period_start: bucket.period_start,
            studio: bucket.studio,
            tool: bucket.tool,
            model: bucket.model,
            generations: BigInt(bucket.generations),
            outputs: BigInt(bucket.outputs),
            credits: BigInt(bucket.credits),
            refunded_credits: BigInt(bucket.refunded_credits),
        }
    }
}

/// What one account spent in a filter, among the platform's top accounts.
#[derive(SimpleObject)]
pub struct AccountUsage {
    pub account_id: ID,
    pub generations: BigInt,
    pub credits: BigInt,
}

#[derive(Default)]
pub struct PlatformUsageQuery;

#[Object]
impl PlatformUsageQuery {
    /// Usage of every account, grouped like `Account.usageSummary` (admin).
    async fn platform_usage(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        group_by: Vec<UsageDimension>,
        time_zone: Option<String>,
    ) -> GraphqlResult<Vec<PlatformUsageBucket>> {
        require_admin(ctx, "platformUsage")?;
        let buckets = usage_summary(ctx, Scope::Platform, filter, &group_by, time_zone).await?;
        Ok(buckets.into_iter().map(PlatformUsageBucket::from).collect())
    }

    /// Usage of every account per period, like `Account.usageSeries` (admin).
    /// Its figures are `Int`s: one past 32 bits is INVALID_INPUT on
    /// `filter`, whose range the client can narrow.
    async fn platform_usage_series(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        #[graphql(default_with = "UsageInterval::Day")] interval: UsageInterval,
        by: Option<UsageDimension>,
        #[graphql(default = 8)] top: Option<i32>,
        time_zone: Option<String>,
    ) -> GraphqlResult<UsageSeries> {
        require_admin(ctx, "platformUsageSeries")?;
        usage_series(ctx, Scope::Platform, SeriesArgs { filter, interval, by, top, time_zone }).await
    }

    /// The accounts that spent the most credits in the filter (admin).
    async fn top_accounts(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        #[graphql(default = 10)] limit: i32,
    ) -> GraphqlResult<Vec<AccountUsage>> {
        require_admin(ctx, "topAccounts")?;
        let limit = page_size(limit, "limit")? as usize;
        let filter = domain_filter(filter)?;
        let top = store(ctx)?.top_accounts(&filter, limit, now(ctx)?).await.map_err(graphql_error)?;
        Ok(top
            .into_iter()
            .map(|(account, generations, credits)| AccountUsage {
                account_id: ID(account),
                generations: BigInt(generations),
                credits: BigInt(credits),
            })
            .collect())
    }

    /// The models that earned the most credits in the filter (admin).
    async fn top_models(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        #[graphql(default = 10)] limit: i32,
    ) -> GraphqlResult<Vec<PlatformUsageBucket>> {
        require_admin(ctx, "topModels")?;
        let limit = page_size(limit, "limit")? as usize;
        let by_model = usage_summary(ctx, Scope::Platform, filter, &[UsageDimension::Model], None).await?;
        Ok(by_model.into_iter().filter(|bucket| bucket.model.is_some()).take(limit).map(Into::into).collect())
    }
}
