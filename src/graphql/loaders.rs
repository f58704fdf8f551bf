//! DataLoaders: lookups that a list would otherwise repeat once per item run
//! once per list. (Models, tools and studios come from the in-memory catalog
//! and need none.)
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, Loader};

use super::context::GraphqlResult;
use super::errors::graphql_error;
use super::refunds::UsageRefund;
use super::wallet::CreditLot;
use super::webhooks::{WebhookDelivery, WebhookEndpoint};
use crate::error::Error;
use crate::store::Store;

/// The lots behind the shares of a page of usage events, in one query.
pub struct LotLoader(pub Store);

impl Loader<i64> for LotLoader {
    type Value = CreditLot;
    type Error = Arc<Error>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, CreditLot>, Arc<Error>> {
        let lots = self.0.lots_by_ids(ids).await.map_err(Arc::new)?;
        Ok(lots.iter().map(|lot| (lot.id, CreditLot::from(lot))).collect())
    }
}

/// The refunds of a page of usage events, in one query.
pub struct RefundLoader(pub Store);

impl Loader<i64> for RefundLoader {
    type Value = Vec<UsageRefund>;
    type Error = Arc<Error>;

    async fn load(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<UsageRefund>>, Arc<Error>> {
        let refunds = self.0.refunds_of_events(event_ids).await.map_err(Arc::new)?;
        Ok(refunds.into_iter().map(|(id, refunds)| (id, refunds.iter().map(UsageRefund::from).collect())).collect())
    }
}

/// A loader's shared error as a request error (the detail is logged once there).
pub fn loader_error(error: Arc<Error>) -> Error {
    match &*error {
        Error::Unavailable(detail) => Error::Unavailable(detail.clone()),
        other => Error::internal(other.to_string()),
    }
}

/// The deliveries of a page of events, in one query.
pub struct DeliveryLoader(pub Store);

impl Loader<i64> for DeliveryLoader {
    type Value = Vec<WebhookDelivery>;
    type Error = Arc<Error>;

    async fn load(&self, event_ids: &[i64]) -> Result<HashMap<i64, Vec<WebhookDelivery>>, Arc<Error>> {
        let deliveries = self.0.deliveries_of_events(event_ids).await.map_err(Arc::new)?;
        let mut by_event: HashMap<i64, Vec<WebhookDelivery>> = HashMap::new();
        for delivery in deliveries {
            by_event.entry(delivery.event_id).or_default().push(WebhookDelivery::from(delivery));
        }
        Ok(by_event)
    }
}

/// The endpoints of a page of deliveries (deleted ones too), in one query.
pub struct EndpointLoader(pub Store);

impl Loader<i64> for EndpointLoader {
    type Value = WebhookEndpoint;
    type Error = Arc<Error>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, WebhookEndpoint>, Arc<Error>> {
        let endpoints = self.0.webhook_endpoints_by_ids(ids).await.map_err(Arc::new)?;
        Ok(endpoints.into_iter().map(|endpoint| (endpoint.id, WebhookEndpoint::from(endpoint))).collect())
    }
}

/// One value through the request's loader `L`.
pub async fn load_one<L>(ctx: &Context<'_>, id: i64) -> GraphqlResult<Option<L::Value>>
where
    L: Loader<i64, Error = Arc<Error>>,
{
    let loader = ctx.data::<DataLoader<L>>().map_err(|_| graphql_error(Error::internal("a loader is missing")))?;
    loader.load_one(id).await.map_err(|e| graphql_error(loader_error(e)))
}
