//! The wallet and its lots, as frontends show them.
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::domain::lots::{CreditSource as DomainSource, Lot};
use crate::domain::wallet::WalletView;

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, authenticated, now, require_account_access, store};
use super::errors::{UserError, payload, payloads};
use super::spend_limits::SpendLimit;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainSource")]
pub enum CreditSource {
    DailyFree,
    Subscription,
    Tokens,
    Promo,
    Rollover,
}

/// Credits granted from one source, with what is left of them.
#[derive(SimpleObject, Clone, Debug)]
pub struct CreditLot {
    pub id: ID,
    pub source: CreditSource,
    pub granted: i64,
    pub remaining: i64,
    /// Null: never expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted as able to pay for Pro models (which also needs an active subscription).
    pub pro_eligible: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&Lot> for CreditLot {
    fn from(lot: &Lot) -> Self {
        CreditLot {
            id: ID(lot.id.to_string()),
            source: lot.source.into(),
            granted: lot.granted.get(),
            remaining: lot.remaining.get(),
            expires_at: lot.expires_at,
            pro_eligible: lot.pro_eligible,
            created_at: lot.created_at,
        }
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Wallet {
    /// Spendable now on standard models.
    pub balance: i64,
    /// Spendable now on Pro models (daily free credits never are).
    pub pro_balance: i64,
    pub daily_free: i64,
    pub daily_free_resets_at: DateTime<Utc>,
    pub subscription_credits: i64,
    /// The current period's allowance; 0 without an active subscription.
    pub subscription_allowance: i64,
    /// `subscriptionCredits` as a percentage of the allowance, for the progress bar.
    pub subscription_percent_left: f64,
    pub tokens: i64,
    /// Credits from admin grants.
    pub promo: i64,
    /// Unused allowance carried over from the last period (a ROLLOVER lot),
    /// spendable until the end of this one while subscribed.
    pub rollover: i64,
    /// Reserved by holds of generations that are still running.
    pub held: i64,
    pub low_balance: bool,
    pub low_balance_threshold: i64,
    /// Live lots, in the order they will be spent.
    pub lots: Vec<CreditLot>,
    /// The account's spend limits and what is left of today's.
    pub spend_limit: SpendLimit,
}

impl From<&WalletView> for Wallet {
    fn from(view: &WalletView) -> Self {
        Wallet {
            balance: view.balance.get(),
            pro_balance: view.pro_balance.get(),
            daily_free: view.daily_free.get(),
            daily_free_resets_at: view.daily_free_resets_at,
            subscription_credits: view.subscription_credits.get(),
            subscription_allowance: view.subscription_allowance.get(),
            subscription_percent_left: (view.subscription_percent_left * 100.0).round() / 100.0,
            tokens: view.tokens.get(),
            promo: view.promo.get(),
            rollover: view.rollover.get(),
            held: view.held.get(),
            low_balance: view.low_balance,
            low_balance_threshold: view.low_balance_threshold.get(),
            lots: view.lots.iter().map(CreditLot::from).collect(),
            spend_limit: SpendLimit::from(&view.spend_limit),
        }
    }
}

#[derive(InputObject)]
pub struct SetLowBalanceThresholdInput {
    /// The account; a user's own when omitted.
    pub account_id: Option<ID>,
    /// `lowBalance` shows below this; null goes back to the default.
    pub threshold: Option<i64>,
}

#[derive(SimpleObject, Default)]
pub struct SetLowBalanceThresholdPayload {
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(SetLowBalanceThresholdPayload);

#[derive(Default)]
pub struct WalletMutation;

#[Object]
impl WalletMutation {
    /// Sets when the wallet shows `lowBalance`: users for their own account,
    /// service and admin for any.
    async fn set_low_balance_threshold(
        &self,
        ctx: &Context<'_>,
        input: SetLowBalanceThresholdInput,
    ) -> GraphqlResult<SetLowBalanceThresholdPayload> {
        let (own, _) = authenticated(ctx)?;
        let check = input.check();
        let account_id = input.account_id.map_or_else(|| own.to_owned(), |id| id.0);
        require_account_access(ctx, &account_id)?;
        let set = store(ctx)?.set_low_balance_threshold(&account_id, input.threshold, now(ctx)?);
        let result = checked(check, set).await;
        payload(result, |wallet| SetLowBalanceThresholdPayload {
            wallet: Some(Wallet::from(&wallet)),
            errors: Vec::new(),
        })
    }
}
