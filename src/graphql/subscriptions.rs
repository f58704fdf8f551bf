//! `subscribe` and `cancelSubscription` (payments backend).
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::account::PlanSubscription;
use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_backend, store};
use super::errors::{UserError, payload, payloads};
use super::wallet::Wallet;

#[derive(InputObject)]
pub struct SubscribeInput {
    pub account_id: ID,
    pub plan_code: String,
    /// The payment's reference; a retry with the same one subscribes once.
    pub payment_reference: String,
}

#[derive(SimpleObject, Default)]
pub struct SubscribePayload {
    pub subscription: Option<PlanSubscription>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

/// Cancelling keeps what was paid for unless asked otherwise. The contract's
/// default is nullable (`atPeriodEnd: Boolean = true`): null asks for it too.
const AT_PERIOD_END_DEFAULT: bool = true;

#[derive(InputObject)]
pub struct CancelSubscriptionInput {
    pub account_id: ID,
    /// False cancels at once, and the allowance left expires; null means the default.
    #[graphql(default_with = "Some(AT_PERIOD_END_DEFAULT)")]
    pub at_period_end: Option<bool>,
}

#[derive(SimpleObject, Default)]
pub struct CancelSubscriptionPayload {
    pub subscription: Option<PlanSubscription>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(SubscribePayload, CancelSubscriptionPayload);

#[derive(Default)]
pub struct SubscriptionsMutation;

#[Object]
impl SubscriptionsMutation {
    /// Starts a subscription, or changes plan at once (the old period's
    /// unused credits expire, the new allowance is granted).
    async fn subscribe(&self, ctx: &Context<'_>, input: SubscribeInput) -> GraphqlResult<SubscribePayload> {
        require_backend(ctx, "subscribe")?;
        let subscribe = store(ctx)?.subscribe(&input.account_id, &input.plan_code, &input.payment_reference, now(ctx)?);
        let result = checked(input.check(), subscribe).await;
        let change = match result {
            Ok(change) => Ok((PlanSubscription::new(ctx, &change.subscription)?, Wallet::from(&change.wallet))),
            Err(error) => Err(error),
        };
        payload(change, |(subscription, wallet)| SubscribePayload {
            subscription: Some(subscription),
            wallet: Some(wallet),
            errors: Vec::new(),
        })
    }

    /// Cancels at the end of the current period, or at once.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        input: CancelSubscriptionInput,
    ) -> GraphqlResult<CancelSubscriptionPayload> {
        require_backend(ctx, "cancelSubscription")?;
        let cancel = store(ctx)?.cancel_subscription(
            &input.account_id,
            input.at_period_end.unwrap_or(AT_PERIOD_END_DEFAULT),
            now(ctx)?,
        );
        let result = checked(input.check(), cancel).await;
        let change = match result {
            Ok(change) => Ok((PlanSubscription::new(ctx, &change.subscription)?, Wallet::from(&change.wallet))),
            Err(error) => Err(error),
        };
        payload(change, |(subscription, wallet)| CancelSubscriptionPayload {
            subscription: Some(subscription),
            wallet: Some(wallet),
            errors: Vec::new(),
        })
    }
}
