//! Credits coming in: `purchaseTokens` (payments backend) and `grantCredits` (admin).
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_admin, require_backend, store};
use super::errors::{UserError, payload, payloads};
use super::wallet::{CreditLot, Wallet};
use crate::store::{GrantRequest, Granted};

#[derive(InputObject)]
pub struct PurchaseTokensInput {
    pub account_id: ID,
    pub pack_id: ID,
    pub payment_reference: String,
    pub idempotency_key: String,
}

#[derive(SimpleObject, Default)]
pub struct PurchaseTokensPayload {
    /// The never-expiring lot of tokens bought.
    pub lot: Option<CreditLot>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

/// Promotional credits pay for standard models unless granted for Pro. The
/// contract's default is nullable (`proEligible: Boolean = false`): null asks for it too.
const PRO_ELIGIBLE_DEFAULT: bool = false;

#[derive(InputObject)]
pub struct GrantCreditsInput {
    pub account_id: ID,
    pub credits: i64,
    /// Null: the credits never expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the credits may pay for Pro models (with an active
    /// subscription); null means the default.
    #[graphql(default_with = "Some(PRO_ELIGIBLE_DEFAULT)")]
    pub pro_eligible: Option<bool>,
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(SimpleObject, Default)]
pub struct GrantCreditsPayload {
    pub lot: Option<CreditLot>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(PurchaseTokensPayload, GrantCreditsPayload);

fn lot_and_wallet(granted: &Granted) -> (Option<CreditLot>, Option<Wallet>) {
    (Some(CreditLot::from(&granted.lot)), Some(Wallet::from(&granted.wallet)))
}

#[derive(Default)]
pub struct GrantsMutation;

#[Object]
impl GrantsMutation {
    /// Records a bought token pack (subscribers only). Tokens never expire.
    async fn purchase_tokens(
        &self,
        ctx: &Context<'_>,
        input: PurchaseTokensInput,
    ) -> GraphqlResult<PurchaseTokensPayload> {
        require_backend(ctx, "purchaseTokens")?;
        let purchase = store(ctx)?.purchase_tokens(
            &input.account_id,
            &input.pack_id,
            &input.payment_reference,
            &input.idempotency_key,
            now(ctx)?,
        );
        let result = checked(input.check(), purchase).await;
        payload(result, |granted| {
            let (lot, wallet) = lot_and_wallet(&granted);
            PurchaseTokensPayload { lot, wallet, errors: Vec::new() }
        })
    }

    /// Grants promotional credits (admin).
    async fn grant_credits(&self, ctx: &Context<'_>, input: GrantCreditsInput) -> GraphqlResult<GrantCreditsPayload> {
        require_admin(ctx, "grantCredits")?;
        let check = input.check();
        let request = GrantRequest {
            credits: input.credits,
            expires_at: input.expires_at,
            pro_eligible: input.pro_eligible.unwrap_or(PRO_ELIGIBLE_DEFAULT),
            reason: input.reason,
        };
        let grant = store(ctx)?.grant_credits(&input.account_id, &request, &input.idempotency_key, now(ctx)?);
        let result = checked(check, grant).await;
        payload(result, |granted| {
            let (lot, wallet) = lot_and_wallet(&granted);
            GrantCreditsPayload { lot, wallet, errors: Vec::new() }
        })
    }
}
