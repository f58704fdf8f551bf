//! The GraphQL API: thin resolvers that parse, authorize, call the store and
//! map the result. One file per concept.
use async_graphql::dataloader::DataLoader;
use async_graphql::{MergedObject, Schema};

pub mod account;
pub mod catalog;
pub mod catalog_admin;
pub mod checks;
pub mod columns;
pub mod context;
pub mod errors;
pub mod events;
pub mod grants;
pub mod holds;
pub mod ledger;
pub mod limits;
pub mod live;
pub mod loaders;
pub mod pagination;
pub mod platform;
pub mod quote;
pub mod refunds;
pub mod scalars;
pub mod series;
pub mod spend_limits;
pub mod spending;
pub mod subscriptions;
pub mod top_ups;
pub mod usage;
pub mod wallet;
pub mod webhooks;

use crate::auth::Auth;
use crate::clock::Clock;
use crate::store::Store;

#[derive(MergedObject, Default)]
pub struct Query(
    catalog::CatalogQuery,
    quote::QuoteQuery,
    account::AccountQuery,
    ledger::LedgerQuery,
    platform::PlatformUsageQuery,
    events::EventsQuery,
    webhooks::WebhooksQuery,
    catalog_admin::CatalogAdminQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    spending::SpendingMutation,
    holds::HoldsMutation,
    refunds::RefundsMutation,
    grants::GrantsMutation,
    subscriptions::SubscriptionsMutation,
    wallet::WalletMutation,
    spend_limits::SpendLimitsMutation,
    top_ups::TopUpsMutation,
    webhooks::WebhooksMutation,
    catalog_admin::CatalogAdminMutation,
);

pub type CreditsSchema = Schema<Query, Mutation, live::LiveSubscription>;

pub fn schema(store: Store, auth: Auth, clock: Clock) -> CreditsSchema {
    Schema::build(Query::default(), Mutation::default(), live::LiveSubscription)
        .data(DataLoader::new(loaders::LotLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::DeliveryLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::RefundLoader(store.clone()), tokio::spawn))
        .data(DataLoader::new(loaders::EndpointLoader(store.clone()), tokio::spawn))
        .data(store)
        .data(auth)
        .data(clock)
        .extension(crate::metrics::GraphqlMetrics)
        .extension(limits::AliasLimit)
        // Introspection stays on: GraphiQL needs it.
        .limit_depth(limits::QUERY_DEPTH_MAX)
        .limit_complexity(limits::QUERY_COMPLEXITY_MAX)
        .finish()
}

/// The schema in SDL, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), live::LiveSubscription).finish().sdl()
}
