//! `consumeCredits`: the generation backend charges a generation.
use async_graphql::{ComplexObject, Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::catalog::{Model, StudioKind};
use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_backend, store};
use super::errors::{UserError, payload, payloads};
use super::loaders::{LotLoader, RefundLoader, load_one};
use super::quote::GenerationInput;
use super::refunds::UsageRefund;
use super::wallet::{CreditLot, Wallet};
use crate::domain::pricing::GenerationRequest;
use crate::domain::usage::{UsageEvent as Event, UsageStatus as DomainStatus};

#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainStatus")]
pub enum UsageStatus {
    Charged,
    /// Some of its credits were refunded, not all.
    PartiallyRefunded,
    Refunded,
}

/// The credits a generation (or a hold) took from one lot.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct LotShare {
    pub lot_id: ID,
    pub credits: i64,
}

#[ComplexObject]
impl LotShare {
    /// The lot itself: its source, expiry, what is left (batched per page).
    async fn lot(&self, ctx: &Context<'_>) -> GraphqlResult<Option<CreditLot>> {
        load_one::<LotLoader>(ctx, self.lot_id.parse().unwrap_or_default()).await
    }
}

#[derive(SimpleObject, Clone, Debug)]
pub struct OptionValue {
    pub name: String,
    pub value: String,
}

/// One charged generation.
pub struct UsageEvent(pub Event);

#[Object]
impl UsageEvent {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn studio(&self) -> StudioKind {
        self.0.studio.into()
    }
    async fn tool(&self) -> &str {
        &self.0.tool
    }
    async fn model(&self, ctx: &Context<'_>) -> GraphqlResult<Option<Model>> {
        let catalog = store(ctx)?.catalog();
        Ok(self.0.model_id.as_deref().and_then(|id| catalog.model(id)).map(Model::from))
    }
    /// Number of outputs.
    async fn count(&self) -> i64 {
        self.0.count
    }
    /// Seconds or characters, for tools priced by them.
    async fn units(&self) -> Option<i64> {
        self.0.units
    }
    async fn options(&self) -> Vec<OptionValue> {
        self.0.options.iter().map(|(name, value)| OptionValue { name: name.clone(), value: value.clone() }).collect()
    }
    async fn credits(&self) -> i64 {
        self.0.credits.get()
    }
    /// The price it was charged at: thousandths of a credit per unit, like
    /// `ToolPrice.millicreditsPerUnit`.
    async fn unit_price(&self) -> i64 {
        self.0.unit_price_millicredits
    }
    /// The catalog version that priced it.
    async fn catalog_version(&self) -> i64 {
        self.0.catalog_version
    }
    async fn status(&self) -> UsageStatus {
        self.0.status.into()
    }
    async fn idempotency_key(&self) -> &str {
        &self.0.idempotency_key
    }
    /// The lots the credits came from, in spending order.
    async fn lot_split(&self) -> Vec<LotShare> {
        self.0.lot_split.iter().map(|(lot, c)| LotShare { lot_id: ID(lot.to_string()), credits: c.get() }).collect()
    }
    /// Credits refunded so far, over all its refunds.
    async fn refunded_credits(&self) -> i64 {
        self.0.refunded_credits.get()
    }
    /// Its refunds, oldest first (batched per page).
    async fn refunds(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<UsageRefund>> {
        if !self.0.refunded_credits.is_positive() {
            return Ok(Vec::new());
        }
        Ok(load_one::<RefundLoader>(ctx, self.0.id).await?.unwrap_or_default())
    }
}

#[derive(InputObject)]
pub struct ConsumeCreditsInput {
    pub account_id: ID,
    pub generation: GenerationInput,
    pub idempotency_key: String,
}

#[derive(SimpleObject, Default)]
pub struct ConsumeCreditsPayload {
    pub usage_event: Option<UsageEvent>,
    pub wallet: Option<Wallet>,
    /// True when this charge took the balance below the low-balance threshold.
    pub low_balance: Option<bool>,
    pub errors: Vec<UserError>,
}

payloads!(ConsumeCreditsPayload);

#[derive(Default)]
pub struct SpendingMutation;

#[Object]
impl SpendingMutation {
    /// Charges a generation: priced like `quote`, paid from the lots that may
    /// pay for it, soonest-expiring first. Retrying with the same
    /// idempotencyKey returns the first charge and charges nothing.
    async fn consume_credits(
        &self,
        ctx: &Context<'_>,
        input: ConsumeCreditsInput,
    ) -> GraphqlResult<ConsumeCreditsPayload> {
        require_backend(ctx, "consumeCredits")?;
        let check = input.check();
        let request = GenerationRequest::from(input.generation);
        let consume = store(ctx)?.consume(&input.account_id, &request, &input.idempotency_key, now(ctx)?);
        let result = checked(check, consume).await;
        payload(result, |charge| ConsumeCreditsPayload {
            wallet: Some(Wallet::from(&charge.wallet)),
            low_balance: Some(charge.crossed_low_balance),
            usage_event: Some(UsageEvent(charge.usage_event)),
            errors: Vec::new(),
        })
    }
}
