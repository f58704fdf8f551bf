//! Automatic top-ups: asked for in the transaction of the movement that takes
//! the balance below the account's threshold (or when switched on below
//! it), at most one pending, at most `monthlyLimit` a calendar month, and
//! switched off after three failures in a row. The account's row, locked by
//! every movement, holds the settings and counters, so two racing charges,
//! on one process or two, cannot both ask.
use chrono::{DateTime, Utc};
use entity::accounts;
use futures_util::FutureExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, top_up_event};
use crate::domain::error::DomainError;
use crate::domain::events::EventType;
use crate::domain::money::Credits;
use crate::domain::top_ups::{
    AUTO_TOP_UP_FAILURES_MAX, AUTO_TOP_UP_MONTHLY_LIMIT_MAX, AutoTopUp, TopUp, TopUpTrigger, month_key,
};
use crate::error::Result;
use crate::store::AccountTx;
use crate::store::thresholds::THRESHOLD_MAX;

/// `setAutoTopUp` as asked: absent fields keep what is set.
#[derive(Clone, Debug)]
pub struct AutoTopUpRequest {
    pub enabled: bool,
    pub threshold: Option<i64>,
    pub pack_id: Option<String>,
    pub monthly_limit: Option<i32>,
}

impl Store {
    pub async fn set_auto_top_up(
        &self,
        account_id: &str,
        request: AutoTopUpRequest,
        now: DateTime<Utc>,
    ) -> Result<AutoTopUp> {
        if request.threshold.is_some_and(|t| !(0..=THRESHOLD_MAX).contains(&t)) {
            let message = format!("threshold must be between 0 and {THRESHOLD_MAX}");
            return Err(DomainError::invalid("threshold", message).into());
        }
        if request.monthly_limit.is_some_and(|l| !(1..=AUTO_TOP_UP_MONTHLY_LIMIT_MAX).contains(&l)) {
            let message = format!("monthlyLimit must be between 1 and {AUTO_TOP_UP_MONTHLY_LIMIT_MAX}");
            return Err(DomainError::invalid("monthlyLimit", message).into());
        }
        if let Some(pack_id) = &request.pack_id {
            self.catalog().offered_pack(pack_id)?;
        }
        self.write(account_id, now, move |account| {
            async move {
                let current = account.auto_top_up();
                let settings = AutoTopUp {
                    enabled: request.enabled,
                    threshold: request.threshold.map_or(current.threshold, Credits::new),
                    pack_id: request.pack_id.or_else(|| current.pack_id.clone()),
                    monthly_limit: request.monthly_limit.unwrap_or(current.monthly_limit),
                    // Switching it on starts the count of failures afresh.
                    consecutive_failures: if request.enabled { 0 } else { current.consecutive_failures },
                    ..current.clone()
                };
                if settings.enabled && settings.pack_id.is_none() {
                    return Err(DomainError::invalid("packId", "an automatic top-up needs a token pack").into());
                }
                account.store_auto_top_up(&settings).await?;
                account.mark_changed();
                if settings.enabled && !current.enabled {
                    // Switched on while already below: as if the balance had just crossed.
                    let balance = account.balance();
                    account.top_up_on_crossing(balance, balance).await?;
                }
                Ok(account.auto_top_up())
            }
            .boxed()
        })
        .await
    }
}

impl AccountTx {
    pub fn auto_top_up(&self) -> AutoTopUp {
        settings(&self.account)
    }

    /// Asks for an automatic top-up when the balance's move from `before`
    /// to `after` makes one due.
    pub(crate) async fn top_up_on_crossing(&mut self, before: Credits, after: Credits) -> Result<()> {
        let settings = self.auto_top_up();
        let subscribed = self.entitlement().can_buy_tokens();
        // Checked first without the pending top-up, which costs a read.
        if !settings.due(before, after, self.now, subscribed, false) || self.pending_top_up().await?.is_some() {
            return Ok(());
        }
        let Some(pack_id) = settings.pack_id.clone() else { return Ok(()) };
        self.create_top_up(&pack_id, TopUpTrigger::Automatic).await?;
        let counted =
            AutoTopUp { month: Some(month_key(self.now)), requested: settings.requested_in(self.now) + 1, ..settings };
        self.store_auto_top_up(&counted).await
    }

    /// An automatic top-up ended: a success clears the failures, a failure
    /// (or expiry) counts, and the third in a row switches it off.
    pub(crate) async fn count_automatic_outcome(&mut self, top_up: &TopUp, succeeded: bool) -> Result<()> {
        if top_up.trigger != TopUpTrigger::Automatic {
            return Ok(());
        }
        let settings = self.auto_top_up();
        let failures = if succeeded { 0 } else { settings.consecutive_failures + 1 };
        let disable = settings.enabled && failures >= AUTO_TOP_UP_FAILURES_MAX;
        if disable {
            self.emit(top_up_event(EventType::AutoTopUpDisabled, top_up));
        }
        let counted = AutoTopUp { enabled: settings.enabled && !disable, consecutive_failures: failures, ..settings };
        self.store_auto_top_up(&counted).await
    }

    async fn store_auto_top_up(&mut self, settings: &AutoTopUp) -> Result<()> {
        if *settings == self.auto_top_up() {
            return Ok(());
        }
        accounts::Entity::update_many()
            .col_expr(accounts::Column::AutoTopUpEnabled, Expr::value(settings.enabled))
            .col_expr(accounts::Column::AutoTopUpThreshold, Expr::value(settings.threshold.get()))
            .col_expr(accounts::Column::AutoTopUpPack, Expr::value(settings.pack_id.clone()))
            .col_expr(accounts::Column::AutoTopUpMonthlyLimit, Expr::value(settings.monthly_limit))
            .col_expr(accounts::Column::AutoTopUpMonth, Expr::value(settings.month.clone()))
            .col_expr(accounts::Column::AutoTopUpRequested, Expr::value(settings.requested))
            .col_expr(accounts::Column::AutoTopUpFailures, Expr::value(settings.consecutive_failures))
            .filter(accounts::Column::Id.eq(self.account_id()))
            .exec(self.tx())
            .await?;
        let account = &mut self.account;
        account.auto_top_up_enabled = settings.enabled;
        account.auto_top_up_threshold = settings.threshold.get();
        account.auto_top_up_pack = settings.pack_id.clone();
        account.auto_top_up_monthly_limit = i64::from(settings.monthly_limit);
        account.auto_top_up_month = settings.month.clone();
        account.auto_top_up_requested = i64::from(settings.requested);
        account.auto_top_up_failures = i64::from(settings.consecutive_failures);
        Ok(())
    }
}

/// A count kept as BIGINT, within the 32 bits the API shows.
fn count(stored: i64) -> i32 {
    i32::try_from(stored.max(0)).unwrap_or(i32::MAX)
}

/// An account's automatic top-up, as its row keeps it.
pub fn settings(account: &accounts::Model) -> AutoTopUp {
    AutoTopUp {
        enabled: account.auto_top_up_enabled,
        threshold: Credits::new(account.auto_top_up_threshold),
        pack_id: account.auto_top_up_pack.clone(),
        monthly_limit: count(account.auto_top_up_monthly_limit),
        month: account.auto_top_up_month.clone(),
        requested: count(account.auto_top_up_requested),
        consecutive_failures: count(account.auto_top_up_failures),
    }
}
