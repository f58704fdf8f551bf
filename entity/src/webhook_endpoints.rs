//! Where events are posted.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// JSON array of event types; empty means every type.
    pub event_types: String,
    pub enabled: bool,
    /// The `whsec_` secret, sealed when a key is configured.
    pub secret: String,
    pub created_at_ms: i64,
    /// Deleted endpoints stay for the deliveries that name them.
    pub deleted_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
