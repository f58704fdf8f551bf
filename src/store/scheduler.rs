//! The scheduler: what time makes due is applied to accounts nobody touches
//! (DESIGN.md section 6): billing periods that end, SUBSCRIPTION and PROMO
//! lots that expire, `credits.expiring` notices whose window opens, holds
//! and top-ups that time out. Each due account is settled in its own
//! transaction under its lock, where every one of these changes is applied
//! only if still due, so schedulers of several processes on one PostgreSQL
//! never apply anything twice. Daily free credits stay lazy. On PostgreSQL
//! a run first makes the coming months' partitions (`engine`).
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use entity::{credit_lots, reservations, subscriptions, top_ups};
use futures_util::FutureExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Select};

use super::Store;
use crate::clock::to_ms;
use crate::domain::events::announces_expiry;
use crate::domain::holds::ReservationStatus;
use crate::domain::lots::CreditSource;
use crate::domain::subscription::SubscriptionStatus;
use crate::domain::top_ups::TopUpStatus;
use crate::error::Result;

/// Accounts one run settles at most; the next run takes the rest.
const ACCOUNTS_PER_RUN: u64 = 1_000;

/// What one run of the scheduler did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedulerRun {
    /// Accounts settled.
    pub accounts: usize,
    /// Accounts that failed to settle (logged; retried by the next run).
    pub failed: usize,
}

impl Store {
    /// Settles every account with something due at `now`.
    pub async fn run_scheduler(&self, now: DateTime<Utc>) -> Result<SchedulerRun> {
        // A missing partition costs nothing yet (its rows wait in the
        // default one): the run goes on, and the next one tries again.
        if let Err(error) = self.engine.prepare_partitions(&self.background, now).await {
            tracing::warn!(%error, "could not make the coming months' partitions");
        }
        let accounts = self.due_accounts(now).await?;
        let mut run = SchedulerRun::default();
        for account_id in &accounts {
            // Opening the account settles it; a due top-up expires here.
            let settled =
                self.write(account_id, now, |account| async { account.pending_top_up().await.map(drop) }.boxed());
            match settled.await {
                Ok(()) => run.accounts += 1,
                Err(error) => {
                    tracing::warn!(account_id, %error, "the scheduler could not settle an account");
                    run.failed += 1;
                }
            }
        }
        Ok(run)
    }

    /// Accounts with a period, expiry, notice, hold or top-up due at `now`.
    async fn due_accounts(&self, now: DateTime<Utc>) -> Result<BTreeSet<String>> {
        let at = to_ms(now);
        let notice_until = to_ms(now + Duration::hours(self.rules().expiry_notice_hours));
        let announced = [CreditSource::Subscription, CreditSource::Promo, CreditSource::Rollover]
            .into_iter()
            .filter(|&source| announces_expiry(source))
            .map(CreditSource::as_str);
        let live_lots = || {
            credit_lots::Entity::find()
                .select_only()
                .column(credit_lots::Column::AccountId)
                // As the partial index `credit_lots_live_expiry` is written:
                // literals, which the planner can match to it (bound values it cannot).
                .filter(Expr::cust(format!("remaining > 0 AND source <> '{}'", CreditSource::DailyFree.as_str())))
        };
        let periods = subscriptions::Entity::find()
            .select_only()
            .column(subscriptions::Column::AccountId)
            .filter(subscriptions::Column::Status.eq(SubscriptionStatus::Active.as_str()))
            .filter(subscriptions::Column::CurrentPeriodEndMs.lte(at));
        let expiries = live_lots().filter(credit_lots::Column::ExpiresAtMs.lte(at));
        let notices = live_lots()
            .filter(credit_lots::Column::ExpiryNoticed.eq(false))
            .filter(credit_lots::Column::Source.is_in(announced))
            .filter(credit_lots::Column::ExpiresAtMs.gt(at))
            .filter(credit_lots::Column::ExpiresAtMs.lte(notice_until));
        let holds = reservations::Entity::find()
            .select_only()
            .column(reservations::Column::AccountId)
            .filter(reservations::Column::Status.eq(ReservationStatus::Open.as_str()))
            .filter(reservations::Column::ExpiresAtMs.lte(at));
        let top_ups = top_ups::Entity::find()
            .select_only()
            .column(top_ups::Column::AccountId)
            .filter(top_ups::Column::Status.eq(TopUpStatus::Pending.as_str()))
            .filter(top_ups::Column::ExpiresAtMs.lte(at));
        let mut due = BTreeSet::new();
        due.extend(self.account_ids(periods).await?);
        due.extend(self.account_ids(expiries).await?);
        due.extend(self.account_ids(notices).await?);
        due.extend(self.account_ids(holds).await?);
        due.extend(self.account_ids(top_ups).await?);
        Ok(due.into_iter().take(ACCOUNTS_PER_RUN as usize).collect())
    }

    async fn account_ids<E: EntityTrait>(&self, query: Select<E>) -> Result<Vec<String>> {
        Ok(query.distinct().limit(ACCOUNTS_PER_RUN).into_tuple().all(self.reader()).await?)
    }
}
