//! The movements of credits on an open account: each checked against its lot
//! in the database and appended to the ledger with the balance after it.
use chrono::{DateTime, Utc};
use entity::{credit_lots, ledger_entries, reservations};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, EntityTrait, QueryFilter,
};

use super::{AccountTx, Origin};
use crate::clock::to_ms;
use serde_json::json;

use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType, announces_expiry};
use crate::domain::holds::{Reservation, ReservationStatus, capture_split};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::{self, CreditSource, Lot};
use crate::domain::money::{self, Credits};
use crate::error::{Error, Result};
use crate::store::rows;

impl AccountTx {
    pub async fn grant(
        &mut self,
        source: CreditSource,
        amount: Credits,
        expires_at: Option<DateTime<Utc>>,
        pro_eligible: bool,
        kind: LedgerKind,
        reference: &str,
    ) -> Result<Lot> {
        let row = credit_lots::ActiveModel {
            id: NotSet,
            account_id: Set(self.account.id.clone()),
            source: Set(source.as_str().to_owned()),
            granted: Set(amount.get()),
            remaining: Set(amount.get()),
            expires_at_ms: Set(expires_at.map(to_ms)),
            pro_eligible: Set(pro_eligible),
            reference: Set(reference.to_owned()),
            created_at_ms: Set(to_ms(self.now)),
            expiry_noticed: NotSet,
        };
        let inserted = credit_lots::Entity::insert(row).exec(&self.tx).await?;
        let lot = Lot {
            id: inserted.last_insert_id,
            source,
            granted: amount,
            remaining: amount,
            expires_at,
            pro_eligible,
            created_at: self.now,
        };
        self.lots.push(lot.clone());
        self.record(kind, lot.id, amount.get(), Origin::reference(reference))?;
        if expires_at.is_some() && announces_expiry(source) {
            self.watch_expiry(lot.id);
        }
        Ok(lot)
    }

