//! DataLoaders: lookups that a list would otherwise repeat once per item run
//! once per list. (Models, tools and studios come from the in-memory catalog
//! and need none.)
use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::wallet::CreditLot;
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

/// A loader's shared error as a request error (the detail is logged once there).
pub fn loader_error(error: Arc<Error>) -> Error {
    match &*error {
        Error::Unavailable(detail) => Error::Unavailable(detail.clone()),
        other => Error::internal(other.to_string()),
    }
}
