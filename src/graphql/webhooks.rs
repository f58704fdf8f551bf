//! Webhook endpoints (admin): where events are posted, with their secret
//! shown once at creation and rotation; and the deliveries of events.
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::{Checked, checked};
use super::context::{GraphqlResult, now, require_admin, store};
use super::errors::{UserError, graphql_error, payload, payloads};
use super::events::Event;
use super::loaders::{EndpointLoader, load_one};
use crate::domain::webhooks::DeliveryStatus as Status;
use crate::error::Error;
use crate::store::webhooks::{DeliveryView, Endpoint, EndpointUpdate};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "Status")]
pub enum DeliveryStatus {
    Pending,
    Succeeded,
    Failed,
}

#[derive(SimpleObject, Clone, Debug)]
pub struct WebhookEndpoint {
    pub id: ID,
    pub url: String,
    /// Empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookEndpoint {
    fn from(endpoint: Endpoint) -> Self {
        WebhookEndpoint {
            id: ID(endpoint.id.to_string()),
            url: endpoint.url,
            event_types: endpoint.event_types,
            enabled: endpoint.enabled,
            created_at: endpoint.created_at,
        }
    }
}

/// One event to one endpoint.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(complex)]
pub struct WebhookDelivery {
    #[graphql(skip)]
    pub endpoint_id: i64,
    pub status: DeliveryStatus,
    /// Attempts started so far.
    pub attempts: i64,
    pub last_response_status: Option<i64>,
    /// When the next attempt is due, while PENDING.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl WebhookDelivery {
    /// The endpoint (batched per page; deleted endpoints too).
    async fn endpoint(&self, ctx: &Context<'_>) -> GraphqlResult<WebhookEndpoint> {
        load_one::<EndpointLoader>(ctx, self.endpoint_id)
            .await?
            .ok_or_else(|| graphql_error(Error::internal(format!("endpoint {} is missing", self.endpoint_id))))
    }
}

impl From<DeliveryView> for WebhookDelivery {
    fn from(delivery: DeliveryView) -> Self {
        WebhookDelivery {
            endpoint_id: delivery.endpoint_id,
            status: delivery.status.into(),
            attempts: delivery.attempts,
            last_response_status: delivery.last_response_status,
            next_attempt_at: delivery.next_attempt_at,
            delivered_at: delivery.delivered_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// An absolute http(s) URL.
    pub url: String,
    /// Empty or absent: every type.
    pub event_types: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub id: ID,
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct DeleteWebhookEndpointInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct ReplayEventInput {
    pub event_id: ID,
    /// Absent: every enabled endpoint that asks for the event's type.
    pub endpoint_id: Option<ID>,
}

#[derive(SimpleObject, Default)]
pub struct WebhookEndpointPayload {
    pub endpoint: Option<WebhookEndpoint>,
    /// The signing secret (`whsec_...`): only from create and rotate, and only this once.
    pub secret: Option<String>,
    pub errors: Vec<UserError>,
}

#[derive(SimpleObject, Default)]
pub struct ReplayEventPayload {
    pub event: Option<Event>,
    /// The deliveries the replay made, one per endpoint.
    pub deliveries: Option<Vec<WebhookDelivery>>,
    pub errors: Vec<UserError>,
}

payloads!(WebhookEndpointPayload, ReplayEventPayload);

fn endpoint_payload(endpoint: Endpoint, secret: Option<String>) -> WebhookEndpointPayload {
    WebhookEndpointPayload { endpoint: Some(endpoint.into()), secret, errors: Vec::new() }
}

#[derive(Default)]
pub struct WebhooksQuery;

#[Object]
impl WebhooksQuery {
    /// Endpoints that are not deleted, oldest first (admin).
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> GraphqlResult<Vec<WebhookEndpoint>> {
        require_admin(ctx, "webhookEndpoints")?;
        let endpoints = store(ctx)?.webhook_endpoints().await.map_err(graphql_error)?;
        Ok(endpoints.into_iter().map(WebhookEndpoint::from).collect())
    }
}

#[derive(Default)]
pub struct WebhooksMutation;

#[Object]
impl WebhooksMutation {
    /// Adds an endpoint; its secret is in the payload this once (admin).
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> GraphqlResult<WebhookEndpointPayload> {
        require_admin(ctx, "createWebhookEndpoint")?;
        let types = input.event_types.clone().unwrap_or_default();
        let create = store(ctx)?.create_webhook_endpoint(&input.url, &types, now(ctx)?);
        let result = checked(input.check(), create).await;
        payload(result, |(endpoint, secret)| endpoint_payload(endpoint, Some(secret)))
    }

    /// Changes an endpoint's URL, event types or whether it is enabled (admin).
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookEndpointInput,
    ) -> GraphqlResult<WebhookEndpointPayload> {
        require_admin(ctx, "updateWebhookEndpoint")?;
        let update =
            EndpointUpdate { url: input.url.clone(), event_types: input.event_types.clone(), enabled: input.enabled };
        let result = checked(input.check(), store(ctx)?.update_webhook_endpoint(&input.id, update)).await;
        payload(result, |endpoint| endpoint_payload(endpoint, None))
    }

    /// Gives an endpoint a new secret, in the payload this once; the old one
    /// stops signing at once (admin).
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: RotateWebhookSecretInput,
    ) -> GraphqlResult<WebhookEndpointPayload> {
        require_admin(ctx, "rotateWebhookSecret")?;
        let result = checked(input.check(), store(ctx)?.rotate_webhook_secret(&input.id)).await;
        payload(result, |(endpoint, secret)| endpoint_payload(endpoint, Some(secret)))
    }

    /// Deletes an endpoint; its pending deliveries fail (admin).
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: DeleteWebhookEndpointInput,
    ) -> GraphqlResult<WebhookEndpointPayload> {
        require_admin(ctx, "deleteWebhookEndpoint")?;
        let result = checked(input.check(), store(ctx)?.delete_webhook_endpoint(&input.id, now(ctx)?)).await;
        payload(result, |endpoint| endpoint_payload(endpoint, None))
    }

    /// Sends an event again, with its `webhook-id` and body as first sent:
    /// to one endpoint, or to every enabled endpoint that asks for its type (admin).
    async fn replay_event(&self, ctx: &Context<'_>, input: ReplayEventInput) -> GraphqlResult<ReplayEventPayload> {
        require_admin(ctx, "replayEvent")?;
        let endpoint_id = input.endpoint_id.as_deref().map(String::as_str);
        let replay = store(ctx)?.replay_event(&input.event_id, endpoint_id, now(ctx)?);
        let result = checked(input.check(), replay).await;
        if result.is_ok() {
            store(ctx)?.outbox_signal().notify_one();
        }
        payload(result, |(event, deliveries)| ReplayEventPayload {
            event: Some(Event::from(event)),
            deliveries: Some(deliveries.into_iter().map(WebhookDelivery::from).collect()),
            errors: Vec::new(),
        })
    }
}