    /// Takes `amount` from a lot. The update only succeeds if the lot still
    /// has that much, so even a bug upstream cannot overdraw a lot: it is
    /// deferred (`batch.rs`), and the batch fails unless it changed the lot.
    pub async fn take(&mut self, lot_id: i64, amount: Credits, kind: LedgerKind, origin: Origin) -> Result<()> {
        let update = credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::Remaining, Expr::col(credit_lots::Column::Remaining).sub(amount.get()))
            .filter(credit_lots::Column::Id.eq(lot_id))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .filter(credit_lots::Column::Remaining.gte(amount.get()));
        self.tx.defer(&update.into_query(), 1).await?;
        let lot = self
            .lots
            .iter_mut()
            .find(|lot| lot.id == lot_id)
            .ok_or_else(|| Error::internal(format!("lot {lot_id} is not loaded")))?;
        // The lot was read under the lock: a failure here is a bug.
        lot.remaining = lot.remaining.checked_sub(amount).ok_or_else(|| taken_wrong(lot_id, amount))?;
        let taken = amount.get().checked_neg().ok_or_else(|| taken_wrong(lot_id, amount))?;
        self.record(kind, lot_id, taken, origin)
    }

    /// Gives credits back to the lot they came from (a release or a refund)
    /// under `domain::lots::give_back`'s rule, and answers how many are kept:
    /// a lot that has expired in the meantime gets them back and loses them
    /// at once, so the ledger shows both.
    pub async fn give_back(
        &mut self,
        lot_id: i64,
        amount: Credits,
        kind: LedgerKind,
        origin: Origin,
    ) -> Result<Credits> {
        if !amount.is_positive() {
            return Ok(Credits::ZERO);
        }
        let updated = credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::Remaining, Expr::col(credit_lots::Column::Remaining).add(amount.get()))
            .filter(credit_lots::Column::Id.eq(lot_id))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .exec(&self.tx)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::internal(format!("lot {lot_id} cannot take back {amount} credits")));
        }
        let outcome = match self.lots.iter_mut().find(|lot| lot.id == lot_id) {
            Some(lot) => {
                // The lot's row took them: no lot holds more than an account may.
                lot.remaining = lot.remaining.checked_add(amount).ok_or_else(|| taken_wrong(lot_id, amount))?;
                lots::give_back(lot, amount, self.now)
            }
            None => {
                // Emptied lots are not loaded with the account: read it back.
                let row = credit_lots::Entity::find_by_id(lot_id)
                    .one(&self.tx)
                    .await?
                    .ok_or_else(|| Error::internal(format!("lot {lot_id} vanished")))?;
                let lot = rows::lot(&row)?;
                let outcome = lots::give_back(&lot, amount, self.now);
                self.lots.push(lot);
                outcome
            }
        };
        self.record(kind, lot_id, amount.get(), origin)?;
        if outcome.expired.is_positive() {
            let reason = Origin::reference("expired before its credits came back");
            self.take(lot_id, outcome.expired, LedgerKind::Expire, reason).await?;
        }
        Ok(outcome.kept)
    }

    /// Ends an open hold: its credits go back to their lots except the
    /// `captured` part (lots drawn first), which stays spent.
    pub async fn close_hold(
        &mut self,
        id: i64,
        status: ReservationStatus,
        captured: Option<(Credits, i64)>,
    ) -> Result<Reservation> {
        let index = self
            .holds
            .iter()
            .position(|hold| hold.id == id)
            .ok_or_else(|| Error::internal(format!("hold {id} is not open")))?;
        let mut hold = self.holds.remove(index);
        let (charged, usage_event_id) = captured.unwrap_or((Credits::ZERO, 0));
        let (_, returned) = capture_split(&hold.lot_split, charged)?;
        self.give_back_room(hold.created_at, returned.iter().map(|(_, credits)| *credits).sum());
        for (lot_id, credits) in returned {
            let origin =
                Origin { reservation_id: Some(id), reference: hold.idempotency_key.clone(), ..Origin::default() };
            self.give_back(lot_id, credits, LedgerKind::Release, origin).await?;
        }
        let mut update = reservations::Entity::update_many()
            .col_expr(reservations::Column::Status, Expr::value(status.as_str()))
            .col_expr(reservations::Column::ClosedAtMs, Expr::value(to_ms(self.now)))
            .filter(reservations::Column::Id.eq(id))
            .filter(reservations::Column::Status.eq(ReservationStatus::Open.as_str()));
        if captured.is_some() {
            update = update.col_expr(reservations::Column::UsageEventId, Expr::value(usage_event_id));
            hold.usage_event_id = Some(usage_event_id);
        }
        if update.exec(&self.tx).await?.rows_affected != 1 {
            return Err(Error::internal(format!("hold {id} was closed twice")));
        }
        hold.status = status;
        Ok(hold)
    }

    pub(super) async fn expire(&mut self, lot_id: i64, reason: &str) -> Result<()> {
        self.expire_as(lot_id, LedgerKind::Expire, reason).await
    }

    /// Empties a lot that ends, recorded as `kind` (an expiry, or carried
    /// credits forfeited).
    pub(super) async fn expire_as(&mut self, lot_id: i64, kind: LedgerKind, reason: &str) -> Result<()> {
        let Some(lot) = self.lots.iter().find(|lot| lot.id == lot_id) else {
            return Ok(());
        };
        let (remaining, source) = (lot.remaining, lot.source);
        if remaining.is_positive() {
            self.take(lot_id, remaining, kind, Origin::reference(reason)).await?;
            if source != CreditSource::DailyFree {
                let data =
                    json!({ "lotId": lot_id.to_string(), "source": source.as_str(), "expired": remaining.get() });
                self.emit(Event::new(EventType::CreditsExpired, data));
            }
        }
        Ok(())
    }

    /// Credits the account owns: in its lots and in its open holds.
    fn owned(&self) -> Credits {
        let held: Credits = self.holds.iter().map(|hold| hold.credits).sum();
        self.balance.checked_add(held).unwrap_or(Credits::new(i64::MAX))
    }

    /// What a grant the rules make (a day's free credits, a period's
    /// allowance) may add: it fills the room an account has left rather
    /// than fail the request that settled it.
    pub(super) fn rule_grant(&self, amount: Credits) -> Credits {
        amount.min(money::room(self.owned()))
    }

    fn record(&mut self, kind: LedgerKind, lot_id: i64, amount: i64, origin: Origin) -> Result<()> {
        if amount > 0 {
            money::check_room(self.owned(), Credits::new(amount), kind.input_field())?;
        }
        self.balance =
            self.balance.checked_add(Credits::new(amount)).ok_or_else(|| DomainError::overflow("credits"))?;
        let source = self.lots.iter().find(|lot| lot.id == lot_id).map_or("UNKNOWN", |lot| lot.source.as_str());
        self.moved.push((kind.as_str(), source, amount));
        self.entries.push(ledger_entries::ActiveModel {
            id: NotSet,
            account_id: Set(self.account.id.clone()),
            created_at_ms: Set(to_ms(self.now)),
            kind: Set(kind.as_str().to_owned()),
            lot_id: Set(lot_id),
            amount: Set(amount),
            balance_after: Set(self.balance.get()),
            usage_event_id: Set(origin.usage_event_id),
            reservation_id: Set(origin.reservation_id),
            reference: Set(origin.reference),
        });
        Ok(())
    }
}

/// A lot whose credits in memory disagree with its row: a bug, never the
/// caller's doing.
fn taken_wrong(lot_id: i64, amount: Credits) -> Error {
    Error::internal(format!("lot {lot_id} cannot move {amount} credits in memory"))
}
