//! Refunds: a consumed generation's credits go back to the lots they came
//! from, once. A share whose lot has expired since comes back and expires at
//! once, as a released hold's does (`domain::lots::give_back`): it is not
//! counted in `refundedCredits`.
use chrono::{DateTime, Utc};
use entity::usage_events;
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::account_tx::Origin;
use super::{Store, usage};
use serde_json::json;

use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType};
use crate::domain::ledger::LedgerKind;
use crate::domain::money::Credits;
use crate::domain::text;
use crate::domain::usage::{UsageEvent, UsageStatus};
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Refund {
    pub refunded_credits: Credits,
    pub usage_event: UsageEvent,
    pub wallet: WalletView,
}

impl Store {
    pub async fn refund(&self, usage_event_id: &str, reason: Option<&str>, now: DateTime<Utc>) -> Result<Refund> {
        let not_found = || DomainError::NotFound { what: "usage event", id: usage_event_id.to_owned() };
        let id: i64 = usage_event_id.parse().map_err(|_| not_found())?;
        text::REASON.check_optional(reason)?;
        let account_id = usage::find(self.reader(), id).await.map_err(|_| not_found())?.account_id;
        let reference = reason.unwrap_or("refund").to_owned();
        self.write(&account_id, now, move |account| {
            async move {
                let mut event = usage::find(account.tx(), id).await?;
                if event.status == UsageStatus::Refunded {
                    return Err(DomainError::AlreadyRefunded { id: id.to_string() }.into());
                }
                let mut refunded = Credits::ZERO;
                for (lot_id, credits) in event.lot_split.clone() {
                    let origin = Origin { usage_event_id: Some(id), reference: reference.clone(), ..Origin::default() };
                    let kept = account.give_back(lot_id, credits, LedgerKind::Refund, origin).await?;
                    // At most the event's credits, which were charged once: a bug if not.
                    refunded = refunded
                        .checked_add(kept)
                        .ok_or_else(|| Error::internal(format!("the refund of usage event {id} overflows")))?;
                }
                account.give_back_refund_room(&event, event.credits).await?;
                usage_events::Entity::update_many()
                    .col_expr(usage_events::Column::Status, Expr::value(UsageStatus::Refunded.as_str()))
                    .filter(usage_events::Column::Id.eq(id))
                    .exec(account.tx())
                    .await?;
                usage::add_to_rollup(account.tx(), &event, -1).await?;
                event.status = UsageStatus::Refunded;
                let data = json!({ "usageEventId": id.to_string(), "credits": refunded.get(), "cause": "OTHER" });
                account.emit(Event::new(EventType::UsageRefunded, data));
                Ok(Refund { refunded_credits: refunded, usage_event: event, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }
}
