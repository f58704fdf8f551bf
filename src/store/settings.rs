//! Values kept with the data: the generated JWT secret of a server started
//! without one, so that its tokens outlive a restart.
use entity::settings;
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::Store;
use crate::error::{Error, Result};

const JWT_SECRET: &str = "jwt_secret";

impl Store {
    /// The stored secret, created on first use. Insert-if-absent then read,
    /// so two processes starting together agree on one secret.
    pub async fn generated_jwt_secret(&self) -> Result<String> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let candidate = settings::ActiveModel { key: Set(JWT_SECRET.into()), value: Set(hex::encode(bytes)) };
        settings::Entity::insert(candidate)
            .on_conflict(OnConflict::column(settings::Column::Key).do_nothing().to_owned())
            .exec_without_returning(&self.writer)
            .await?;
        settings::Entity::find_by_id(JWT_SECRET)
            .one(&self.writer)
            .await?
            .map(|row| row.value)
            .ok_or_else(|| Error::internal("the generated JWT secret was not stored"))
    }
}
