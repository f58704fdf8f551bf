//! Subscribing, changing plan and cancelling (DESIGN.md, rule 9).
use chrono::{DateTime, Utc};
use entity::subscriptions;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use super::idempotency::{self, Prior};
use futures_util::FutureExt;

use super::account_tx::subscription_event;
use super::{AccountTx, Store, rows};
use crate::clock::to_ms;
use crate::domain::events::EventType;
use crate::domain::periods::period_containing;
use crate::domain::subscription::{
    CancelAction, SubscribeAction, Subscription, SubscriptionStatus, cancel_action, subscribable, subscribe_action,
};
use crate::domain::text;
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};

const OPERATION: &str = "subscribe";

#[derive(Clone, Debug)]
pub struct SubscriptionChange {
    pub subscription: Subscription,
    pub wallet: WalletView,
}

impl Store {
    /// Starts a subscription, or changes plan: the new period starts at once
    /// with the new allowance and the old period's unused credits expire.
    /// Keyed by the payment reference, so a retried payment notification
    /// subscribes once.
    pub async fn subscribe(
        &self,
        account_id: &str,
        plan_code: &str,
        payment_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionChange> {
        idempotency::validate_key(&text::PAYMENT_REFERENCE, payment_reference)?;
        let plan = self.catalog().offered_plan(plan_code)?.clone();
        // Refused before the account is opened: nothing to read for it.
        subscribable(&plan)?;
        let key = format!("payment:{payment_reference}");
        let (plan, payment_reference) = (plan.clone(), payment_reference.to_owned());
        self.write(account_id, now, move |account| {
            async move {
                let plan_code = plan.code.as_str();
                if let Prior::Replay(id) = idempotency::prior(account, &key, OPERATION, plan_code).await? {
                    let subscription = find(account, &id).await?;
                    return Ok(SubscriptionChange { subscription, wallet: account.wallet() });
                }
                match subscribe_action(&plan, account.active_subscription())? {
                    SubscribeAction::Start => start(account, plan_code, &payment_reference).await?,
                    SubscribeAction::Resume { subscription_id } => {
                        set_cancel_at_period_end(account, subscription_id, false).await?;
                    }
                    SubscribeAction::Change { .. } => {
                        account.end_subscription(SubscriptionStatus::Expired, now).await?;
                        start(account, plan_code, &payment_reference).await?;
                    }
                }
                let subscription = reload_latest(account).await?;
                idempotency::record(account, &key, OPERATION, plan_code, &subscription.id.to_string()).await?;
                Ok(SubscriptionChange { subscription, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Cancels at the end of the period (the default), or at once, when the
    /// allowance left expires. Cancelling what is already cancelled changes
    /// nothing and answers as the first time.
    pub async fn cancel_subscription(
        &self,
        account_id: &str,
        at_period_end: bool,
        now: DateTime<Utc>,
    ) -> Result<SubscriptionChange> {
        self.write(account_id, now, move |account| {
            async move {
                match cancel_action(account.subscription.as_ref(), at_period_end)? {
                    CancelAction::AtPeriodEnd { subscription_id } => {
                        set_cancel_at_period_end(account, subscription_id, true).await?;
                        emit_canceled(account, None);
                    }
                    CancelAction::Now => {
                        emit_canceled(account, Some(now));
                        account.end_subscription(SubscriptionStatus::Canceled, now).await?;
                    }
                    CancelAction::AlreadyCanceled => {}
                }
                let subscription = reload_latest(account).await?;
                Ok(SubscriptionChange { subscription, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }
}

async fn start(account: &mut AccountTx, plan_code: &str, payment_reference: &str) -> Result<()> {
    let now = account.now;
    let (start, end) = period_containing(now, now);
    let row = subscriptions::ActiveModel {
        id: NotSet,
        account_id: Set(account.account_id().to_owned()),
        plan_code: Set(plan_code.to_owned()),
        status: Set(SubscriptionStatus::Active.as_str().to_owned()),
        billing_anchor_ms: Set(to_ms(now)),
        current_period_start_ms: Set(to_ms(start)),
        current_period_end_ms: Set(to_ms(end)),
        cancel_at_period_end: Set(false),
        payment_reference: Set(payment_reference.to_owned()),
        created_at_ms: Set(to_ms(now)),
        ended_at_ms: Set(None),
    };
    let id = subscriptions::Entity::insert(row).exec(account.tx()).await?.last_insert_id;
    account.emit(subscription_event(EventType::SubscriptionStarted, plan_code, start, end));
    account.grant_allowance(plan_code, id, end).await
}

/// `subscription.canceled`: the period it ends with, cut short when `now`.
fn emit_canceled(account: &mut AccountTx, now: Option<DateTime<Utc>>) {
    if let Some(subscription) = account.subscription.as_ref() {
        let end = now.unwrap_or(subscription.current_period_end);
        let event = subscription_event(
            EventType::SubscriptionCanceled,
            &subscription.plan_code,
            subscription.current_period_start,
            end,
        );
        account.emit(event);
    }
}

async fn set_cancel_at_period_end(account: &AccountTx, id: i64, cancel: bool) -> Result<()> {
    subscriptions::Entity::update_many()
        .col_expr(subscriptions::Column::CancelAtPeriodEnd, Expr::value(cancel))
        .filter(subscriptions::Column::Id.eq(id))
        .exec(account.tx())
        .await?;
    Ok(())
}

async fn find(account: &AccountTx, id: &str) -> Result<Subscription> {
    let id: i64 = id.parse().map_err(|_| Error::internal("idempotency record of subscribe"))?;
    let row = subscriptions::Entity::find_by_id(id)
        .one(account.tx())
        .await?
        .ok_or_else(|| Error::internal(format!("subscription {id} of an idempotency record is gone")))?;
    rows::subscription(&row)
}

async fn reload_latest(account: &mut AccountTx) -> Result<Subscription> {
    let row = subscriptions::Entity::find()
        .filter(subscriptions::Column::AccountId.eq(account.account_id()))
        .filter(subscriptions::Column::Id.gte(account.subscription.as_ref().map_or(0, |s| s.id)))
        .all(account.tx())
        .await?
        .into_iter()
        .max_by_key(|row| row.id)
        .ok_or_else(|| Error::internal("no subscription after subscribing"))?;
    let subscription = rows::subscription(&row)?;
    account.subscription = Some(subscription.clone());
    Ok(subscription)
}
