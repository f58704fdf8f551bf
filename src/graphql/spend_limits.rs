//! Spend limits (DESIGN.md section 10): `setSpendLimit`, and the limits as
//! the wallet shows them.
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, authenticated, now, require_account_access, store};
use super::errors::{UserError, graphql_error, payload, payloads};
use super::wallet::Wallet;
use crate::auth::Role;
use crate::domain::money::Credits;
use crate::domain::spend_limits::{LimitChange, Setter, SpendLimitKind as DomainKind, SpendLimitView};
use crate::error::Error;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainKind")]
pub enum SpendLimitKind {
    Daily,
    PerGeneration,
}

/// An account's spend limits, in credits; null is no limit. The user's and
/// an admin's are kept apart, and the lower one applies.
#[derive(SimpleObject, Clone, Debug)]
pub struct SpendLimit {
    /// The daily limit that applies: the lower of `userDaily` and `adminDaily`.
    pub daily: Option<i64>,
    /// The per-generation limit that applies: the lower of the two.
    pub per_generation: Option<i64>,
    /// Credits counted against today's limit (charges and open holds of the
    /// day, less what came back); null without a daily limit.
    pub daily_spent: Option<i64>,
    /// What today's limit still allows: `daily - dailySpent`, never below 0;
    /// null without a daily limit.
    pub daily_left: Option<i64>,
    /// When today's count starts again (the next day boundary of the
    /// server's day zone); null without a daily limit.
    pub daily_resets_at: Option<DateTime<Utc>>,
    /// The limits the account's user set.
    pub user_daily: Option<i64>,
    pub user_per_generation: Option<i64>,
    /// The limits an admin set; a user cannot go above them.
    pub admin_daily: Option<i64>,
    pub admin_per_generation: Option<i64>,
}

impl From<&SpendLimitView> for SpendLimit {
    fn from(view: &SpendLimitView) -> Self {
        let get = |credits: Option<Credits>| credits.map(Credits::get);
        SpendLimit {
            daily: get(view.effective.daily),
            per_generation: get(view.effective.per_generation),
            daily_spent: get(view.daily_spent),
            daily_left: get(view.daily_left),
            daily_resets_at: view.daily_resets_at,
            user_daily: get(view.limits.user.daily),
            user_per_generation: get(view.limits.user.per_generation),
            admin_daily: get(view.limits.admin.daily),
            admin_per_generation: get(view.limits.admin.per_generation),
        }
    }
}

#[derive(InputObject)]
pub struct SetSpendLimitInput {
    /// The account; the caller's own when omitted.
    pub account_id: Option<ID>,
    /// Credits a day; null clears the limit, omitted leaves it as it is.
    pub daily: MaybeUndefined<i64>,
    /// Credits one generation may cost; null clears, omitted leaves it.
    pub per_generation: MaybeUndefined<i64>,
}

#[derive(SimpleObject, Default)]
pub struct SetSpendLimitPayload {
    pub spend_limit: Option<SpendLimit>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(SetSpendLimitPayload);

fn change(value: MaybeUndefined<i64>) -> LimitChange {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

#[derive(Default)]
pub struct SpendLimitsMutation;

#[Object]
impl SpendLimitsMutation {
    /// Sets spend limits: a user their own account's (at most an admin's),
    /// an admin any account's (kept apart from the user's; the lower
    /// applies). A charge or hold over a limit is SPEND_LIMIT_REACHED.
    async fn set_spend_limit(
        &self,
        ctx: &Context<'_>,
        input: SetSpendLimitInput,
    ) -> GraphqlResult<SetSpendLimitPayload> {
        let (own, role) = authenticated(ctx)?;
        let check = input.check();
        let account_id = input.account_id.map_or_else(|| own.to_owned(), |id| id.0);
        let setter = match role {
            Role::User => Setter::User,
            Role::Admin => Setter::Admin,
            Role::Service => {
                return Err(graphql_error(Error::Forbidden("spend limits are set by the user or an admin".into())));
            }
        };
        require_account_access(ctx, &account_id)?;
        let (daily, per_generation) = (change(input.daily), change(input.per_generation));
        let set = store(ctx)?.set_spend_limit(&account_id, setter, daily, per_generation, now(ctx)?);
        payload(checked(check, set).await, |wallet| SetSpendLimitPayload {
            spend_limit: Some(SpendLimit::from(&wallet.spend_limit)),
            wallet: Some(Wallet::from(&wallet)),
            errors: Vec::new(),
        })
    }
}
