//! The first outcome of a request that moved credits, by the key its caller chose.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub idempotency_key: String,
    pub operation: String,
    /// The canonical request; a retry must match it exactly.
    pub request: String,
    /// What the first request produced (an id), so a retry returns the same thing.
    pub result_ref: String,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
