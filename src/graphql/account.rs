//! Accounts: `viewer` (the caller's own) and `account(id)` (backends, admins).
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::catalog::Plan;
use super::context::{GraphqlResult, authenticated, now, require_backend, store};
use super::errors::graphql_error;
use super::events::{EventConnection, EventFilterInput, event_connection};
use super::ledger::{LedgerEntryConnection, LedgerFilterInput, ledger_connection};
use super::pagination::PageArgs;
use super::scalars::int_buckets;
use super::series::{SeriesArgs, UsageInterval, UsageSeries, usage_series};
use super::top_ups::{AutoTopUp, TopUpConnection, top_up_connection};
use super::usage::{
    UsageBucket, UsageDimension, UsageEventConnection, UsageFilterInput, usage_connection, usage_summary,
};
use super::wallet::Wallet;
use crate::domain::subscription::{Subscription, SubscriptionStatus as DomainStatus};
use crate::domain::text::validate_account_id;
use crate::store::analytics::Scope;
use crate::store::snapshot::AccountSnapshot;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainStatus")]
pub enum SubscriptionStatus {
    Active,
    Canceled,
    Expired,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PlanSubscription {
    pub plan: Plan,
    pub status: SubscriptionStatus,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
}

impl PlanSubscription {
    pub fn new(ctx: &Context<'_>, subscription: &Subscription) -> GraphqlResult<Self> {
        let catalog = store(ctx)?.catalog();
        let plan = catalog.plan(&subscription.plan_code).unwrap_or_else(|| catalog.free_plan());
        Ok(PlanSubscription {
            plan: plan.into(),
            status: subscription.status.into(),
            current_period_start: subscription.current_period_start,
            current_period_end: subscription.current_period_end,
            cancel_at_period_end: subscription.cancel_at_period_end,
        })
    }
}

/// An account as of this request, settled for the time that passed. Its
/// wallet is read (and settled) only if a field that shows it is asked for:
/// usage, summaries and the ledger need nothing but the id.
pub struct Account {
    id: String,
    snapshot: OnceCell<AccountSnapshot>,
}

impl Account {
    pub fn new(id: String) -> Self {
        Account { id, snapshot: OnceCell::new() }
    }

    async fn snapshot(&self, ctx: &Context<'_>) -> GraphqlResult<&AccountSnapshot> {
        self.snapshot
            .get_or_try_init(|| async { store(ctx)?.account(&self.id, now(ctx)?).await.map_err(graphql_error) })
            .await
    }
}

#[Object]
impl Account {
    async fn id(&self) -> ID {
        ID(self.id.clone())
    }

    async fn wallet(&self, ctx: &Context<'_>) -> GraphqlResult<Wallet> {
        Ok(Wallet::from(&self.snapshot(ctx).await?.wallet))
    }

    /// The plan of the active subscription; Free when there is none.
    async fn plan(&self, ctx: &Context<'_>) -> GraphqlResult<Plan> {
        Ok(Plan::from(&self.snapshot(ctx).await?.entitlement.plan))
    }

    /// The latest subscription, active or ended; null if there never was one.
    async fn subscription(&self, ctx: &Context<'_>) -> GraphqlResult<Option<PlanSubscription>> {
        self.snapshot(ctx).await?.subscription.as_ref().map(|s| PlanSubscription::new(ctx, s)).transpose()
    }

    /// What the account generated, newest first.
    #[allow(clippy::too_many_arguments)]
    async fn usage(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<UsageFilterInput>,
    ) -> GraphqlResult<UsageEventConnection> {
        usage_connection(ctx, &self.id, PageArgs { first, after, last, before }, filter).await
    }

    /// Generations, outputs and credits grouped by time and/or studio, tool,
    /// model; days, weeks and months in `timeZone` (IANA, default UTC).
    async fn usage_summary(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        group_by: Vec<UsageDimension>,
        time_zone: Option<String>,
    ) -> GraphqlResult<Vec<UsageBucket>> {
        usage_summary(ctx, Scope::Account(&self.id), filter, &group_by, time_zone).await.and_then(int_buckets)
    }

    /// Usage per day, week or month for a chart: every period of the range
    /// (default: the last 30 days) zero-filled, in `timeZone` (IANA, default
    /// UTC); one line, or one per studio, tool or model (`by`), the `top`
    /// by credits then one `other` line for the rest.
    async fn usage_series(
        &self,
        ctx: &Context<'_>,
        filter: Option<UsageFilterInput>,
        #[graphql(default_with = "UsageInterval::Day")] interval: UsageInterval,
        by: Option<UsageDimension>,
        #[graphql(default = 8)] top: Option<i32>,
        time_zone: Option<String>,
    ) -> GraphqlResult<UsageSeries> {
        let args = SeriesArgs { filter, interval, by, top, time_zone };
        usage_series(ctx, Scope::Account(&self.id), args).await
    }

    /// Token top-ups, newest first.
    async fn top_ups(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GraphqlResult<TopUpConnection> {
        top_up_connection(ctx, &self.id, PageArgs { first, after, ..PageArgs::default() }).await
    }

    /// The automatic top-up's settings and this month's count.
    async fn auto_top_up(&self, ctx: &Context<'_>) -> GraphqlResult<AutoTopUp> {
        let settings = &self.snapshot(ctx).await?.auto_top_up;
        Ok(AutoTopUp::new(store(ctx)?, settings, now(ctx)?))
    }

    /// Every movement of credits, newest first.
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<LedgerFilterInput>,
    ) -> GraphqlResult<LedgerEntryConnection> {
        ledger_connection(ctx, &self.id, PageArgs { first, after, last, before }, filter).await
    }

    /// What happened to the account, newest first, as webhooks tell it.
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<EventFilterInput>,
    ) -> GraphqlResult<EventConnection> {
        let args = PageArgs { first, after, ..PageArgs::default() };
        event_connection(ctx, Some(&self.id), args, filter).await
    }
}

/// An account by id; a malformed id is refused here, before any field.
pub fn load_account(account_id: &str) -> GraphqlResult<Account> {
    validate_account_id(account_id).map_err(|error| graphql_error(error.into()))?;
    Ok(Account::new(account_id.to_owned()))
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller's own account (created when its wallet is first read).
    async fn viewer(&self, ctx: &Context<'_>) -> GraphqlResult<Account> {
        let (account_id, _) = authenticated(ctx)?;
        load_account(account_id)
    }

    /// Any account (created when its wallet is first read); service and admin.
    async fn account(&self, ctx: &Context<'_>, id: ID) -> GraphqlResult<Option<Account>> {
        require_backend(ctx, "account(id)")?;
        load_account(&id).map(Some)
    }
}
