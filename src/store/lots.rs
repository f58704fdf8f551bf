//! Lots by id, for the lot behind each share of a usage event.
use entity::credit_lots;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Store, rows};
use crate::domain::lots::Lot;
use crate::error::Result;

impl Store {
    pub async fn lots_by_ids(&self, ids: &[i64]) -> Result<Vec<Lot>> {
        lots_by_ids(self.reader(), ids).await
    }
}

/// Lots by id on `db` (a transaction sees its own changes), spent ones too.
pub(crate) async fn lots_by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> Result<Vec<Lot>> {
    credit_lots::Entity::find()
        .filter(credit_lots::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .iter()
        .map(rows::lot)
        .collect()
}
