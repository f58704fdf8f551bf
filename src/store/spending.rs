//! Charging a generation (`consumeCredits`).
use chrono::{DateTime, Utc};
use futures_util::FutureExt;

use super::idempotency::{self, Prior};
use super::usage::RollupChange;
use super::{Store, usage};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::draw;
use crate::domain::pricing::{GenerationRequest, price};
use crate::domain::text;
use crate::domain::usage::UsageEvent;
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};
use crate::store::account_tx::{Origin, Prefetch};

#[derive(Clone, Debug)]
pub struct Charge {
    pub usage_event: UsageEvent,
    pub wallet: WalletView,
    /// This charge took the balance from at or above the account's threshold
    /// to below it: the moment a frontend offers a top-up.
    pub crossed_low_balance: bool,
}

const OPERATION: &str = "consumeCredits";

impl Store {
    pub async fn consume(
        &self,
        account_id: &str,
        request: &GenerationRequest,
        idempotency_key: &str,
        now: DateTime<Utc>,
    ) -> Result<Charge> {
        idempotency::validate_key(&text::IDEMPOTENCY_KEY, idempotency_key)?;
        // Priced before anything is opened: bad input never reaches the database.
        let priced = price(&self.catalog(), request, now)?;
        let fingerprint = super::rows::to_json(request)?;
        let request = request.clone();
        let key = idempotency_key.to_owned();
        let prefetch = Prefetch { key: Some(key.clone()), usage_event_id: true };
        let result = self
            .write_prefetching(account_id, prefetch, now, move |account| {
                async move {
                    if let Prior::Replay(event_id) = idempotency::prior(account, &key, OPERATION, &fingerprint).await? {
                        let event_id =
                            event_id.parse().map_err(|_| Error::internal("idempotency record of consume"))?;
                        let usage_event = usage::find(account.tx(), event_id).await?;
                        return Ok(Charge { usage_event, wallet: account.wallet(), crossed_low_balance: false });
                    }
                    let priced = account.reprice(priced, &request)?;
                    let entitlement = account.entitlement();
                    entitlement.allows(&priced)?;
                    account.admit_spend(priced.credits)?;
                    let before = account.wallet();
                    let split = draw(&account.lots, priced.credits, priced.pro, entitlement.pro(), account.now)?;
                    let usage_event = usage::insert(account, &priced, &key, &split).await?;
                    for (lot_id, credits) in &split {
                        let origin = Origin {
                            usage_event_id: Some(usage_event.id),
                            reference: key.clone(),
                            ..Origin::default()
                        };
                        account.take(*lot_id, *credits, LedgerKind::Consume, origin).await?;
                    }
                    usage::add_to_rollup(account.tx(), &usage_event, RollupChange::charge(&usage_event)).await?;
                    idempotency::record(account, &key, OPERATION, &fingerprint, &usage_event.id.to_string()).await?;
                    let wallet = account.wallet();
                    let crossed_low_balance = !before.low_balance && wallet.low_balance;
                    Ok(Charge { usage_event, wallet, crossed_low_balance })
                }
                .boxed()
            })
            .await;
        crate::metrics::charge(match &result {
            Ok(_) => "CHARGED",
            Err(Error::Domain(error)) => error.code().as_str(),
            Err(_) => "FAILED",
        });
        result
    }
}
