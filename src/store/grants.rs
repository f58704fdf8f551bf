//! Credits coming in: token purchases and admin grants.
use chrono::{DateTime, Utc};
use entity::credit_lots;
use sea_orm::EntityTrait;
use serde::Serialize;

use super::idempotency::{self, Prior};
use futures_util::FutureExt;

use super::{AccountTx, Store, rows};
use serde_json::json;

use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::{CreditSource, Lot};
use crate::domain::money::Credits;
use crate::domain::text;
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};

/// The largest single grant: far above any real one, far below overflow.
pub const GRANT_CREDITS_MAX: i64 = 1_000_000_000;

#[derive(Clone, Debug)]
pub struct Granted {
    pub lot: Lot,
    pub wallet: WalletView,
}

#[derive(Serialize)]
struct PurchaseRequest<'a> {
    pack_id: &'a str,
    payment_reference: &'a str,
}

/// An admin grant as requested; also its idempotency fingerprint.
#[derive(Clone, Debug, Serialize)]
pub struct GrantRequest {
    pub credits: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub pro_eligible: bool,
    pub reason: String,
}

impl Store {
    pub async fn purchase_tokens(
        &self,
        account_id: &str,
        pack_id: &str,
        payment_reference: &str,
        idempotency_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Granted> {
        idempotency::validate_key(&text::IDEMPOTENCY_KEY, idempotency_key)?;
        idempotency::validate_key(&text::PAYMENT_REFERENCE, payment_reference)?;
        let pack = self.catalog().offered_pack(pack_id)?.clone();
        let tokens = Credits::new(pack.tokens);
        let fingerprint = rows::to_json(&PurchaseRequest { pack_id, payment_reference })?;
        let (payment_reference, pack_id) = (payment_reference.to_owned(), pack_id.to_owned());
        self.grant_lot(account_id, idempotency_key, "purchaseTokens", fingerprint, now, move |account| {
            if !account.entitlement().can_buy_tokens() {
                return Err(DomainError::SubscriptionRequired { action: "buying tokens" }.into());
            }
            account.emit(tokens_purchased(&pack_id, tokens, &payment_reference));
            // Tokens never expire; they pay for Pro only while subscribed.
            Ok((CreditSource::Tokens, tokens, None, true, LedgerKind::Purchase, payment_reference))
        })
        .await
    }

    pub async fn grant_credits(
        &self,
        account_id: &str,
        request: &GrantRequest,
        idempotency_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Granted> {
        idempotency::validate_key(&text::IDEMPOTENCY_KEY, idempotency_key)?;
        if !(1..=GRANT_CREDITS_MAX).contains(&request.credits) {
            return Err(
                DomainError::invalid("credits", format!("credits must be between 1 and {GRANT_CREDITS_MAX}")).into()
            );
        }
        if request.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::invalid("expiresAt", "expiresAt must be in the future").into());
        }
        idempotency::validate_key(&text::REASON, &request.reason)?;
        let fingerprint = rows::to_json(request)?;
        let grant = (
            CreditSource::Promo,
            Credits::new(request.credits),
            request.expires_at,
            request.pro_eligible,
            LedgerKind::PromoGrant,
            request.reason.clone(),
        );
        self.grant_lot(account_id, idempotency_key, "grantCredits", fingerprint, now, |_| Ok(grant)).await
    }

    /// The shared path of every grant: idempotency, the caller's own check,
    /// the lot and its ledger entry, one transaction.
    async fn grant_lot(
        &self,
        account_id: &str,
        idempotency_key: &str,
        operation: &'static str,
        fingerprint: String,
        now: DateTime<Utc>,
        decide: impl FnOnce(&mut AccountTx) -> Result<LotGrant> + Send + 'static,
    ) -> Result<Granted> {
        let key = idempotency_key.to_owned();
        self.write(account_id, now, move |account| {
            async move {
                if let Prior::Replay(lot_id) = idempotency::prior(account, &key, operation, &fingerprint).await? {
                    let lot_id: i64 = lot_id.parse().map_err(|_| Error::internal("idempotency record of a grant"))?;
                    let row = credit_lots::Entity::find_by_id(lot_id)
                        .one(account.tx())
                        .await?
                        .ok_or_else(|| Error::internal(format!("lot {lot_id} of an idempotency record is gone")))?;
                    return Ok(Granted { lot: rows::lot(&row)?, wallet: account.wallet() });
                }
                let (source, amount, expires_at, pro_eligible, kind, reference) = decide(account)?;
                let lot = account.grant(source, amount, expires_at, pro_eligible, kind, &reference).await?;
                idempotency::record(account, &key, operation, &fingerprint, &lot.id.to_string()).await?;
                Ok(Granted { lot, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }
}

/// `tokens.purchased`: a pack's tokens were credited.
pub fn tokens_purchased(pack_id: &str, tokens: Credits, payment_reference: &str) -> Event {
    let data = json!({ "packId": pack_id, "tokens": tokens.get(), "paymentReference": payment_reference });
    Event::new(EventType::TokensPurchased, data)
}

type LotGrant = (CreditSource, Credits, Option<DateTime<Utc>>, bool, LedgerKind, String);
