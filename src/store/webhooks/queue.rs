//! The delivery worker's queue. Every step is a short transaction that any
//! process may run at any time and be killed in:
//!
//! 1. fan-out (`fan_out.rs`): undispatched events become one delivery per
//!    matching endpoint, claimed at once for its first attempt, and are
//!    marked dispatched, in one transaction;
//! 2. claim: due deliveries (retries, and first attempts whose lease ran
//!    out) get their attempt counted and a lease, in one
//!    `UPDATE ... RETURNING`; a process killed mid-attempt leaves the lease
//!    to run out, and then another claims the delivery again;
//! 3. record: the outcome is written only if the claim's attempt is still
//!    the delivery's last (`WHERE attempts = ?`), so a late answer to a
//!    lease that ran out cannot overwrite the newer attempt. Attempts that
//!    ended alike share one `UPDATE ... WHERE id IN (..) RETURNING id`.
//!
//! On PostgreSQL the rows taken are locked `FOR UPDATE SKIP LOCKED`, so
//! several processes share the work and each attempt is made by one of
//! them; SQLite has one writer, and sea-query leaves the lock out there.
use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{events, webhook_deliveries, webhook_endpoints};
use futures_util::FutureExt;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Order, Query, SelectStatement, UpdateStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::super::Store;
use super::{LANE, undispatched};
use crate::clock::to_ms;
use crate::domain::webhooks::{DeliveryStatus, retry_delay};
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

impl Claimed {
    pub(super) fn new(
        delivery_id: i64,
        attempt: i64,
        event: &events::Model,
        endpoint: &webhook_endpoints::Model,
        secret: Result<String>,
    ) -> Claimed {
        Claimed {
            delivery_id,
            attempt,
            event_id: event.id,
            event_type: event.event_type.clone(),
            data: event.data.clone(),
            event_created_at_ms: event.created_at_ms,
            url: endpoint.url.clone(),
            secret,
        }
    }
}

/// How long a claim holds its deliveries: the batch made `at_once` at a
/// time, each attempt taking up to `attempt`, plus `margin` to record the
/// outcome, so that no lease runs out while its attempt waits for a slot.
#[derive(Clone, Copy, Debug)]
pub struct Lease {
    /// The longest one attempt takes (the request's time-out).
    pub attempt: Duration,
    /// Attempts made at once.
    pub at_once: usize,
    pub margin: Duration,
}

impl Lease {
    /// When the lease of `claimed` attempts taken at `now` runs out.
    pub fn until(&self, now: DateTime<Utc>, claimed: usize) -> DateTime<Utc> {
        let rounds = claimed.div_ceil(self.at_once.max(1)) as i32;
        now + self.attempt * rounds + self.margin
    }
}

