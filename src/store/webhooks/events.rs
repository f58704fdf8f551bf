//! The event log (admins: every account's; users and services: one
//! account's), the deliveries of events, and replays.
use chrono::{DateTime, Utc};
use entity::{events, webhook_deliveries, webhook_endpoints};
use futures_util::FutureExt;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::super::Store;
use super::super::keyset::KeysetRead;
use super::super::rows::from_json;
use super::{LANE, live_endpoint};
use crate::clock::{from_ms, to_ms};
use crate::domain::error::DomainError;
use crate::domain::webhooks::{DeliveryStatus, wants};
use crate::error::{Error, Result};

/// An event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub account_id: Option<String>,
    pub sequence: i64,
    pub event_type: String,
    /// Its data, `accountId` included.
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub types: Option<Vec<String>>,
    pub account_id: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// The events read, in the order read.
pub type EventPage = Vec<StoredEvent>;

/// One delivery of an event, as admins see it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryView {
    pub id: i64,
    pub event_id: i64,
    pub endpoint_id: i64,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_response_status: Option<i64>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The id receivers see (`webhook-id`) and the API shows: `evt_<id>`.
pub fn public_event_id(id: i64) -> String {
    format!("evt_{id}")
}

/// An event id as given: `evt_<id>`, or the bare number.
pub fn parse_event_id(text: &str) -> Option<i64> {
    text.strip_prefix("evt_").unwrap_or(text).parse().ok()
}

fn event(row: events::Model) -> Result<StoredEvent> {
    Ok(StoredEvent {
        data: from_json(&row.data)?,
        id: row.id,
        account_id: row.account_id,
        sequence: row.sequence,
        event_type: row.event_type,
        created_at: from_ms(row.created_at_ms),
    })
}

fn delivery(row: webhook_deliveries::Model) -> Result<DeliveryView> {
    Ok(DeliveryView {
        status: DeliveryStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("delivery {} has status {}", row.id, row.status)))?,
        id: row.id,
        event_id: row.event_id,
        endpoint_id: row.endpoint_id,
        attempts: row.attempts,
        last_response_status: row.last_response_status,
        next_attempt_at: row.next_attempt_at_ms.map(from_ms),
        delivered_at: row.delivered_at_ms.map(from_ms),
    })
}

/// A new delivery of `event_id` to `endpoint_id`, due at once.
pub(super) fn pending(event_id: i64, endpoint_id: i64, now_ms: i64) -> webhook_deliveries::ActiveModel {
    webhook_deliveries::ActiveModel {
        event_id: Set(event_id),
        endpoint_id: Set(endpoint_id),
        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at_ms: Set(Some(now_ms)),
        lease_until_ms: Set(0),
        last_response_status: Set(None),
        last_error: Set(None),
        created_at_ms: Set(now_ms),
        delivered_at_ms: Set(None),
        ..Default::default()
    }
}

impl Store {
    /// Events by keyset on their id: newest first forward.
    pub async fn events(&self, filter: &EventFilter, read: KeysetRead<i64>) -> Result<EventPage> {
        let mut query = events::Entity::find();
        if let Some(types) = &filter.types {
            query = query.filter(events::Column::EventType.is_in(types.iter().map(String::as_str)));
        }
        if let Some(account_id) = &filter.account_id {
            query = query.filter(events::Column::AccountId.eq(account_id.as_str()));
        }
        if let Some(from) = filter.from {
            query = query.filter(events::Column::CreatedAtMs.gte(to_ms(from)));
        }
        if let Some(to) = filter.to {
            query = query.filter(events::Column::CreatedAtMs.lt(to_ms(to)));
        }
        let rows = read.by_id(query, events::Column::Id).all(self.reader()).await?;
        rows.into_iter().map(event).collect()
    }

    /// Up to `limit` events after the id `after`, oldest first, of `types`
    /// if given (`credits events tail`).
    pub async fn events_after(&self, after: i64, types: Option<&[String]>, limit: u64) -> Result<EventPage> {
        let mut query = events::Entity::find().filter(events::Column::Id.gt(after));
        if let Some(types) = types {
            query = query.filter(events::Column::EventType.is_in(types.iter().map(String::as_str)));
        }
        let rows = query.order_by_asc(events::Column::Id).limit(limit).all(self.reader()).await?;
        rows.into_iter().map(event).collect()
    }

    /// The id of the newest event, 0 when there is none.
    pub async fn latest_event_id(&self) -> Result<i64> {
        let newest = events::Entity::find().order_by_desc(events::Column::Id).one(self.reader()).await?;
        Ok(newest.map_or(0, |event| event.id))
    }

    /// The deliveries of the events `ids`, oldest first, in one query.
    pub async fn deliveries_of_events(&self, ids: &[i64]) -> Result<Vec<DeliveryView>> {
        let rows = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::EventId.is_in(ids.iter().copied()))
            .order_by_asc(webhook_deliveries::Column::Id)
            .all(self.reader())
            .await?;
        rows.into_iter().map(delivery).collect()
    }

    /// Sends an event again: to `endpoint_id`, or to every enabled endpoint
    /// that asks for its type. The new deliveries carry the same
    /// `webhook-id` and body as the first.
    pub async fn replay_event(
        &self,
        event_id: &str,
        endpoint_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(StoredEvent, Vec<DeliveryView>)> {
        let number = parse_event_id(event_id);
        let event_id = event_id.to_owned();
        let not_found = move || DomainError::NotFound { what: "event", id: event_id.clone() };
        let number = number.ok_or_else(not_found.clone())?;
        let endpoint_id = endpoint_id.map(str::to_owned);
        let (row, created) = self
            .transact(LANE, move |tx| {
                async move {
                    let row = events::Entity::find_by_id(number).one(tx).await?.ok_or_else(not_found)?;
                    let targets: Vec<i64> = match endpoint_id {
                        Some(id) => {
                            let endpoint = live_endpoint(tx, &id).await?;
                            if !endpoint.enabled {
                                return Err(DomainError::invalid("endpointId", "the endpoint is disabled").into());
                            }
                            vec![endpoint.id]
                        }
                        None => enabled_endpoints(tx)
                            .await?
                            .into_iter()
                            .filter(|(_, types)| wants(types, &row.event_type))
                            .map(|(endpoint, _)| endpoint.id)
                            .collect(),
                    };
                    let mut created = Vec::new();
                    for endpoint in targets {
                        created.push(pending(row.id, endpoint, to_ms(now)).insert(tx).await?);
                    }
                    Ok((row, created))
                }
                .boxed()
            })
            .await?;
        Ok((event(row)?, created.into_iter().map(delivery).collect::<Result<_>>()?))
    }
}

/// Enabled endpoints that are not deleted, with the types they ask for.
pub(super) async fn enabled_endpoints(
    db: &impl sea_orm::ConnectionTrait,
) -> Result<Vec<(webhook_endpoints::Model, Vec<String>)>> {
    let rows = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::Enabled.eq(true))
        .filter(webhook_endpoints::Column::DeletedAtMs.is_null())
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let types = from_json(&row.event_types)?;
            Ok((row, types))
        })
        .collect()
}
