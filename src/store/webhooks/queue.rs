//! The delivery worker's queue. Every step is a short transaction that any
//! process may run at any time and be killed in:
//!
//! 1. fan-out: undispatched events become one PENDING delivery per
//!    matching endpoint, and are marked dispatched, in one transaction;
//! 2. claim: due deliveries get their attempt counted and a lease, in one
//!    `UPDATE ... RETURNING`; a process killed mid-attempt leaves the lease
//!    to run out, and then another claims the delivery again;
//! 3. record: the outcome is written only if the claim's attempt is still
//!    the delivery's last (`WHERE attempts = ?`), so a late answer to a
//!    lease that ran out cannot overwrite the newer attempt.
//!
//! On PostgreSQL the rows taken are locked `FOR UPDATE SKIP LOCKED`, so
//! several processes share the work and each attempt is made by one of
//! them; SQLite has one writer, and sea-query leaves the lock out there.
use chrono::{DateTime, Duration, Utc};
use entity::{events, webhook_deliveries, webhook_endpoints};
use futures_util::FutureExt;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::Store;
use super::LANE;
use super::events::{enabled_endpoints, pending};
use crate::clock::to_ms;
use crate::domain::webhooks::{DeliveryStatus, retry_delay, wants};
use crate::error::{Error, Result};

/// One attempt this process claimed, with what it needs to make it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub delivery_id: i64,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub event_id: i64,
    pub event_type: String,
    /// The event's data as stored (JSON), so every attempt's body is the same.
    pub data: String,
    pub event_created_at_ms: i64,
    pub url: String,
    /// The endpoint's secret, or why it could not be opened.
    pub secret: Result<String>,
}

/// How long a claim holds its deliveries: see `Store::claim_deliveries`.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    /// The longest one attempt takes (the request's time-out).
    pub attempt: Duration,
    /// Attempts made at once.
    pub at_once: usize,
    pub margin: Duration,
}

/// What an attempt got.
#[derive(Clone, Debug)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// What recording an attempt did, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    Succeeded,
    Retried,
    Failed,
    /// The claim's lease had run out and another attempt had begun.
    Stale,
}

/// The ids of up to `limit` deliveries due at `now_ms`, soonest first: pending,
/// not leased, to an endpoint that is enabled (a disabled endpoint's
/// deliveries wait until it is enabled again) and not deleted.
fn due(now_ms: i64, limit: u64) -> SelectStatement {
    use webhook_deliveries::Column as D;
    use webhook_endpoints::Column as E;
    let (deliveries, endpoints) = (webhook_deliveries::Entity, webhook_endpoints::Entity);
    Query::select()
        .column((deliveries, D::Id))
        .from(deliveries)
        .inner_join(endpoints, Expr::col((endpoints, E::Id)).equals((deliveries, D::EndpointId)))
        .and_where(Expr::col((deliveries, D::Status)).eq(DeliveryStatus::Pending.as_str()))
        .and_where(Expr::col((deliveries, D::NextAttemptAtMs)).lte(now_ms))
        .and_where(Expr::col((deliveries, D::LeaseUntilMs)).lte(now_ms))
        .and_where(Expr::col((endpoints, E::Enabled)).eq(true))
        .and_where(Expr::col((endpoints, E::DeletedAtMs)).is_null())
        .order_by((deliveries, D::NextAttemptAtMs), Order::Asc)
        .order_by((deliveries, D::Id), Order::Asc)
        .limit(limit)
        .take()
}

/// Longest `last_error` kept: enough for any reason, bounded for a hostile receiver.
const ERROR_LENGTH_MAX: usize = 500;

