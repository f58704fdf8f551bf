//! Settling time on an open account: periods that ended renew or end,
//! expired lots are emptied, the day's free credits are granted.
use chrono::{DateTime, Utc};
use entity::{accounts, credit_lots, subscriptions};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::AccountTx;
use crate::clock::to_ms;
use serde_json::json;

use crate::domain::carry_over;
use crate::domain::catalog::Plan;
use crate::domain::events::{Event, EventType, timestamp};
use crate::domain::holds::{Reservation, ReservationStatus};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::CreditSource;
use crate::domain::money::Credits;
use crate::domain::settle::settle;
use crate::domain::subscription::{Rollover, SubscriptionStatus};
use crate::error::{Error, Result};

impl AccountTx {
    /// Applies what the passing of time requires, in order: the end of a
    /// billing period (renewal or end), the expiry of lots, the day's free
    /// credits. Expiries are recorded when first noticed.
    pub(super) async fn settle(&mut self) -> Result<()> {
        // Holds past their time limit are released first, so that credits of
        // a lot that expired meanwhile expire with it below.
        let timed_out: Vec<Reservation> = self.holds.iter().filter(|h| h.timed_out(self.now)).cloned().collect();
        for hold in timed_out {
            self.close_hold(hold.id, ReservationStatus::Expired, None).await?;
            let data = json!({ "reservationId": hold.id.to_string(), "credits": hold.credits.get() });
            self.emit(Event::new(EventType::ReservationExpired, data));
        }
        let rules = self.store.rules().clone();
        let settlement =
            settle(&rules, self.now, &self.lots, self.subscription.as_ref(), self.account.daily_free_day.as_deref());
        if settlement.is_empty() {
            return Ok(());
        }
        match settlement.rollover {
            Rollover::Unchanged => {}
            Rollover::Renewed { start, end } => self.renew(start, end).await?,
            Rollover::Ended { at } => self.end_subscription(SubscriptionStatus::Canceled, at).await?,
        }
        // What time did to the balance is told; the daily free credits below
        // come and go without a word.
        let (daily, others): (Vec<i64>, Vec<i64>) = settlement
            .expire
            .into_iter()
            .partition(|id| self.lots.iter().any(|lot| lot.id == *id && lot.source == CreditSource::DailyFree));
        for lot_id in others {
            self.expire(lot_id, "expired").await?;
        }
        self.watch_balance().await?;
        for lot_id in daily {
            self.expire(lot_id, "expired").await?;
        }
        if let Some((amount, expires_at, day)) = settlement.daily_grant {
            self.grant_daily(amount, expires_at, day).await?;
        }
        self.rebase_watch();
        Ok(())
    }

    async fn grant_daily(&mut self, amount: Credits, expires_at: DateTime<Utc>, day: String) -> Result<()> {
        // Conditional, so that a day's credits are granted once even if two
        // transactions both saw the day as new.
        let claimed = accounts::Entity::update_many()
            .col_expr(accounts::Column::DailyFreeDay, Expr::value(day.clone()))
            .filter(accounts::Column::Id.eq(self.account.id.clone()))
            .filter(accounts::Column::DailyFreeDay.is_null().or(accounts::Column::DailyFreeDay.ne(day.clone())))
            .exec(&self.tx)
            .await?;
        if claimed.rows_affected == 1 {
            self.account.daily_free_day = Some(day.clone());
            let amount = self.rule_grant(amount);
            if amount.is_positive() {
                self.grant(CreditSource::DailyFree, amount, Some(expires_at), false, LedgerKind::DailyGrant, &day)
                    .await?;
            }
        }
        Ok(())
    }

