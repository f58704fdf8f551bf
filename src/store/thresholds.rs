//! The per-account low-balance threshold.
use chrono::{DateTime, Utc};
use entity::accounts;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use futures_util::FutureExt;

use super::Store;
use crate::domain::error::DomainError;
use crate::domain::wallet::WalletView;
use crate::error::Result;

pub const THRESHOLD_MAX: i64 = 1_000_000_000;

impl Store {
    /// Sets the threshold under which the wallet shows `lowBalance`; None
    /// goes back to the configured default.
    pub async fn set_low_balance_threshold(
        &self,
        account_id: &str,
        threshold: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<WalletView> {
        if threshold.is_some_and(|t| !(0..=THRESHOLD_MAX).contains(&t)) {
            return Err(
                DomainError::invalid("threshold", format!("threshold must be between 0 and {THRESHOLD_MAX}")).into()
            );
        }
        self.write(account_id, now, move |account| {
            async move {
                accounts::Entity::update_many()
                    .col_expr(accounts::Column::LowBalanceThreshold, Expr::value(threshold))
                    .filter(accounts::Column::Id.eq(account.account_id()))
                    .exec(account.tx())
                    .await?;
                account.account.low_balance_threshold = threshold;
                account.mark_changed();
                Ok(account.wallet())
            }
            .boxed()
        })
        .await
    }
}
