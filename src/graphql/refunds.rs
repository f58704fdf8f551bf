//! `refundUsage`: a consumed generation's credits back, whole or in parts,
//! each with its cause.
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_backend, store};
use super::errors::{UserError, payload, payloads};
use super::spending::UsageEvent;
use super::wallet::Wallet;
use crate::domain::refunds::{RefundCause as DomainCause, UsageRefund as Refund};
use crate::store::refunds::RefundRequest;

/// Why a generation's credits were given back.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainCause")]
pub enum RefundCause {
    /// The model's provider failed.
    ProviderError,
    /// The generation ran out of time.
    Timeout,
    /// A moderation filter rejected the output.
    OutputModerated,
    /// The user stopped it.
    UserCancelled,
    Other,
}

/// A refund is `OTHER` unless its cause is given; null asks for it too.
const CAUSE_DEFAULT: RefundCause = RefundCause::Other;

/// One refund of a usage event.
#[derive(SimpleObject, Clone, Debug)]
pub struct UsageRefund {
    pub credits: i64,
    pub cause: RefundCause,
    pub created_at: DateTime<Utc>,
}

impl From<&Refund> for UsageRefund {
    fn from(refund: &Refund) -> Self {
        UsageRefund { credits: refund.credits.get(), cause: refund.cause.into(), created_at: refund.created_at }
    }
}

#[derive(InputObject)]
pub struct RefundUsageInput {
    pub usage_event_id: ID,
    pub reason: Option<String>,
    #[graphql(default_with = "Some(CAUSE_DEFAULT)")]
    pub cause: Option<RefundCause>,
    /// Refund this part of the charge; all that is left when omitted.
    pub credits: Option<i64>,
}

#[derive(SimpleObject, Default)]
pub struct RefundUsagePayload {
    /// Credits returned by this refund: shares whose lot has expired since are not.
    pub refunded_credits: Option<i64>,
    /// This refund, as the usage event lists it.
    pub refund: Option<UsageRefund>,
    pub usage_event: Option<UsageEvent>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(RefundUsagePayload);

#[derive(Default)]
pub struct RefundsMutation;

#[Object]
impl RefundsMutation {
    /// Returns a generation's credits to the lots they came from, the lot
    /// that expires last first: all that is left of the charge, or
    /// `credits` of it. Refunds add up to at most the charge; more than is
    /// left is INVALID_INPUT on credits, and once nothing is left a refund
    /// is ALREADY_REFUNDED.
    async fn refund_usage(&self, ctx: &Context<'_>, input: RefundUsageInput) -> GraphqlResult<RefundUsagePayload> {
        require_backend(ctx, "refundUsage")?;
        let check = input.check();
        let request = RefundRequest {
            usage_event_id: input.usage_event_id.0,
            reason: input.reason,
            cause: input.cause.unwrap_or(CAUSE_DEFAULT).into(),
            credits: input.credits,
        };
        let refund = store(ctx)?.refund(request, now(ctx)?);
        let result = checked(check, refund).await;
        payload(result, |refund| RefundUsagePayload {
            refunded_credits: Some(refund.refunded_credits.get()),
            refund: Some(UsageRefund::from(&refund.refund)),
            wallet: Some(Wallet::from(&refund.wallet)),
            usage_event: Some(UsageEvent(refund.usage_event)),
            errors: Vec::new(),
        })
    }
}
