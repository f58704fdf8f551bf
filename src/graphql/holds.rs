//! Holds for running generations: `reserveCredits`, `captureReservation`,
//! `releaseReservation` (generation backend).
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_admin, require_backend, store};
use super::errors::{UserError, graphql_error, payload, payloads};
use super::quote::GenerationInput;
use super::spending::{ConsumeCreditsPayload, LotShare, UsageEvent};
use super::wallet::Wallet;
use crate::domain::holds::{Reservation as Hold, ReservationStatus as DomainStatus};
use crate::domain::pricing::GenerationRequest;
use crate::store::holds::HoldChange;

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "DomainStatus")]
pub enum ReservationStatus {
    Open,
    Captured,
    Released,
    /// Released by itself at its time limit.
    Expired,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct Reservation {
    pub id: ID,
    pub credits: i64,
    pub status: ReservationStatus,
    pub expires_at: DateTime<Utc>,
    pub lot_split: Vec<LotShare>,
    pub usage_event_id: Option<ID>,
}

impl From<&Hold> for Reservation {
    fn from(hold: &Hold) -> Self {
        Reservation {
            id: ID(hold.id.to_string()),
            credits: hold.credits.get(),
            status: hold.status.into(),
            expires_at: hold.expires_at,
            lot_split: hold
                .lot_split
                .iter()
                .map(|(lot, c)| LotShare { lot_id: ID(lot.to_string()), credits: c.get() })
                .collect(),
            usage_event_id: hold.usage_event_id.map(|id| ID(id.to_string())),
        }
    }
}

#[derive(InputObject)]
pub struct ReserveCreditsInput {
    pub account_id: ID,
    pub generation: GenerationInput,
    pub idempotency_key: String,
    /// Seconds before the hold releases itself (10 to 86400; default from configuration).
    pub ttl_seconds: Option<i64>,
}

#[derive(InputObject)]
pub struct CaptureReservationInput {
    pub reservation_id: ID,
    /// Charge this much (at most what is held); default all of it.
    pub credits: Option<i64>,
}

#[derive(InputObject)]
pub struct ReleaseReservationInput {
    pub reservation_id: ID,
}

#[derive(SimpleObject, Default)]
pub struct ReservationPayload {
    pub reservation: Option<Reservation>,
    pub wallet: Option<Wallet>,
    pub errors: Vec<UserError>,
}

payloads!(ReservationPayload);

fn reservation_payload(change: HoldChange) -> ReservationPayload {
    ReservationPayload {
        reservation: Some(Reservation::from(&change.reservation)),
        wallet: Some(Wallet::from(&change.wallet)),
        errors: Vec::new(),
    }
}

#[derive(Default)]
pub struct HoldsMutation;

#[Object]
impl HoldsMutation {
    /// Holds the credits of a generation before it runs, from the lots a
    /// charge would use; they leave the balance and show in `held`.
    async fn reserve_credits(
        &self,
        ctx: &Context<'_>,
        input: ReserveCreditsInput,
    ) -> GraphqlResult<ReservationPayload> {
        require_backend(ctx, "reserveCredits")?;
        let check = input.check();
        let request = GenerationRequest::from(input.generation);
        let reserve =
            store(ctx)?.reserve(&input.account_id, &request, &input.idempotency_key, input.ttl_seconds, now(ctx)?);
        let result = checked(check, reserve).await;
        payload(result, reservation_payload)
    }

    /// Charges a hold (all of it, or less: the rest goes back) and records
    /// the usage event.
    async fn capture_reservation(
        &self,
        ctx: &Context<'_>,
        input: CaptureReservationInput,
    ) -> GraphqlResult<ConsumeCreditsPayload> {
        require_backend(ctx, "captureReservation")?;
        let result = checked(input.check(), store(ctx)?.capture(&input.reservation_id, input.credits, now(ctx)?)).await;
        payload(result, |charge| ConsumeCreditsPayload {
            wallet: Some(Wallet::from(&charge.wallet)),
            low_balance: Some(charge.crossed_low_balance),
            usage_event: Some(UsageEvent(charge.usage_event)),
            errors: Vec::new(),
        })
    }

    /// Gives every held credit back (the generation failed).
    async fn release_reservation(
        &self,
        ctx: &Context<'_>,
        input: ReleaseReservationInput,
    ) -> GraphqlResult<ReservationPayload> {
        require_backend(ctx, "releaseReservation")?;
        let result = checked(input.check(), store(ctx)?.release(&input.reservation_id, now(ctx)?)).await;
        payload(result, reservation_payload)
    }

    /// Releases every hold past its time limit now (admin); the server's
    /// sweeper does the same on a timer. Returns the accounts settled.
    async fn release_expired_holds(&self, ctx: &Context<'_>) -> GraphqlResult<i64> {
        require_admin(ctx, "releaseExpiredHolds")?;
        let accounts = store(ctx)?.sweep_expired_holds(now(ctx)?).await.map_err(graphql_error)?;
        Ok(accounts as i64)
    }
}