/// What an attempt got.
#[derive(Clone, Debug)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// What recording an attempt did, for the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Claims up to `limit` due deliveries for one attempt each, under `lease`.
    pub async fn claim_deliveries(&self, now: DateTime<Utc>, limit: u64, lease: Lease) -> Result<Vec<Claimed>> {
        use webhook_deliveries::Column as D;
        let now_ms = to_ms(now);
        // As in `dispatch_events`: no write transaction when nothing is due.
        if self.background().query_one(&due(now_ms, 1)).await?.is_none() {
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
                    let lease_ms = to_ms(lease.until(now, ids.len()));
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
            .all(self.background())
            .await?;
        let endpoints = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Id.is_in(claimed.iter().map(|c| c.2)))
            .all(self.background())
            .await?;
        claimed
            .into_iter()
            .map(|(delivery_id, event_id, endpoint_id, attempt)| {
                let event = events.iter().find(|e| e.id == event_id);
                let endpoint = endpoints.iter().find(|e| e.id == endpoint_id);
                let (Some(event), Some(endpoint)) = (event, endpoint) else {
                    return Err(Error::internal(format!("delivery {delivery_id} names a missing event or endpoint")));
                };
                Ok(Claimed::new(delivery_id, attempt, event, endpoint, self.webhooks.secrets.open(&endpoint.secret)))
            })
            .collect()
    }

    /// Writes the outcomes of attempts, in one transaction: each becomes
    /// SUCCEEDED, its next attempt by the schedule (with its jitter, in
    /// thousandths), or FAILED after the last. Outcomes that write the same
    /// (every success of a batch, mostly) share one statement.
    pub async fn record_attempts(
        &self,
        attempts: Vec<(Claimed, Outcome, i64)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Recorded>> {
        let mut endings: Vec<(Ending, Vec<i64>)> = Vec::new();
        let mut positions: HashMap<Ending, usize> = HashMap::new();
        for (claimed, outcome, jitter) in &attempts {
            let ending = Ending::of(claimed, outcome, now, *jitter);
            let at = *positions.entry(ending.clone()).or_insert_with(|| {
                endings.push((ending, Vec::new()));
                endings.len() - 1
            });
            endings[at].1.push(claimed.delivery_id);
        }
        let recorded = self
            .transact(LANE, move |tx| {
                async move {
                    let mut recorded = HashMap::new();
                    for (ending, ids) in endings {
                        for row in tx.query_all(&ending.update(ids)).await? {
                            recorded.insert(row.try_get::<i64>("", "id")?, ending.recorded);
                        }
                    }
                    Ok(recorded)
                }
                .boxed()
            })
            .await?;
        let of = |claimed: &Claimed| recorded.get(&claimed.delivery_id).copied().unwrap_or(Recorded::Stale);
        Ok(attempts.iter().map(|(claimed, _, _)| of(claimed)).collect())
    }

    /// When the oldest event not yet delivered was written: undispatched,
    /// or with a delivery still pending.
    pub async fn oldest_undelivered_event_ms(&self) -> Result<Option<i64>> {
        let undispatched =
            events::Entity::find().filter(undispatched()).order_by_asc(events::Column::Id).one(self.reader()).await?;
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

/// What an attempt's outcome writes on its delivery, guarded by the
/// claim's attempt, and what that records.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Ending {
    attempt: i64,
    status: &'static str,
    next_attempt_at_ms: Option<i64>,
    delivered_at_ms: Option<i64>,
    response_status: Option<i64>,
    error: Option<String>,
    recorded: Recorded,
}

impl Ending {
    fn of(claimed: &Claimed, outcome: &Outcome, now: DateTime<Utc>, jitter_permille: i64) -> Ending {
        let attempt = claimed.attempt;
        match outcome {
            Outcome::Delivered { status } => Ending {
                attempt,
                status: DeliveryStatus::Succeeded.as_str(),
                next_attempt_at_ms: None,
                delivered_at_ms: Some(to_ms(now)),
                response_status: Some(i64::from(*status)),
                error: None,
                recorded: Recorded::Succeeded,
            },
            Outcome::Failed { status, error } => {
                let next = retry_delay(attempt, jitter_permille).map(|delay| to_ms(now + delay));
                let (status_after, recorded) = match next {
                    Some(_) => (DeliveryStatus::Pending, Recorded::Retried),
                    None => (DeliveryStatus::Failed, Recorded::Failed),
                };
                Ending {
                    attempt,
                    status: status_after.as_str(),
                    next_attempt_at_ms: next,
                    delivered_at_ms: None,
                    response_status: status.map(i64::from),
                    error: Some(error.chars().take(ERROR_LENGTH_MAX).collect()),
                    recorded,
                }
            }
        }
    }

    /// The statement that writes this ending on the deliveries `ids`,
    /// returning the ids it changed (the others' leases had run out).
    fn update(&self, ids: Vec<i64>) -> UpdateStatement {
        use webhook_deliveries::Column as D;
        Query::update()
            .table(webhook_deliveries::Entity)
            .value(D::LeaseUntilMs, 0i64)
            .value(D::Status, self.status)
            .value(D::NextAttemptAtMs, self.next_attempt_at_ms)
            .value(D::DeliveredAtMs, self.delivered_at_ms)
            .value(D::LastResponseStatus, self.response_status)
            .value(D::LastError, self.error.clone())
            .and_where(Expr::col(D::Id).is_in(ids))
            .and_where(Expr::col(D::Attempts).eq(self.attempt))
            .and_where(Expr::col(D::Status).eq(DeliveryStatus::Pending.as_str()))
            .returning_col(D::Id)
            .take()
    }
}
