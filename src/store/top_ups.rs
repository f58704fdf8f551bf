//! Top-ups (DESIGN.md section 7): requested by a user or a service, or
//! automatically when the balance falls below the account's own threshold;
//! completed (the pack's tokens granted once), failed, or expired by the
//! scheduler. Each change is in the account's transaction, with its events.
use chrono::{DateTime, Duration, Utc};
use entity::top_ups;
use futures_util::FutureExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::grants::tokens_purchased;
use super::idempotency::{self, Prior};
use super::keyset::KeysetRead;
use super::{AccountTx, Store};
use crate::clock::{from_ms, to_ms};
use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::CreditSource;
use crate::domain::money::Credits;
use crate::domain::text;
use crate::domain::top_ups::{Completion, TopUp, TopUpStatus, TopUpTrigger, completion, failure};
use crate::domain::wallet::WalletView;
use crate::error::{Error, Result};

mod automatic;

pub use automatic::{AutoTopUpRequest, settings};

#[derive(Clone, Debug)]
pub struct TopUpChange {
    pub top_up: TopUp,
    pub wallet: WalletView,
}

const REQUEST: &str = "requestTopUp";

impl Store {
    /// A `PENDING` top-up of `pack_id`; a retry with the same key answers
    /// the first one.
    pub async fn request_top_up(
        &self,
        account_id: &str,
        pack_id: &str,
        idempotency_key: &str,
        now: DateTime<Utc>,
    ) -> Result<TopUpChange> {
        idempotency::validate_key(&text::IDEMPOTENCY_KEY, idempotency_key)?;
        self.catalog().offered_pack(pack_id)?;
        let (key, pack_id) = (idempotency_key.to_owned(), pack_id.to_owned());
        self.write(account_id, now, move |account| {
            async move {
                if let Prior::Replay(id) = idempotency::prior(account, &key, REQUEST, &pack_id).await? {
                    let top_up = find(account, parse_id(&id)?).await?;
                    return Ok(TopUpChange { top_up, wallet: account.wallet() });
                }
                if !account.entitlement().can_buy_tokens() {
                    return Err(DomainError::SubscriptionRequired { action: "a top-up" }.into());
                }
                if let Some(pending) = account.pending_top_up().await? {
                    return Err(DomainError::TopUpPending { id: pending.id.to_string() }.into());
                }
                let top_up = account.create_top_up(&pack_id, TopUpTrigger::Manual).await?;
                idempotency::record(account, &key, REQUEST, &pack_id, &top_up.id.to_string()).await?;
                Ok(TopUpChange { top_up, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Grants the pack's tokens once: the same payment reference again
    /// answers the first completion; another is a conflict.
    pub async fn complete_top_up(
        &self,
        top_up_id: &str,
        payment_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<TopUpChange> {
        idempotency::validate_key(&text::PAYMENT_REFERENCE, payment_reference)?;
        let (id, account_id) = self.top_up_account(top_up_id).await?;
        let reference = payment_reference.to_owned();
        self.write(&account_id, now, move |account| {
            async move {
                let mut top_up = find(account, id).await?;
                if completion(&top_up, &reference)? == Completion::Grant {
                    let pack = account.catalog().token_pack(&top_up.pack_id).cloned().ok_or_else(|| {
                        Error::internal(format!("top-up {id} is for pack {} that is gone", top_up.pack_id))
                    })?;
                    let tokens = Credits::new(pack.tokens);
                    account.grant(CreditSource::Tokens, tokens, None, true, LedgerKind::Purchase, &reference).await?;
                    top_ups::Entity::update_many()
                        .col_expr(top_ups::Column::Status, Expr::value(TopUpStatus::Succeeded.as_str()))
                        .col_expr(top_ups::Column::CompletedAtMs, Expr::value(to_ms(now)))
                        .col_expr(top_ups::Column::PaymentReference, Expr::value(reference.clone()))
                        .filter(top_ups::Column::Id.eq(id))
                        .exec(account.tx())
                        .await?;
                    top_up.status = TopUpStatus::Succeeded;
                    top_up.completed_at = Some(now);
                    top_up.payment_reference = Some(reference.clone());
                    account.emit(top_up_event(EventType::TopUpSucceeded, &top_up));
                    account.emit(tokens_purchased(&top_up.pack_id, tokens, &reference));
                    account.count_automatic_outcome(&top_up, true).await?;
                }
                Ok(TopUpChange { top_up, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Marks a top-up `FAILED`: the payment did not go through.
    pub async fn fail_top_up(&self, top_up_id: &str, reason: &str, now: DateTime<Utc>) -> Result<TopUpChange> {
        idempotency::validate_key(&text::REASON, reason)?;
        let (id, account_id) = self.top_up_account(top_up_id).await?;
        let reason = reason.to_owned();
        self.write(&account_id, now, move |account| {
            async move {
                let mut top_up = find(account, id).await?;
                if failure(&top_up)? {
                    close(account, &mut top_up, TopUpStatus::Failed, Some(&reason)).await?;
                }
                Ok(TopUpChange { top_up, wallet: account.wallet() })
            }
            .boxed()
        })
        .await
    }

    /// Expires the account's pending top-up if its time is up (the scheduler).
    pub async fn expire_top_ups(&self, account_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(account_id, now, |account| async move { account.pending_top_up().await.map(drop) }.boxed()).await
    }

    /// An account's top-ups, newest first by keyset.
    pub async fn top_ups(&self, account_id: &str, read: KeysetRead<i64>) -> Result<Vec<TopUp>> {
        let query = top_ups::Entity::find().filter(top_ups::Column::AccountId.eq(account_id));
        read.by_id(query, top_ups::Column::Id).all(self.reader()).await?.iter().map(row).collect()
    }

    async fn top_up_account(&self, top_up_id: &str) -> Result<(i64, String)> {
        let id = parse_id(top_up_id)?;
        let found = top_ups::Entity::find_by_id(id).one(self.reader()).await?;
        let top_up = found.ok_or_else(|| DomainError::NotFound { what: "top-up", id: top_up_id.to_owned() })?;
        Ok((id, top_up.account_id))
    }
}

impl AccountTx {
    /// The account's pending top-up, if any; one whose time is up expires
    /// here first (so a late scheduler never blocks a new request).
    pub(super) async fn pending_top_up(&mut self) -> Result<Option<TopUp>> {
        let found = top_ups::Entity::find()
            .filter(top_ups::Column::AccountId.eq(self.account_id()))
            .filter(top_ups::Column::Status.eq(TopUpStatus::Pending.as_str()))
            .one(self.tx())
            .await?;
        let Some(mut top_up) = found.as_ref().map(row).transpose()? else {
            return Ok(None);
        };
        if top_up.expires_at > self.now {
            return Ok(Some(top_up));
        }
        close(self, &mut top_up, TopUpStatus::Expired, None).await?;
        Ok(None)
    }

    pub(super) async fn create_top_up(&mut self, pack_id: &str, trigger: TopUpTrigger) -> Result<TopUp> {
        let expires_at = self.now + Duration::seconds(self.rules().top_up_ttl_seconds);
        let model = top_ups::ActiveModel {
            id: NotSet,
            account_id: Set(self.account_id().to_owned()),
            pack_id: Set(pack_id.to_owned()),
            status: Set(TopUpStatus::Pending.as_str().to_owned()),
            trigger: Set(trigger.as_str().to_owned()),
            created_at_ms: Set(to_ms(self.now)),
            expires_at_ms: Set(to_ms(expires_at)),
            completed_at_ms: Set(None),
            payment_reference: Set(None),
            failure_reason: Set(None),
        };
        let id = top_ups::Entity::insert(model).exec(self.tx()).await?.last_insert_id;
        let top_up = TopUp {
            id,
            account_id: self.account_id().to_owned(),
            pack_id: pack_id.to_owned(),
            status: TopUpStatus::Pending,
            trigger,
            created_at: self.now,
            expires_at,
            completed_at: None,
            payment_reference: None,
            failure_reason: None,
        };
        self.emit(top_up_event(EventType::TopUpRequested, &top_up));
        self.mark_changed();
        Ok(top_up)
    }
}

/// Ends a top-up as `FAILED` or `EXPIRED`, with its event; an automatic one
/// counts as a failure.
async fn close(account: &mut AccountTx, top_up: &mut TopUp, status: TopUpStatus, reason: Option<&str>) -> Result<()> {
    top_ups::Entity::update_many()
        .col_expr(top_ups::Column::Status, Expr::value(status.as_str()))
        .col_expr(top_ups::Column::FailureReason, Expr::value(reason.map(str::to_owned)))
        .filter(top_ups::Column::Id.eq(top_up.id))
        .exec(account.tx())
        .await?;
    top_up.status = status;
    top_up.failure_reason = reason.map(str::to_owned);
    let event_type = if status == TopUpStatus::Failed { EventType::TopUpFailed } else { EventType::TopUpExpired };
    account.emit(top_up_event(event_type, top_up));
    account.count_automatic_outcome(top_up, false).await?;
    account.mark_changed();
    Ok(())
}

/// The data of a top-up's events.
fn top_up_event(event_type: EventType, top_up: &TopUp) -> Event {
    let data = json!({
        "topUpId": top_up.id.to_string(),
        "packId": top_up.pack_id,
        "trigger": top_up.trigger.as_str(),
    });
    Event::new(event_type, data)
}

async fn find(account: &AccountTx, id: i64) -> Result<TopUp> {
    let found = top_ups::Entity::find_by_id(id).one(account.tx()).await?;
    row(&found.ok_or_else(|| DomainError::NotFound { what: "top-up", id: id.to_string() })?)
}

fn parse_id(id: &str) -> Result<i64, DomainError> {
    id.parse().map_err(|_| DomainError::NotFound { what: "top-up", id: id.to_owned() })
}

fn row(row: &top_ups::Model) -> Result<TopUp> {
    let broken = |what: &str, value: &str| Error::internal(format!("top-up {} has {what} {value}", row.id));
    Ok(TopUp {
        id: row.id,
        account_id: row.account_id.clone(),
        pack_id: row.pack_id.clone(),
        status: TopUpStatus::parse(&row.status).ok_or_else(|| broken("status", &row.status))?,
        trigger: TopUpTrigger::parse(&row.trigger).ok_or_else(|| broken("trigger", &row.trigger))?,
        created_at: from_ms(row.created_at_ms),
        expires_at: from_ms(row.expires_at_ms),
        completed_at: row.completed_at_ms.map(from_ms),
        payment_reference: row.payment_reference.clone(),
        failure_reason: row.failure_reason.clone(),
    })
}
