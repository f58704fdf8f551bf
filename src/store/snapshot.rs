//! Reading an account without taking its lock. When time has moved on (a new
//! day, an expired lot, an ended period) the read turns into a write that
//! settles the account first, so what is shown is what would be charged.
use chrono::{DateTime, Utc};
use entity::{accounts, credit_lots, subscriptions};
use futures_util::FutureExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::account_tx::{entitlement, validate_account_id, wallet_view};
use super::{Store, rows};
use crate::domain::lots::Lot;
use crate::domain::settle::settle;
use crate::domain::subscription::{Entitlement, Subscription};
use crate::domain::wallet::WalletView;
use crate::error::Result;

/// An account as of `now`, settled.
#[derive(Clone, Debug)]
pub struct AccountSnapshot {
    pub id: String,
    pub wallet: WalletView,
    pub entitlement: Entitlement,
    /// The latest subscription, active or not.
    pub subscription: Option<Subscription>,
}

impl Store {
    pub async fn account(&self, account_id: &str, now: DateTime<Utc>) -> Result<AccountSnapshot> {
        validate_account_id(account_id)?;
        let db = self.reader();
        if let Some(account) = accounts::Entity::find_by_id(account_id).one(db).await? {
            let lots = credit_lots::Entity::find()
                .filter(credit_lots::Column::AccountId.eq(account_id))
                .filter(credit_lots::Column::Remaining.gt(0))
                .all(db)
                .await?
                .iter()
                .map(rows::lot)
                .collect::<Result<Vec<Lot>>>()?;
            let subscription = subscriptions::Entity::find()
                .filter(subscriptions::Column::AccountId.eq(account_id))
                .order_by_desc(subscriptions::Column::Id)
                .one(db)
                .await?
                .as_ref()
                .map(rows::subscription)
                .transpose()?;
            let holds = super::holds::open_holds(db, account_id).await?;
            let settled = settle(self.rules(), now, &lots, subscription.as_ref(), account.daily_free_day.as_deref())
                .is_empty()
                && !holds.iter().any(|hold| hold.timed_out(now));
            if settled {
                let held = holds.iter().map(|hold| hold.credits).sum();
                let active = subscription.as_ref().filter(|s| s.is_active());
                return Ok(AccountSnapshot {
                    id: account.id.clone(),
                    wallet: wallet_view(self, &account, &lots, active, held, now),
                    entitlement: entitlement(self.catalog(), active),
                    subscription,
                });
            }
        }
        self.write(account_id, now, |account| {
            let snapshot = AccountSnapshot {
                id: account.account_id().to_owned(),
                wallet: account.wallet(),
                entitlement: account.entitlement(),
                subscription: account.subscription.clone(),
            };
            async { Ok(snapshot) }.boxed()
        })
        .await
    }
}
