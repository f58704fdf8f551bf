//! `walletUpdated`: the new wallet after every change to an account made by
//! this server process.
use async_graphql::{Context, ID, Subscription};
use futures_util::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::checks::query_check;
use super::context::{GraphqlResult, authenticated, require_account_access, store};
use super::errors::graphql_error;
use super::wallet::Wallet;
use crate::clock::Clock;
use crate::domain::text::ACCOUNT_ID;

#[derive(Default)]
pub struct LiveSubscription;

// The contract names the root type `Subscription`; the Rust type keeps a
// name of its own, apart from async-graphql's `Subscription` macro and the
// billing `PlanSubscription`.
/// Changes as they happen, over WebSocket (graphql-transport-ws).
#[Subscription(name = "Subscription")]
impl LiveSubscription {
    /// A user's own wallet (no argument), or any account's for service and admin.
    async fn wallet_updated(
        &self,
        ctx: &Context<'_>,
        account_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = GraphqlResult<Wallet>> + use<>> {
        let (own, _) = authenticated(ctx)?;
        query_check(ACCOUNT_ID.check_optional(account_id.as_deref().map(String::as_str)))?;
        let account_id = account_id.map_or_else(|| own.to_owned(), |id| id.0);
        require_account_access(ctx, &account_id)?;
        let store = store(ctx)?.clone();
        let clock =
            ctx.data::<Clock>().cloned().map_err(|_| graphql_error(crate::error::Error::internal("no clock")))?;
        let changes = BroadcastStream::new(store.subscribe_changes());
        Ok(changes.filter(move |changed| changed.as_ref().is_ok_and(|id| *id == account_id)).then(move |changed| {
            let store = store.clone();
            let clock = clock.clone();
            async move {
                let id = changed.unwrap_or_default();
                let snapshot = store.account(&id, clock.now()).await.map_err(graphql_error)?;
                Ok(Wallet::from(&snapshot.wallet))
            }
        }))
    }
}
