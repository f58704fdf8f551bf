//! A hold of credits for a generation that has not finished yet.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "reservations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub credits: i64,
    /// OPEN, CAPTURED, RELEASED or EXPIRED.
    pub status: String,
    pub expires_at_ms: i64,
    /// The generation being held for, as JSON.
    pub generation: String,
    /// The lots the hold drew on, as JSON `[[lot_id, credits], ...]`.
    pub lot_split: String,
    pub idempotency_key: String,
    pub created_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    /// The usage event a capture recorded.
    pub usage_event_id: Option<i64>,
    /// The price per unit the hold reserved at, which its capture pays.
    pub unit_price: Option<i64>,
    pub catalog_version: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
