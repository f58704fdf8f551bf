//! Holds: reserve credits before a generation runs, then capture (charge,
//! possibly less) or release them. A hold past its time limit is released by
//! the next access of its account, or by the server's sweeper.
use chrono::{DateTime, Duration, Utc};
use entity::reservations;
use futures_util::FutureExt;
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};

use super::account_tx::Origin;
use super::idempotency::{self, Prior};
use super::spending::Charge;
use super::usage::RollupChange;
use super::{Store, rows, usage};
use crate::clock::to_ms;
use crate::domain::error::DomainError;
use crate::domain::holds::{Reservation, ReservationStatus, capture_split, validate_ttl};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::draw;
use crate::domain::money::Credits;
use crate::domain::pricing::{GenerationRequest, PriceAt, price, price_at};
use crate::domain::text;
use crate::domain::wallet::WalletView;
use crate::error::Result;

const OPERATION: &str = "reserveCredits";

#[derive(Clone, Debug)]
pub struct HoldChange {
    pub reservation: Reservation,
    pub wallet: WalletView,
}

fn parse_id(id: &str) -> Result<i64, DomainError> {
    id.parse().map_err(|_| DomainError::NotFound { what: "reservation", id: id.to_owned() })
}

impl Store {
    /// Takes the credits of a generation out of the spendable balance, from
    /// the same lots in the same order as a charge would.
    pub async fn reserve(
        &self,
        account_id: &str,
        request: &GenerationRequest,
        idempotency_key: &str,
        ttl_seconds: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<HoldChange> {
        idempotency::validate_key(&text::IDEMPOTENCY_KEY, idempotency_key)?;
        let ttl_seconds = validate_ttl(ttl_seconds, self.rules().hold_ttl_seconds)?;
        let priced = price(&self.catalog(), request, now)?;
        let fingerprint = rows::to_json(&(request, ttl_seconds))?;
        let (key, fingerprint, request) = (idempotency_key.to_owned(), fingerprint, request.clone());
        self.write(account_id, now, move |account| {
            async move {
                if let Prior::Replay(id) = idempotency::prior(account, &key, OPERATION, &fingerprint).await? {
                    let reservation = find(account.tx(), parse_id(&id)?).await?;
                    return Ok(HoldChange { reservation, wallet: account.wallet() });
                }
                let priced = account.reprice(priced, &request)?;
                let entitlement = account.entitlement();
                entitlement.allows(&priced)?;
                account.admit_spend(priced.credits)?;
                let split = draw(&account.lots, priced.credits, priced.pro, entitlement.pro(), now)?;
                let split_json: Vec<(i64, i64)> = split.iter().map(|(lot, c)| (*lot, c.get())).collect();
                let row = reservations::ActiveModel {
                    id: NotSet,
                    account_id: Set(account.account_id().to_owned()),
                    credits: Set(priced.credits.get()),
                    status: Set(ReservationStatus::Open.as_str().to_owned()),
                    expires_at_ms: Set(to_ms(now + Duration::seconds(ttl_seconds))),
                    generation: Set(rows::to_json(&request)?),
                    lot_split: Set(rows::to_json(&split_json)?),
                    idempotency_key: Set(key.clone()),
                    created_at_ms: Set(to_ms(now)),
                    closed_at_ms: Set(None),
                    usage_event_id: Set(None),
                    unit_price: Set(Some(priced.unit_price_millicredits)),
                    catalog_version: Set(Some(priced.catalog_version)),
                };
                let id = reservations::Entity::insert(row).exec(account.tx()).await?.last_insert_id;
                for (lot_id, credits) in &split {
                    let origin = Origin { reservation_id: Some(id), reference: key.clone(), ..Origin::default() };
                    account.take(*lot_id, *credits, LedgerKind::Hold, origin).await?;
                }
                let reservation = find(account.tx(), id).await?;
                account.holds.push(reservation.clone());
                idempotency::record(account, &key, OPERATION, &fingerprint, &id.to_string()).await?;
                Ok(HoldChange { reservation, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Charges `credits` (all when None) of an open hold and records the
    /// usage event; the rest goes back to its lots. Capturing a captured hold
    /// again for the same amount returns the first result.
    pub async fn capture(&self, reservation_id: &str, credits: Option<i64>, now: DateTime<Utc>) -> Result<Charge> {
        let id = parse_id(reservation_id)?;
        let account_id = self.hold_account(id).await?;
        self.write(&account_id, now, move |account| {
            async move {
                let hold = find(account.tx(), id).await?;
                let charged = Credits::new(credits.unwrap_or(hold.credits.get()));
                if hold.status == ReservationStatus::Captured {
                    let event = usage::find(account.tx(), hold.usage_event_id.unwrap_or_default()).await?;
                    if event.credits == charged || credits.is_none() {
                        return Ok(Charge { usage_event: event, wallet: account.wallet(), crossed_low_balance: false });
                    }
                }
                if hold.status != ReservationStatus::Open {
                    return Err(closed(&hold).into());
                }
                let (charged_split, _) = capture_split(&hold.lot_split, charged)?;
                let row = reservations::Entity::find_by_id(id).one(account.tx()).await?;
                let row = row.ok_or_else(|| DomainError::NotFound { what: "reservation", id: id.to_string() })?;
                let request: GenerationRequest = rows::from_json(&row.generation)?;
                // The catalog may have changed since the reservation: what was
                // held is what is charged, at the price it reserved at.
                let at = match (row.unit_price, row.catalog_version) {
                    (Some(unit_price_millicredits), Some(catalog_version)) => {
                        PriceAt::Held { unit_price_millicredits, catalog_version }
                    }
                    _ => PriceAt::Now(account.now),
                };
                let mut priced = price_at(account.catalog(), &request, at)?;
                priced.credits = charged;
                let before = account.wallet();
                let event = usage::insert(account, &priced, &hold.idempotency_key, &charged_split).await?;
                account.close_hold(id, ReservationStatus::Captured, Some((charged, event.id))).await?;
                usage::add_to_rollup(account.tx(), &event, RollupChange::charge(&event)).await?;
                let wallet = account.wallet();
                Ok(Charge {
                    usage_event: event,
                    crossed_low_balance: !before.low_balance && wallet.low_balance,
                    wallet,
                })
            }
            .boxed()
        })
        .await
    }

    /// Gives every held credit back. Releasing a released (or timed-out) hold
    /// again answers as the first time.
    pub async fn release(&self, reservation_id: &str, now: DateTime<Utc>) -> Result<HoldChange> {
        let id = parse_id(reservation_id)?;
        let account_id = self.hold_account(id).await?;
        self.write(&account_id, now, move |account| {
            async move {
                let hold = find(account.tx(), id).await?;
                let reservation = match hold.status {
                    ReservationStatus::Open => account.close_hold(id, ReservationStatus::Released, None).await?,
                    ReservationStatus::Released | ReservationStatus::Expired => hold,
                    ReservationStatus::Captured => return Err(closed(&hold).into()),
                };
                Ok(HoldChange { reservation, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Releases every hold past its time limit; the server runs this on a
    /// timer so that a crashed generation backend frees its holds.
    pub async fn sweep_expired_holds(&self, now: DateTime<Utc>) -> Result<usize> {
        let accounts: Vec<String> = reservations::Entity::find()
            .select_only()
            .column(reservations::Column::AccountId)
            .distinct()
            .filter(reservations::Column::Status.eq(ReservationStatus::Open.as_str()))
            .filter(reservations::Column::ExpiresAtMs.lte(to_ms(now)))
            .limit(1_000)
            .into_tuple()
            .all(self.reader())
            .await?;
        for account_id in &accounts {
            // Opening the account settles it, which releases its timed-out holds.
            self.write(account_id, now, |_| async { Ok(()) }.boxed()).await?;
        }
        Ok(accounts.len())
    }

    async fn hold_account(&self, id: i64) -> Result<String> {
        let row = reservations::Entity::find_by_id(id).one(self.reader()).await?;
        row.map(|row| row.account_id)
            .ok_or_else(|| DomainError::NotFound { what: "reservation", id: id.to_string() }.into())
    }
}

fn closed(hold: &Reservation) -> DomainError {
    DomainError::ReservationClosed { id: hold.id.to_string(), status: hold.status.as_str().to_lowercase() }
}

async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Reservation> {
    let row = reservations::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::NotFound { what: "reservation", id: id.to_string() })?;
    rows::reservation(&row)
}
