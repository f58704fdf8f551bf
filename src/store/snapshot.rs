//! Reading an account without taking its lock. When time has moved on (a new
//! day, an expired lot, an ended period) the read turns into a write that
//! settles the account first, so what is shown is what would be charged.
use chrono::{DateTime, Utc};
use entity::accounts;
use futures_util::FutureExt;
use sea_orm::EntityTrait;

use super::Store;
use super::account_tx::{Holdings, Prefetch, load, wallet_view};
use crate::domain::settle::settle;
use crate::domain::subscription::{Entitlement, Subscription};
use crate::domain::text::validate_account_id;
use crate::domain::top_ups::AutoTopUp;
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
    pub auto_top_up: AutoTopUp,
}

impl Store {
    pub async fn account(&self, account_id: &str, now: DateTime<Utc>) -> Result<AccountSnapshot> {
        validate_account_id(account_id)?;
        let db = self.reader();
        if let Some(account) = accounts::Entity::find_by_id(account_id).one(db).await? {
            let Holdings { lots, subscription, holds, .. } =
                load(&self.engine, db, account_id, &Prefetch::default()).await?;
            let settled = settle(self.rules(), now, &lots, subscription.as_ref(), account.daily_free_day.as_deref())
                .is_empty()
                && !holds.iter().any(|hold| hold.timed_out(now));
            if settled {
                let held = holds.iter().map(|hold| hold.credits).sum();
                let catalog = self.catalog();
                return Ok(AccountSnapshot {
                    id: account.id.clone(),
                    wallet: wallet_view(self, &catalog, &account, &lots, subscription.as_ref(), held, now),
                    entitlement: Entitlement::of(&catalog, subscription.as_ref()),
                    subscription,
                    auto_top_up: super::top_ups::settings(&account),
                });
            }
        }
        self.write(account_id, now, |account| {
            let snapshot = AccountSnapshot {
                id: account.account_id().to_owned(),
                wallet: account.wallet(),
                entitlement: account.entitlement(),
                subscription: account.subscription.clone(),
                auto_top_up: account.auto_top_up(),
            };
            async { Ok(snapshot) }.boxed()
        })
        .await
    }
}
