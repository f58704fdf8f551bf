//! Top-ups (DESIGN.md section 7): `requestTopUp` (the user, or a service),
//! `completeTopUp` and `failTopUp` (the payments backend), `setAutoTopUp`,
//! and an account's `topUps` and `autoTopUp`.
use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::catalog::TokenPack;
use super::checks::{Checked, checked};
use super::context::{GraphqlResult, authenticated, now, require_account_access, require_backend, store};
use super::errors::{UserError, graphql_error, payload, payloads};
use super::pagination::{Cursors, PageArgs, page};
use super::wallet::Wallet;
use crate::domain::top_ups::{
    AUTO_TOP_UP_MONTHLY_LIMIT_DEFAULT, AutoTopUp as Settings, TopUp as Stored, TopUpStatus as DomainStatus,
    TopUpTrigger as DomainTrigger, checkout_url,
};
use crate::store::Store;
use crate::store::top_ups::{AutoTopUpRequest, TopUpChange};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainStatus")]
pub enum TopUpStatus {
    Pending,
    Succeeded,
    Failed,
    Expired,
}

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainTrigger")]
pub enum TopUpTrigger {
    Manual,
    Automatic,
}

/// One purchase of a token pack across systems.
#[derive(SimpleObject, Clone, Debug)]
pub struct TopUp {
    pub id: ID,
    pub pack: TokenPack,
    pub status: TopUpStatus,
    pub trigger: TopUpTrigger,
    pub created_at: DateTime<Utc>,
    /// When a pending top-up expires.
    pub expires_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub payment_reference: Option<String>,
    pub failure_reason: Option<String>,
    /// Where the user pays for it (`CREDITS_CHECKOUT_URL`); null when not configured.
    pub checkout_url: Option<String>,
}

impl TopUp {
    fn new(store: &Store, top_up: Stored) -> TopUp {
        let pack = store
            .catalog()
            .token_pack(&top_up.pack_id)
            .map_or_else(|| TokenPack { id: ID(top_up.pack_id.clone()), tokens: 0, price_cents: 0 }, TokenPack::from);
        TopUp {
            id: ID(top_up.id.to_string()),
            checkout_url: checkout_url(store.rules().checkout_url.as_deref(), top_up.id),
            pack,
            status: top_up.status.into(),
            trigger: top_up.trigger.into(),
            created_at: top_up.created_at,
            expires_at: top_up.expires_at,
            completed_at: top_up.completed_at,
            payment_reference: top_up.payment_reference,
            failure_reason: top_up.failure_reason,
        }
    }
}

/// An account's automatic top-up.
#[derive(SimpleObject, Clone, Debug)]
pub struct AutoTopUp {
    pub enabled: bool,
    /// A top-up is requested when `balance` falls below this.
    pub threshold: i64,
    pub pack: Option<TokenPack>,
    pub monthly_limit: i32,
    /// Automatic top-ups requested this calendar month (UTC), whatever their outcome.
    pub requested_this_month: i32,
    pub consecutive_failures: i32,
}

impl AutoTopUp {
    pub fn new(store: &Store, settings: &Settings, now: DateTime<Utc>) -> AutoTopUp {
        let catalog = store.catalog();
        let pack = settings.pack_id.as_deref().and_then(|id| catalog.token_pack(id));
        AutoTopUp {
            enabled: settings.enabled,
            threshold: settings.threshold.get(),
            pack: pack.map(TokenPack::from),
            monthly_limit: settings.monthly_limit,
            requested_this_month: settings.requested_in(now),
            consecutive_failures: settings.consecutive_failures,
        }
    }
}

pub type TopUpConnection = Connection<String, TopUp, EmptyFields>;

/// An account's top-ups, newest first.
pub async fn top_up_connection(ctx: &Context<'_>, account_id: &str, args: PageArgs) -> GraphqlResult<TopUpConnection> {
    let cursors = Cursors::new("topUps", String::new());
    let page = page(args, &cursors)?;
    let store = store(ctx)?;
    let rows = store.top_ups(account_id, page.read()).await.map_err(graphql_error)?;
    Ok(page.connection(rows, &cursors, |top_up: &Stored| top_up.id, |top_up| TopUp::new(store, top_up), EmptyFields))
}

