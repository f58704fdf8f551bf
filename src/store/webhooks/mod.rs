//! Webhook endpoints (admin): created with a secret shown once, changed,
//! given a new secret, deleted (softly: their deliveries keep naming them).
//! The event log and the delivery queue are in `events.rs` and `queue.rs`.
use chrono::{DateTime, Utc};
use entity::{webhook_deliveries, webhook_endpoints};
use futures_util::FutureExt;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};

use super::Store;
use super::rows::{from_json, to_json};
use crate::clock::{from_ms, to_ms};
use crate::domain::error::DomainError;
use crate::domain::webhooks::{DeliveryStatus, validate_event_types, validate_url};
use crate::error::Result;
use crate::webhooks::Secrets;
use crate::webhooks::signature::generate_secret;

mod events;
mod fan_out;
mod queue;

pub use events::{DeliveryView, EventFilter, EventPage, StoredEvent, parse_event_id, public_event_id};
pub use fan_out::Dispatched;
pub use queue::{Claimed, Lease, Outcome, Recorded};

/// What webhook writes need besides the data: the key that seals secrets
/// and whether private addresses are refused.
#[derive(Clone, Debug, Default)]
pub struct WebhookSettings {
    pub secrets: Secrets,
    pub deny_private: bool,
}

/// Events not yet fanned out, written as the partial index
/// `events_undispatched` is: a literal, where a bound `false` would keep
/// the planner off that index (SQLite plans a statement before it sees its
/// values) and scan every event ever written, at each of the worker's passes.
pub(super) fn undispatched() -> sea_orm::sea_query::SimpleExpr {
    Expr::cust("dispatched = FALSE")
}

/// The serialized lane of webhook writes (on SQLite, every write shares the writer).
pub(crate) const LANE: &str = "webhooks";

#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// Fields to change; absent ones stay.
#[derive(Clone, Debug, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

fn endpoint(row: &webhook_endpoints::Model) -> Result<Endpoint> {
    Ok(Endpoint {
        id: row.id,
        url: row.url.clone(),
        event_types: from_json(&row.event_types)?,
        enabled: row.enabled,
        created_at: from_ms(row.created_at_ms),
        deleted_at: row.deleted_at_ms.map(from_ms),
    })
}

/// The event types as stored: known names, each once.
fn event_types_json(names: &[String]) -> Result<String> {
    let types: Vec<&str> = validate_event_types(names)?.iter().map(|t| t.as_str()).collect();
    to_json(&types)
}

fn not_found(id: &str) -> DomainError {
    DomainError::NotFound { what: "webhook endpoint", id: id.to_owned() }
}

/// An endpoint that is not deleted, for a change.
async fn live_endpoint(tx: &DatabaseTransaction, id: &str) -> Result<webhook_endpoints::Model> {
    let row = match id.parse::<i64>() {
        Ok(number) => webhook_endpoints::Entity::find_by_id(number).one(tx).await?,
        Err(_) => None,
    };
    Ok(row.filter(|row| row.deleted_at_ms.is_none()).ok_or_else(|| not_found(id))?)
}

impl Store {
    pub fn webhook_settings(&self) -> &WebhookSettings {
        &self.webhooks
    }

    /// Sets the key and rules of webhook writes (before the schema is built).
    pub fn configure_webhooks(&mut self, settings: WebhookSettings) {
        self.webhooks = std::sync::Arc::new(settings);
    }

