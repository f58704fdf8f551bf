//! The event log: every account's for admins (`events`), an account's own
//! for its user and services (`Account.events`); newest first.
use async_graphql::connection::Connection;
use async_graphql::connection::EmptyFields;
use async_graphql::types::Json;
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};

use super::checks::query_check;
use super::context::{GraphqlResult, require_admin, store};
use super::errors::graphql_error;
use super::loaders::{DeliveryLoader, load_one};
use super::pagination::{Cursors, PageArgs, filter_digest, page};
use super::webhooks::WebhookDelivery;
use crate::domain::text;
use crate::store::webhooks::{EventFilter, StoredEvent, public_event_id};

/// Something that happened to an account, as webhooks deliver it.
pub struct Event(StoredEvent);

impl From<StoredEvent> for Event {
    fn from(event: StoredEvent) -> Self {
        Event(event)
    }
}

#[Object]
impl Event {
    /// `evt_<n>`: the `webhook-id` of its deliveries.
    async fn id(&self) -> ID {
        ID(public_event_id(self.0.id))
    }

    /// `tokens.purchased`, `balance.low`, ... (docs/events.md).
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    async fn account_id(&self) -> Option<ID> {
        self.0.account_id.clone().map(ID)
    }

    /// Counts the account's events from 1, without gaps.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The event's data, `accountId` included, as webhooks deliver it.
    async fn data(&self) -> Json<serde_json::Value> {
        Json(self.0.data.clone())
    }

    /// Its deliveries, one per endpoint and replay (batched per page; admin:
    /// they name the platform's endpoints, which are no account's business).
    async fn deliveries(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<WebhookDelivery>> {
        require_admin(ctx, "Event.deliveries")?;
        Ok(load_one::<DeliveryLoader>(ctx, self.0.id).await?.unwrap_or_default())
    }
}

#[derive(InputObject, Clone, Debug, Default)]
#[graphql(name = "EventFilter")]
pub struct EventFilterInput {
    pub types: Option<Vec<String>>,
    /// Admins only; `Account.events` is always its account's.
    pub account_id: Option<ID>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

pub type EventConnection = Connection<String, Event, EmptyFields>;

/// A page of events, newest first; `account_id` (if given) overrides the
/// filter's, so an account's own log cannot be widened.
pub async fn event_connection(
    ctx: &Context<'_>,
    account_id: Option<&str>,
    args: PageArgs,
    filter: Option<EventFilterInput>,
) -> GraphqlResult<EventConnection> {
    let filter = filter.unwrap_or_default();
    query_check(check_filter(&filter))?;
    let mut types = filter.types;
    if let Some(types) = &mut types {
        types.sort_unstable();
        types.dedup();
    }
    let filter = EventFilter {
        types,
        account_id: account_id.map(str::to_owned).or(filter.account_id.map(|id| id.0)),
        from: filter.from,
        to: filter.to,
    };
    let millis = |at: Option<DateTime<Utc>>| at.map(|at| at.timestamp_millis());
    let canonical = (&filter.types, &filter.account_id, millis(filter.from), millis(filter.to));
    let cursors = Cursors::new("events", filter_digest(&canonical));
    let page = page(args, &cursors)?;
    let events = store(ctx)?.events(&filter, page.read()).await.map_err(graphql_error)?;
    Ok(page.connection(events, &cursors, |event: &StoredEvent| event.id, Event::from, EmptyFields))
}

fn check_filter(filter: &EventFilterInput) -> Result<(), crate::domain::error::DomainError> {
    text::EVENT_TYPE_FILTER.check_each(filter.types.iter().flatten().map(String::as_str))?;
    text::ACCOUNT_ID.check_optional(filter.account_id.as_deref().map(String::as_str))
}

#[derive(Default)]
pub struct EventsQuery;

#[Object]
impl EventsQuery {
    /// Every account's events, newest first (admin).
    async fn events(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<EventFilterInput>,
    ) -> GraphqlResult<EventConnection> {
        require_admin(ctx, "events")?;
        event_connection(ctx, None, PageArgs { first, after, ..PageArgs::default() }, filter).await
    }
}