impl Store {
    /// Turns up to `limit` undispatched events into deliveries; how many events.
    pub async fn dispatch_events(&self, now: DateTime<Utc>, limit: u64) -> Result<usize> {
        // A read first: an idle worker polls every second, and a write
        // transaction each time would be a commit (on SQLite, a flush) for nothing.
        let waiting = events::Entity::find().filter(events::Column::Dispatched.eq(false)).one(self.reader()).await?;
        if waiting.is_none() {
            return Ok(0);
        }
        self.transact(LANE, move |tx| {
            async move {
                let rows = events::Entity::find()
                    .filter(events::Column::Dispatched.eq(false))
                    .order_by_asc(events::Column::Id)
                    .limit(limit)
                    .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                    .all(tx)
                    .await?;
                if rows.is_empty() {
                    return Ok(0);
                }
                let endpoints = enabled_endpoints(tx).await?;
                let deliveries: Vec<_> = rows
                    .iter()
                    .flat_map(|event| {
                        let matching = endpoints.iter().filter(|(_, types)| wants(types, &event.event_type));
                        matching.map(|(endpoint, _)| pending(event.id, *endpoint, to_ms(now))).collect::<Vec<_>>()
                    })
                    .collect();
                if !deliveries.is_empty() {
                    webhook_deliveries::Entity::insert_many(deliveries).exec_without_returning(tx).await?;
                }
                events::Entity::update_many()
                    .col_expr(events::Column::Dispatched, Expr::value(true))
                    .filter(events::Column::Id.is_in(rows.iter().map(|row| row.id)))
                    .exec(tx)
                    .await?;
                Ok(rows.len())
            }
            .boxed()
        })
        .await
    }

    /// Claims up to `limit` due deliveries for one attempt each. Their
    /// lease covers the batch made `at_once` at a time, each attempt taking
    /// up to `attempt`, plus `margin` to record the outcome: no lease runs
    /// out while its attempt waits for a slot.
    pub async fn claim_deliveries(&self, now: DateTime<Utc>, limit: u64, lease: Lease) -> Result<Vec<Claimed>> {
        use webhook_deliveries::Column as D;
        let now_ms = to_ms(now);
        // As in `dispatch_events`: no write transaction when nothing is due.
        if self.reader().query_one(&due(now_ms, 1)).await?.is_none() {
            return Ok(Vec::new());
        }
        let mut due = due(now_ms, limit);
        due.lock_with_tables_behavior(LockType::Update, [webhook_deliveries::Entity], LockBehavior::SkipLocked);
        let store = self.clone();
        let claimed = self
            .transact(LANE, move |tx| {
                async move {
                    let ids = tx.query_all(&due).await?;
                    let ids = ids.iter().map(|row| row.try_get::<i64>("", "id")).collect::<Result<Vec<_>, _>>()?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let rounds = ids.len().div_ceil(lease.at_once.max(1)) as i32;
                    let lease_ms = to_ms(now + lease.attempt * rounds + lease.margin);
                    let mut claim = Query::update();
                    claim
                        .table(webhook_deliveries::Entity)
                        .value(D::Attempts, Expr::col(D::Attempts).add(1))
                        .value(D::LeaseUntilMs, lease_ms)
                        .and_where(Expr::col(D::Id).is_in(ids))
                        .returning(Query::returning().columns([D::Id, D::EventId, D::EndpointId, D::Attempts]));
                    let rows = tx.query_all(&claim).await?;
                    let mut claimed = Vec::with_capacity(rows.len());
                    for row in rows {
                        claimed.push((
                            row.try_get::<i64>("", "id")?,
                            row.try_get::<i64>("", "event_id")?,
                            row.try_get::<i64>("", "endpoint_id")?,
                            row.try_get::<i64>("", "attempts")?,
                        ));
                    }
                    Ok(claimed)
                }
                .boxed()
            })
            .await?;
        store.describe_claims(claimed).await
    }