    async fn renew(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<()> {
        let Some(subscription) = self.subscription.clone() else {
            return Ok(());
        };
        subscriptions::Entity::update_many()
            .col_expr(subscriptions::Column::CurrentPeriodStartMs, Expr::value(to_ms(start)))
            .col_expr(subscriptions::Column::CurrentPeriodEndMs, Expr::value(to_ms(end)))
            .filter(subscriptions::Column::Id.eq(subscription.id))
            .exec(&self.tx)
            .await?;
        if let Some(current) = self.subscription.as_mut() {
            current.current_period_start = start;
            current.current_period_end = end;
        }
        self.emit(subscription_event(EventType::SubscriptionRenewed, &subscription.plan_code, start, end));
        // Carried first, so that at the same expiry it is spent first (ties by id).
        let plan = self.plan_of(&subscription.plan_code, subscription.id)?;
        let unused = carry_over::unused_allowance(&self.lots, subscription.current_period_end);
        let carried = self.rule_grant(carry_over::carried(&plan, unused));
        if carried.is_positive() {
            let reference = format!("subscription {} carry-over", subscription.id);
            self.grant(
                CreditSource::Rollover,
                carried,
                Some(end),
                plan.pro_access,
                LedgerKind::RolloverGrant,
                &reference,
            )
            .await?;
        }
        self.grant_allowance(&subscription.plan_code, subscription.id, end).await
    }

    fn plan_of(&self, plan_code: &str, subscription_id: i64) -> Result<Plan> {
        self.catalog
            .plan(plan_code)
            .cloned()
            .ok_or_else(|| Error::internal(format!("subscription {subscription_id} is on unknown plan {plan_code}")))
    }

    /// Grants the allowance of a new billing period, expiring at its end.
    pub async fn grant_allowance(&mut self, plan_code: &str, subscription_id: i64, end: DateTime<Utc>) -> Result<()> {
        let plan = self.plan_of(plan_code, subscription_id)?;
        let allowance = self.rule_grant(Credits::new(plan.monthly_credits));
        if allowance.is_positive() {
            let reference = format!("subscription {subscription_id}");
            self.grant(
                CreditSource::Subscription,
                allowance,
                Some(end),
                plan.pro_access,
                LedgerKind::SubscriptionGrant,
                &reference,
            )
            .await?;
        }
        Ok(())
    }

    /// Ends the active subscription; its allowance expires with it and its
    /// carried credits are forfeited.
    pub async fn end_subscription(&mut self, status: SubscriptionStatus, at: DateTime<Utc>) -> Result<()> {
        let Some(subscription) = self.subscription.as_mut().filter(|s| s.is_active()) else {
            return Ok(());
        };
        subscription.status = status;
        let id = subscription.id;
        let event = subscription_event(
            EventType::SubscriptionEnded,
            &subscription.plan_code,
            subscription.current_period_start,
            at,
        );
        subscriptions::Entity::update_many()
            .col_expr(subscriptions::Column::Status, Expr::value(status.as_str()))
            .col_expr(subscriptions::Column::EndedAtMs, Expr::value(to_ms(at)))
            .filter(subscriptions::Column::Id.eq(id))
            .exec(&self.tx)
            .await?;
        // The allowance and the carried credits end now, also those of them
        // that are held or spent: a release or refund later must not bring
        // them back.
        let sources = [CreditSource::Subscription, CreditSource::Rollover];
        credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::ExpiresAtMs, Expr::value(to_ms(at)))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .filter(credit_lots::Column::Source.is_in(sources.map(CreditSource::as_str)))
            .filter(credit_lots::Column::ExpiresAtMs.gt(to_ms(at)))
            .exec(&self.tx)
            .await?;
        for lot in self.lots.iter_mut().filter(|lot| carry_over::ends_with_subscription(lot.source)) {
            lot.expires_at = lot.expires_at.map(|expires_at| std::cmp::min(expires_at, at));
        }
        let live: Vec<(i64, CreditSource)> = self
            .lots
            .iter()
            .filter(|lot| carry_over::ends_with_subscription(lot.source) && lot.remaining.is_positive())
            .map(|lot| (lot.id, lot.source))
            .collect();
        let reason = format!("subscription {id} {}", status.as_str().to_lowercase());
        for (lot_id, source) in live {
            let kind = if source == CreditSource::Rollover { LedgerKind::Forfeit } else { LedgerKind::Expire };
            self.expire_as(lot_id, kind, &reason).await?;
        }
        self.emit(event);
        Ok(())
    }
}

/// The data of a subscription's events: its plan and the period concerned.
pub fn subscription_event(event_type: EventType, plan_code: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Event {
    let data = json!({ "planCode": plan_code, "periodStart": timestamp(start), "periodEnd": timestamp(end) });
    Event::new(event_type, data)
}
