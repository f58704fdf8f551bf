//! Setting an account's spend limits (`setSpendLimit`). Charges and holds
//! check them in their own transaction (`account_tx/spend.rs`).
use chrono::{DateTime, Utc};
use entity::{ledger_entries, reservations, usage_events};
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect, Select};

use super::{AccountTx, Store};
use crate::clock::to_ms;
use crate::domain::holds::ReservationStatus;
use crate::domain::ledger::LedgerKind;
use crate::domain::money::Credits;
use crate::domain::spend_limits::{LimitChange, Setter, apply, spent_on_day, today};
use crate::domain::wallet::WalletView;
use crate::error::Result;

impl Store {
    /// Sets `setter`'s limits on the account (`None` leaves one as it is,
    /// `Some(None)` clears it) and answers the wallet that shows them.
    pub async fn set_spend_limit(
        &self,
        account_id: &str,
        setter: Setter,
        daily: LimitChange,
        per_generation: LimitChange,
        now: DateTime<Utc>,
    ) -> Result<WalletView> {
        self.write(account_id, now, move |account| {
            async move {
                let (limits, _) = account.spend_limits();
                let next = apply(limits, setter, daily, per_generation)?;
                // A daily limit that starts to apply counts what the day spent before it.
                let starts = limits.effective().daily.is_none() && next.effective().daily.is_some();
                let spent = if starts { Some(spent_today(account).await?) } else { None };
                account.set_spend_limits(next, spent);
                Ok(account.wallet())
            }
            .boxed()
        })
        .await
    }
}

/// A usage event's or a ledger entry's credits. Read by column name: on
/// SQLite the writer's rows do not keep the order of the selected columns.
#[derive(FromQueryResult)]
struct Share {
    id: Option<i64>,
    credits: i64,
}

/// `(id, credits)` of each row `select` finds (those with an id).
async fn shares<E: EntityTrait>(
    select: Select<E>,
    id: E::Column,
    credits: E::Column,
    tx: &impl ConnectionTrait,
) -> Result<Vec<(i64, Credits)>> {
    let rows =
        select.select_only().column_as(id, "id").column_as(credits, "credits").into_model::<Share>().all(tx).await?;
    Ok(rows.into_iter().filter_map(|row| row.id.map(|id| (id, Credits::new(row.credits)))).collect())
}

/// What the account spent today before a daily limit applied, from what the
/// day recorded (`domain::spend_limits::spent_on_day`). Read once, when the
/// limit is set; charges then keep the count.
async fn spent_today(account: &AccountTx) -> Result<Credits> {
    let (_, start) = today(account.now, account.rules().day_time_zone);
    let (start_ms, id, tx) = (to_ms(start), account.account_id().to_owned(), account.tx());
    use ledger_entries::Column as L;
    use reservations::Column as R;
    use usage_events::Column as U;
    let events = usage_events::Entity::find().filter(U::AccountId.eq(id.clone())).filter(U::CreatedAtMs.gte(start_ms));
    let events = shares(events, U::Id, U::Credits, tx).await?;
    // Captured today from a hold taken on an earlier day: counted that day.
    let held_before = reservations::Entity::find()
        .filter(R::AccountId.eq(id.clone()))
        .filter(R::CreatedAtMs.lt(start_ms))
        .filter(R::ClosedAtMs.gte(start_ms));
    let held_before: Vec<i64> =
        shares(held_before, R::UsageEventId, R::Credits, tx).await?.into_iter().map(|(id, _)| id).collect();
    let refunds = ledger_entries::Entity::find()
        .filter(L::AccountId.eq(id.clone()))
        .filter(L::Kind.eq(LedgerKind::Refund.as_str()))
        .filter(L::CreatedAtMs.gte(start_ms));
    let refunds = shares(refunds, L::UsageEventId, L::Amount, tx).await?;
    let open_holds = reservations::Entity::find()
        .filter(R::AccountId.eq(id))
        .filter(R::Status.eq(ReservationStatus::Open.as_str()))
        .filter(R::CreatedAtMs.gte(start_ms));
    let open_holds = shares(open_holds, R::Id, R::Credits, tx).await?.into_iter().map(|(_, credits)| credits).sum();
    Ok(spent_on_day(&events, &held_before, &refunds, open_holds))
}
