//! The transactional outbox of an account transaction: events are collected
//! as the transaction goes and written with its commit, numbered by the
//! account's `event_sequence`, which the account's lock guards (written with
//! the account's row at commit), so that a
//! rolled-back change has no event and every committed one has its own.
use entity::{accounts, credit_lots, events};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use super::AccountTx;
use crate::clock::to_ms;
use crate::domain::events::{Event, balance_crossings, expiring_notice, expiry_due_for_notice};
use crate::domain::money::Credits;
use crate::error::Result;

impl AccountTx {
    /// Adds an event to write with this transaction's commit.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Under this, `balance.low`; at or above it again, `balance.recovered`.
    pub fn low_balance_threshold(&self) -> Credits {
        self.account.low_balance_threshold.map_or(self.store.rules().low_balance_threshold, Credits::new)
    }

    /// Compares the balance with what the last check saw: the threshold
    /// events of a crossing, and an automatic top-up when one is due.
    pub(super) async fn watch_balance(&mut self) -> Result<()> {
        let (before, after) = (self.watched, self.balance);
        if before != after {
            for event in balance_crossings(before, after, self.low_balance_threshold()) {
                self.emit(event);
            }
            self.top_up_on_crossing(before, after).await?;
        }
        self.watched = self.balance;
        Ok(())
    }

    /// Takes the balance as it is without an event: the lazy daily free
    /// credits move it without telling anyone.
    pub(super) fn rebase_watch(&mut self) {
        self.watched = self.balance;
    }

    /// A lot granted with an expiry that may need a notice later.
    pub(super) fn watch_expiry(&mut self, lot_id: i64) {
        self.unnoticed.push(lot_id);
    }

    /// `credits.expiring` for each lot whose expiry entered the notice
    /// window, considered once per lot.
    pub(super) async fn notice_expiries(&mut self) -> Result<()> {
        let window = chrono::Duration::hours(self.store.rules().expiry_notice_hours);
        let due: Vec<i64> = self
            .unnoticed
            .iter()
            .copied()
            .filter(|id| self.lots.iter().any(|lot| lot.id == *id && expiry_due_for_notice(lot, self.now, window)))
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let noticed = credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::ExpiryNoticed, Expr::value(true))
            .filter(credit_lots::Column::Id.is_in(due.clone()));
        self.tx.defer(&noticed.into_query(), due.len() as u64).await?;
        self.unnoticed.retain(|id| !due.contains(id));
        let threshold = self.low_balance_threshold();
        for id in due {
            let Some(lot) = self.lots.iter().find(|lot| lot.id == id) else { continue };
            if let Some(event) = expiring_notice(lot, &self.lots, self.balance, threshold) {
                self.emit(event);
            }
        }
        Ok(())
    }

    /// Writes the collected events; answers their types, for the metrics.
    pub(super) async fn write_events(&mut self) -> Result<Vec<&'static str>> {
        if self.events.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.account.event_sequence + 1;
        let mut types = Vec::with_capacity(self.events.len());
        let mut rows = Vec::with_capacity(self.events.len());
        for (offset, event) in std::mem::take(&mut self.events).into_iter().enumerate() {
            let mut data = event.data;
            if let Value::Object(fields) = &mut data {
                fields.insert("accountId".into(), Value::String(self.account.id.clone()));
            }
            types.push(event.event_type.as_str());
            rows.push(events::ActiveModel {
                id: NotSet,
                account_id: Set(Some(self.account.id.clone())),
                sequence: Set(first + offset as i64),
                event_type: Set(event.event_type.as_str().to_owned()),
                data: Set(data.to_string()),
                created_at_ms: Set(to_ms(self.now)),
                dispatched: Set(false),
            });
        }
        let last = first + rows.len() as i64 - 1;
        let count = rows.len() as u64;
        self.tx.defer(&events::Entity::insert_many(rows).into_query(), count).await?;
        // Written with the rest of the account's row (`save_account`).
        self.account.event_sequence = last;
        self.account_changed(&[accounts::Column::EventSequence]);
        Ok(types)
    }
}
