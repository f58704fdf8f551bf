//! Fan-out, the first step of the delivery queue (see `queue.rs`):
//! undispatched events become one delivery per matching endpoint, and the
//! events are marked dispatched, in one transaction. The new deliveries are
//! claimed for their first attempt in that same transaction: a fresh event
//! is posted without a second write to the queue first.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{events, webhook_deliveries, webhook_endpoints};
use futures_util::FutureExt;
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::Store;
use super::events::{enabled_endpoints, pending};
use super::queue::{Claimed, Lease};
use super::{LANE, undispatched};
use crate::clock::to_ms;
use crate::domain::webhooks::wants;
use crate::error::Result;

/// What one fan-out did.
#[derive(Debug, Default)]
pub struct Dispatched {
    /// Events marked dispatched.
    pub events: usize,
    /// Their deliveries, claimed for a first attempt by this process.
    pub claimed: Vec<Claimed>,
}

impl Store {
    /// Fans out up to `limit` undispatched events and claims their
    /// deliveries for a first attempt, under `lease` as in `claim_deliveries`.
    pub async fn dispatch_events(&self, now: DateTime<Utc>, limit: u64, lease: Lease) -> Result<Dispatched> {
        // A read first: an idle worker polls every second, and a write
        // transaction each time would be a commit (on SQLite, a flush) for nothing.
        let waiting = events::Entity::find().filter(undispatched()).one(self.background()).await?;
        if waiting.is_none() {
            return Ok(Dispatched::default());
        }
        let (rows, endpoints, inserted) = self
            .transact(LANE, move |tx| {
                async move {
                    let rows = events::Entity::find()
                        .filter(undispatched())
                        .order_by_asc(events::Column::Id)
                        .limit(limit)
                        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                        .all(tx)
                        .await?;
                    if rows.is_empty() {
                        return Ok((rows, Vec::new(), Vec::new()));
                    }
                    let endpoints = enabled_endpoints(tx).await?;
                    let pairs = matching(&rows, &endpoints);
                    let lease_ms = to_ms(lease.until(now, pairs.len()));
                    let deliveries = pairs.iter().map(|(event, endpoint)| {
                        let mut delivery = pending(event.id, endpoint.id, to_ms(now));
                        delivery.attempts = sea_orm::ActiveValue::Set(1);
                        delivery.lease_until_ms = sea_orm::ActiveValue::Set(lease_ms);
                        delivery
                    });
                    let inserted = if pairs.is_empty() {
                        Vec::new()
                    } else {
                        webhook_deliveries::Entity::insert_many(deliveries).exec_with_returning(tx).await?
                    };
                    events::Entity::update_many()
                        .col_expr(events::Column::Dispatched, Expr::value(true))
                        .filter(events::Column::Id.is_in(rows.iter().map(|row| row.id)))
                        .exec(tx)
                        .await?;
                    Ok((rows, endpoints, inserted))
                }
                .boxed()
            })
            .await?;
        // Built after the commit, off SQLite's one writer: the secrets are
        // opened once an endpoint, the bodies' data copied once a delivery.
        // A row's order in RETURNING is not promised: match on the pair.
        let ids: HashMap<(i64, i64), i64> =
            inserted.iter().map(|row| ((row.event_id, row.endpoint_id), row.id)).collect();
        let mut opened = HashMap::new();
        let claimed = matching(&rows, &endpoints)
            .into_iter()
            .filter_map(|(event, endpoint)| {
                let delivery_id = *ids.get(&(event.id, endpoint.id))?;
                let secret =
                    opened.entry(endpoint.id).or_insert_with(|| self.webhooks.secrets.open(&endpoint.secret)).clone();
                Some(Claimed::new(delivery_id, 1, event, endpoint, secret))
            })
            .collect();
        Ok(Dispatched { events: rows.len(), claimed })
    }
}

/// Each event with each enabled endpoint that asks for its type.
fn matching<'a>(
    events: &'a [events::Model],
    endpoints: &'a [(webhook_endpoints::Model, Vec<String>)],
) -> Vec<(&'a events::Model, &'a webhook_endpoints::Model)> {
    events
        .iter()
        .flat_map(|event| {
            let wanted = endpoints.iter().filter(|(_, types)| wants(types, &event.event_type));
            wanted.map(move |(endpoint, _)| (event, endpoint))
        })
        .collect()
}
