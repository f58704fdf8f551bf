//! `refundUsage`: a consumed generation's credits back, once.
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_backend, store};
use super::errors::{UserError, payload, payloads};
use super::spending::UsageEvent;
use super::wallet::Wallet;

#[derive(InputObject)]
pub struct RefundUsageInput {
    pub usage_event_id: ID,
    pub reason: Option<String>,
}

#[derive(SimpleObject, Default)]
pub struct RefundUsagePayload {
    /// Credits returned: shares whose lot has expired since are not.
    pub refunded_credits: Option<i64>,
    pub usage_event: Option<UsageEvent>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(RefundUsagePayload);

#[derive(Default)]
pub struct RefundsMutation;

#[Object]
impl RefundsMutation {
    /// Returns a generation's credits to the lots they came from. A second
    /// refund of the same event is ALREADY_REFUNDED.
    async fn refund_usage(&self, ctx: &Context<'_>, input: RefundUsageInput) -> GraphqlResult<RefundUsagePayload> {
        require_backend(ctx, "refundUsage")?;
        let refund = store(ctx)?.refund(&input.usage_event_id, input.reason.as_deref(), now(ctx)?);
        let result = checked(input.check(), refund).await;
        payload(result, |refund| RefundUsagePayload {
            refunded_credits: Some(refund.refunded_credits.get()),
            wallet: Some(Wallet::from(&refund.wallet)),
            usage_event: Some(UsageEvent(refund.usage_event)),
            errors: Vec::new(),
        })
    }
}