#[derive(InputObject)]
pub struct RequestTopUpInput {
    /// Absent: the caller's own account.
    pub account_id: Option<ID>,
    pub pack_id: ID,
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct CompleteTopUpInput {
    pub top_up_id: ID,
    pub payment_reference: String,
}

#[derive(InputObject)]
pub struct FailTopUpInput {
    pub top_up_id: ID,
    pub reason: String,
}

#[derive(InputObject)]
pub struct SetAutoTopUpInput {
    /// Absent: the caller's own account.
    pub account_id: Option<ID>,
    pub enabled: bool,
    /// Absent: unchanged (0 at first).
    pub threshold: Option<i64>,
    /// Absent: unchanged; needed to switch it on the first time.
    pub pack_id: Option<ID>,
    /// Null: the default.
    #[graphql(default_with = "Some(AUTO_TOP_UP_MONTHLY_LIMIT_DEFAULT)")]
    pub monthly_limit: Option<i32>,
}

#[derive(SimpleObject, Default)]
pub struct TopUpPayload {
    pub top_up: Option<TopUp>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct AutoTopUpPayload {
    pub auto_top_up: Option<AutoTopUp>,
    pub errors: Vec<UserError>,
}

payloads!(TopUpPayload, AutoTopUpPayload);

impl Checked for RequestTopUpInput {
    fn check(&self) -> Result<(), crate::domain::error::DomainError> {
        use crate::domain::text::{ACCOUNT_ID, IDEMPOTENCY_KEY, PACK_ID};
        ACCOUNT_ID.check_optional(self.account_id.as_deref().map(String::as_str))?;
        PACK_ID.check(&self.pack_id)?;
        IDEMPOTENCY_KEY.check(&self.idempotency_key)
    }
}

impl Checked for CompleteTopUpInput {
    fn check(&self) -> Result<(), crate::domain::error::DomainError> {
        crate::domain::text::TOP_UP_ID.check(&self.top_up_id)?;
        crate::domain::text::PAYMENT_REFERENCE.check(&self.payment_reference)
    }
}

impl Checked for FailTopUpInput {
    fn check(&self) -> Result<(), crate::domain::error::DomainError> {
        crate::domain::text::TOP_UP_ID.check(&self.top_up_id)?;
        crate::domain::text::REASON.check(&self.reason)
    }
}

impl Checked for SetAutoTopUpInput {
    fn check(&self) -> Result<(), crate::domain::error::DomainError> {
        use crate::domain::text::{ACCOUNT_ID, PACK_ID};
        ACCOUNT_ID.check_optional(self.account_id.as_deref().map(String::as_str))?;
        PACK_ID.check_optional(self.pack_id.as_deref().map(String::as_str))
    }
}

/// The account a user acts on (their own) or a service names.
fn target(ctx: &Context<'_>, account_id: Option<&ID>) -> GraphqlResult<String> {
    let (own, _) = authenticated(ctx)?;
    let account_id = account_id.map_or_else(|| own.to_owned(), |id| id.0.clone());
    require_account_access(ctx, &account_id)?;
    Ok(account_id)
}

fn top_up_payload(store: &Store) -> impl FnOnce(TopUpChange) -> TopUpPayload + '_ {
    move |change| TopUpPayload {
        top_up: Some(TopUp::new(store, change.top_up)),
        wallet: Some(Wallet::from(&change.wallet)),
        errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct TopUpsMutation;

#[Object]
impl TopUpsMutation {
    /// Asks for a top-up of a token pack (subscribers only, one pending at a
    /// time); the payments backend completes or fails it.
    async fn request_top_up(&self, ctx: &Context<'_>, input: RequestTopUpInput) -> GraphqlResult<TopUpPayload> {
        let account_id = target(ctx, input.account_id.as_ref())?;
        let store = store(ctx)?;
        let request = store.request_top_up(&account_id, &input.pack_id, &input.idempotency_key, now(ctx)?);
        payload(checked(input.check(), request).await, top_up_payload(store))
    }

    /// The payment went through: the pack's tokens are granted, once.
    async fn complete_top_up(&self, ctx: &Context<'_>, input: CompleteTopUpInput) -> GraphqlResult<TopUpPayload> {
        require_backend(ctx, "completeTopUp")?;
        let store = store(ctx)?;
        let complete = store.complete_top_up(&input.top_up_id, &input.payment_reference, now(ctx)?);
        payload(checked(input.check(), complete).await, top_up_payload(store))
    }

    /// The payment failed.
    async fn fail_top_up(&self, ctx: &Context<'_>, input: FailTopUpInput) -> GraphqlResult<TopUpPayload> {
        require_backend(ctx, "failTopUp")?;
        let store = store(ctx)?;
        let fail = store.fail_top_up(&input.top_up_id, &input.reason, now(ctx)?);
        payload(checked(input.check(), fail).await, top_up_payload(store))
    }

    /// Switches the automatic top-up on or off, with its threshold, pack and monthly limit.
    async fn set_auto_top_up(&self, ctx: &Context<'_>, input: SetAutoTopUpInput) -> GraphqlResult<AutoTopUpPayload> {
        let account_id = target(ctx, input.account_id.as_ref())?;
        let (store, now) = (store(ctx)?, now(ctx)?);
        let request = AutoTopUpRequest {
            enabled: input.enabled,
            threshold: input.threshold,
            pack_id: input.pack_id.as_ref().map(|id| id.0.clone()),
            monthly_limit: Some(input.monthly_limit.unwrap_or(AUTO_TOP_UP_MONTHLY_LIMIT_DEFAULT)),
        };
        let set = store.set_auto_top_up(&account_id, request, now);
        payload(checked(input.check(), set).await, |settings| AutoTopUpPayload {
            auto_top_up: Some(AutoTopUp::new(store, &settings, now)),
            errors: Vec::new(),
        })
    }

    /// Applies now what time made due (period ends, expiries and their
    /// notices, hold and top-up time-outs) to every account, and on
    /// PostgreSQL makes the coming months' partitions (admin); the server's
    /// scheduler does the same on a timer. Returns the accounts settled.
    async fn run_scheduler(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        super::context::require_admin(ctx, "runScheduler")?;
        let run = store(ctx)?.run_scheduler(now(ctx)?).await.map_err(graphql_error)?;
        Ok(run.accounts as i64)
    }
}