    /// The events and endpoints of claimed deliveries, read once each.
    async fn describe_claims(&self, claimed: Vec<(i64, i64, i64, i64)>) -> Result<Vec<Claimed>> {
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let events = events::Entity::find()
            .filter(events::Column::Id.is_in(claimed.iter().map(|c| c.1)))
            .all(self.reader())
            .await?;
        let endpoints = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Id.is_in(claimed.iter().map(|c| c.2)))
            .all(self.reader())
            .await?;
        claimed
            .into_iter()
            .map(|(delivery_id, event_id, endpoint_id, attempt)| {
                let event = events.iter().find(|e| e.id == event_id);
                let endpoint = endpoints.iter().find(|e| e.id == endpoint_id);
                let (Some(event), Some(endpoint)) = (event, endpoint) else {
                    return Err(Error::internal(format!("delivery {delivery_id} names a missing event or endpoint")));
                };
                Ok(Claimed {
                    delivery_id,
                    attempt,
                    event_id,
                    event_type: event.event_type.clone(),
                    data: event.data.clone(),
                    event_created_at_ms: event.created_at_ms,
                    url: endpoint.url.clone(),
                    secret: self.webhooks.secrets.open(&endpoint.secret),
                })
            })
            .collect()
    }

    /// Writes the outcomes of attempts, in one transaction: each becomes
    /// SUCCEEDED, its next attempt by the schedule (with its jitter, in
    /// thousandths), or FAILED after the last.
    pub async fn record_attempts(
        &self,
        attempts: Vec<(Claimed, Outcome, i64)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>> {
        let updates: Vec<_> =
            attempts.iter().map(|(claimed, outcome, jitter)| outcome_update(claimed, outcome, now, *jitter)).collect();
        self.transact(LANE, move |tx| {
            async move {
                let mut recorded = Vec::with_capacity(updates.len());
                for (update, outcome) in updates {
                    let changed = update.exec(tx).await?.rows_affected;
                    recorded.push(if changed == 1 { outcome } else { Recorded::Stale });
                }
                Ok(recorded)
            }
            .boxed()
        })
        .await
    }

    /// When the oldest event not yet delivered was written: undispatched,
    /// or with a delivery still pending.
    pub async fn oldest_undelivered_event_ms(&self) -> Result<Option<i64>> {
        let undispatched = events::Entity::find()
            .filter(events::Column::Dispatched.eq(false))
            .order_by_asc(events::Column::Id)
            .one(self.reader())
            .await?;
        let pending_event = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .order_by_asc(webhook_deliveries::Column::EventId)
            .one(self.reader())
            .await?;
        let pending = match pending_event {
            Some(delivery) => events::Entity::find_by_id(delivery.event_id).one(self.reader()).await?,
            None => None,
        };
        Ok([undispatched, pending].into_iter().flatten().map(|event| event.created_at_ms).min())
    }
}

/// The update that records one attempt's outcome, guarded by the claim's
/// attempt, and what it records if it applies.
fn outcome_update(
    claimed: &Claimed,
    outcome: &Outcome,
    now: DateTime<Utc>,
    jitter_permille: i64,
) -> (sea_orm::UpdateMany<webhook_deliveries::Entity>, Recorded) {
    use webhook_deliveries::Column as D;
    let now_ms = to_ms(now);
    let update = webhook_deliveries::Entity::update_many().col_expr(D::LeaseUntilMs, Expr::value(0i64));
    let (update, recorded) = match outcome {
        Outcome::Delivered { status } => {
            let update = update
                .col_expr(D::Status, Expr::value(DeliveryStatus::Succeeded.as_str()))
                .col_expr(D::NextAttemptAtMs, Expr::value(Option::<i64>::None))
                .col_expr(D::DeliveredAtMs, Expr::value(now_ms))
                .col_expr(D::LastResponseStatus, Expr::value(i64::from(*status)))
                .col_expr(D::LastError, Expr::value(Option::<String>::None));
            (update, Recorded::Succeeded)
        }
        Outcome::Failed { status, error } => {
            let error: String = error.chars().take(ERROR_LENGTH_MAX).collect();
            let next = retry_delay(claimed.attempt, jitter_permille).map(|delay| to_ms(now + delay));
            let status_after = if next.is_some() { DeliveryStatus::Pending } else { DeliveryStatus::Failed };
            let update = update
                .col_expr(D::Status, Expr::value(status_after.as_str()))
                .col_expr(D::NextAttemptAtMs, Expr::value(next))
                .col_expr(D::LastResponseStatus, Expr::value(status.map(i64::from)))
                .col_expr(D::LastError, Expr::value(error));
            (update, if next.is_some() { Recorded::Retried } else { Recorded::Failed })
        }
    };
    let update = update
        .filter(D::Id.eq(claimed.delivery_id))
        .filter(D::Attempts.eq(claimed.attempt))
        .filter(D::Status.eq(DeliveryStatus::Pending.as_str()));
    (update, recorded)
}