    /// A new endpoint and its secret, in plain text this once.
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        event_types: &[String],
        now: DateTime<Utc>,
    ) -> Result<(Endpoint, String)> {
        let url = validate_url(url, self.webhooks.deny_private)?.to_string();
        let event_types = event_types_json(event_types)?;
        let secret = generate_secret();
        let sealed = self.webhooks.secrets.seal(&secret)?;
        let row = webhook_endpoints::ActiveModel {
            url: Set(url),
            event_types: Set(event_types),
            enabled: Set(true),
            secret: Set(sealed),
            created_at_ms: Set(to_ms(now)),
            deleted_at_ms: Set(None),
            ..Default::default()
        };
        let row = self.transact(LANE, move |tx| async move { Ok(row.insert(tx).await?) }.boxed()).await?;
        Ok((endpoint(&row)?, secret))
    }

    /// Changes what `update` gives; giving nothing, or only what already
    /// is, is INVALID_INPUT (a client's mistake, said rather than ignored).
    pub async fn update_webhook_endpoint(&self, id: &str, update: EndpointUpdate) -> Result<Endpoint> {
        let url = update.url.as_deref().map(|url| validate_url(url, self.webhooks.deny_private)).transpose()?;
        let event_types = update.event_types.as_deref().map(event_types_json).transpose()?;
        let id = id.to_owned();
        let row = self
            .transact(LANE, move |tx| {
                async move {
                    let row = live_endpoint(tx, &id).await?;
                    let mut changed: webhook_endpoints::ActiveModel = row.clone().into();
                    let mut changes = 0;
                    if let Some(url) = url.map(|url| url.to_string()).filter(|url| *url != row.url) {
                        changed.url = Set(url);
                        changes += 1;
                    }
                    if let Some(types) = event_types.filter(|types| *types != row.event_types) {
                        changed.event_types = Set(types);
                        changes += 1;
                    }
                    if let Some(enabled) = update.enabled.filter(|enabled| *enabled != row.enabled) {
                        changed.enabled = Set(enabled);
                        changes += 1;
                    }
                    if changes == 0 {
                        return Err(DomainError::invalid(
                            "input",
                            "nothing to change: give a url, eventTypes or enabled that differs",
                        )
                        .into());
                    }
                    Ok(changed.update(tx).await?)
                }
                .boxed()
            })
            .await?;
        endpoint(&row)
    }

    /// A new secret for the endpoint; the old one stops signing at once.
    pub async fn rotate_webhook_secret(&self, id: &str) -> Result<(Endpoint, String)> {
        let secret = generate_secret();
        let sealed = self.webhooks.secrets.seal(&secret)?;
        let id = id.to_owned();
        let row = self
            .transact(LANE, move |tx| {
                async move {
                    let mut changed: webhook_endpoints::ActiveModel = live_endpoint(tx, &id).await?.into();
                    changed.secret = Set(sealed);
                    Ok(changed.update(tx).await?)
                }
                .boxed()
            })
            .await?;
        Ok((endpoint(&row)?, secret))
    }

    /// Deletes the endpoint; its pending deliveries fail, saying why.
    pub async fn delete_webhook_endpoint(&self, id: &str, now: DateTime<Utc>) -> Result<Endpoint> {
        let id = id.to_owned();
        let row = self
            .transact(LANE, move |tx| {
                async move {
                    let mut changed: webhook_endpoints::ActiveModel = live_endpoint(tx, &id).await?.into();
                    changed.deleted_at_ms = Set(Some(to_ms(now)));
                    changed.enabled = Set(false);
                    let row = changed.update(tx).await?;
                    webhook_deliveries::Entity::update_many()
                        .col_expr(webhook_deliveries::Column::Status, Expr::value(DeliveryStatus::Failed.as_str()))
                        .col_expr(webhook_deliveries::Column::NextAttemptAtMs, Expr::value(Option::<i64>::None))
                        .col_expr(webhook_deliveries::Column::LastError, Expr::value("the endpoint was deleted"))
                        .filter(webhook_deliveries::Column::EndpointId.eq(row.id))
                        .filter(webhook_deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                        .exec(tx)
                        .await?;
                    Ok(row)
                }
                .boxed()
            })
            .await?;
        endpoint(&row)
    }

    /// Endpoints that are not deleted, oldest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<Endpoint>> {
        let rows = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::DeletedAtMs.is_null())
            .order_by_asc(webhook_endpoints::Column::Id)
            .all(self.reader())
            .await?;
        rows.iter().map(endpoint).collect()
    }

    /// Endpoints by id, deleted ones too (a delivery names its endpoint).
    pub async fn webhook_endpoints_by_ids(&self, ids: &[i64]) -> Result<Vec<Endpoint>> {
        let rows = webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Id.is_in(ids.iter().copied()))
            .all(self.reader())
            .await?;
        rows.iter().map(endpoint).collect()
    }
}
