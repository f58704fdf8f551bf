//! Lots by id, for the lot behind each share of a usage event.
use entity::credit_lots;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Store, rows};
use crate::domain::lots::Lot;
use crate::error::Result;

impl Store {
    pub async fn lots_by_ids(&self, ids: &[i64]) -> Result<Vec<Lot>> {
        credit_lots::Entity::find()
            .filter(credit_lots::Column::Id.is_in(ids.iter().copied()))
            .all(self.reader())
            .await?
            .iter()
            .map(rows::lot)
            .collect()
    }
}
