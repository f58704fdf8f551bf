//! Refunds: a consumed generation's credits go back to the lots they came
//! from, all at once or in parts that add up to at most the charge, each
//! with its cause. The account's lock serialises refunds of one event, so
//! racing refunds never give back more than was charged. A share whose lot
//! has expired since comes back and expires at once, as a released hold's
//! does (`domain::lots::give_back`): it is not counted in `refundedCredits`.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{usage_events, usage_refunds};
use futures_util::FutureExt;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    sea_query::Expr,
};

use super::account_tx::Origin;
use super::rows::{from_json, to_json};
use super::usage::RollupChange;
use super::{Store, lots, usage};
use serde_json::json;

use crate::clock::{from_ms, to_ms};
use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::LotSplit;
use crate::domain::money::Credits;
use crate::domain::refunds::{RefundCause, UsageRefund, refund_split, status_after};
use crate::domain::text;
use crate::domain::usage::{UsageEvent, UsageStatus};
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};

/// What `refundUsage` asks for.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    pub usage_event_id: String,
    pub reason: Option<String>,
    pub cause: RefundCause,
    /// Part of the charge; all that is left when none.
    pub credits: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct Refund {
    /// Credits back on lots that are still live.
    pub refunded_credits: Credits,
    pub refund: UsageRefund,
    pub usage_event: UsageEvent,
    pub wallet: WalletView,
}

impl Store {
    pub async fn refund(&self, request: RefundRequest, now: DateTime<Utc>) -> Result<Refund> {
        let RefundRequest { usage_event_id, reason, cause, credits } = request;
        let not_found = || DomainError::NotFound { what: "usage event", id: usage_event_id.clone() };
        let id: i64 = usage_event_id.parse().map_err(|_| not_found())?;
        text::REASON.check_optional(reason.as_deref())?;
        if credits.is_some_and(|credits| credits <= 0) {
            return Err(DomainError::invalid("credits", "a refund is of 1 credit or more").into());
        }
        let account_id = usage::find(self.reader(), id).await.map_err(|_| not_found())?.account_id;
        let reference = reason.unwrap_or_else(|| "refund".to_owned());
        self.write(&account_id, now, move |account| {
            async move {
                let mut event = usage::find(account.tx(), id).await?;
                let returned: LotSplit = refunds_of(account.tx(), &[id]).await?.into_iter().flat_map(|r| r.1).collect();
                let lot_ids: Vec<i64> = event.lot_split.iter().map(|(lot, _)| *lot).collect();
                let paid_by = lots::lots_by_ids(account.tx(), &lot_ids).await?;
                let split = refund_split(&event, &returned, &paid_by, credits.map(Credits::new))?;
                let mut amount = Credits::ZERO;
                let mut kept = Credits::ZERO;
                for &(lot_id, credits) in &split {
                    let origin = Origin { usage_event_id: Some(id), reference: reference.clone(), ..Origin::default() };
                    let back = account.give_back(lot_id, credits, LedgerKind::Refund, origin).await?;
                    // At most the event's credits, which were charged once: a bug if not.
                    let overflow = || Error::internal(format!("the refund of usage event {id} overflows"));
                    amount = amount.checked_add(credits).ok_or_else(overflow)?;
                    kept = kept.checked_add(back).ok_or_else(overflow)?;
                }
                account.give_back_refund_room(&event, amount).await?;
                let split_json: Vec<(i64, i64)> = split.iter().map(|(lot, c)| (*lot, c.get())).collect();
                let row = usage_refunds::ActiveModel {
                    id: NotSet,
                    account_id: Set(event.account_id.clone()),
                    usage_event_id: Set(id),
                    credits: Set(amount.get()),
                    cause: Set(cause.as_str().to_owned()),
                    reference: Set(reference.clone()),
                    lot_split: Set(to_json(&split_json)?),
                    created_at_ms: Set(to_ms(account.now)),
                };
                usage_refunds::Entity::insert(row).exec_without_returning(account.tx()).await?;
                let refunded = event
                    .refunded_credits
                    .checked_add(amount)
                    .ok_or_else(|| Error::internal(format!("usage event {id} refunds overflow")))?;
                let status = status_after(event.credits, refunded);
                // Conditional on what was read, so that even a bug cannot
                // refund one event twice over.
                let updated = usage_events::Entity::update_many()
                    .col_expr(usage_events::Column::Status, Expr::value(status.as_str()))
                    .col_expr(usage_events::Column::RefundedCredits, Expr::value(refunded.get()))
                    .filter(usage_events::Column::Id.eq(id))
                    .filter(usage_events::Column::RefundedCredits.eq(event.refunded_credits.get()))
                    .exec(account.tx())
                    .await?;
                if updated.rows_affected != 1 {
                    return Err(Error::internal(format!("usage event {id} was refunded beside this refund")));
                }
                let change = RollupChange::refund(&event, amount, cause, status == UsageStatus::Refunded);
                usage::add_to_rollup(account.tx(), &event, change).await?;
                (event.refunded_credits, event.status) = (refunded, status);
                let data = json!({ "usageEventId": id.to_string(), "credits": amount.get(), "cause": cause.as_str() });
                account.emit(Event::new(EventType::UsageRefunded, data));
                let refund = UsageRefund { credits: amount, cause, created_at: account.now };
                Ok(Refund { refunded_credits: kept, refund, usage_event: event, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// The refunds of each of `event_ids`, oldest first.
    pub async fn refunds_of_events(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<UsageRefund>>> {
        let mut by_event: HashMap<i64, Vec<UsageRefund>> = HashMap::new();
        for (event_id, _, refund) in refunds_of(self.reader(), event_ids).await? {
            by_event.entry(event_id).or_default().push(refund);
        }
        Ok(by_event)
    }
}

/// The refunds of `event_ids`, oldest first: each with its event and the
/// lots its credits went back to.
async fn refunds_of(db: &impl ConnectionTrait, event_ids: &[i64]) -> Result<Vec<(i64, LotSplit, UsageRefund)>> {
    let rows = usage_refunds::Entity::find()
        .filter(usage_refunds::Column::UsageEventId.is_in(event_ids.iter().copied()))
        .order_by_asc(usage_refunds::Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let cause = RefundCause::parse(&row.cause)
                .ok_or_else(|| Error::internal(format!("refund {} has cause {}", row.id, row.cause)))?;
            let split: Vec<(i64, i64)> = from_json(&row.lot_split)?;
            let split = split.into_iter().map(|(lot, credits)| (lot, Credits::new(credits))).collect();
            let refund =
                UsageRefund { credits: Credits::new(row.credits), cause, created_at: from_ms(row.created_at_ms) };
            Ok((row.usage_event_id, split, refund))
        })
        .collect()
}
