//! One charged generation, with the split of its credits over lots.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub created_at_ms: i64,
    pub studio: String,
    pub tool: String,
    pub model_id: Option<String>,
    pub count: i64,
    /// Seconds or characters for tools priced by them; NULL for per-output tools.
    pub units: Option<i64>,
    /// The generation options as JSON `[[name, value], ...]`.
    pub options: String,
    pub credits: i64,
    /// CHARGED, PARTIALLY_REFUNDED or REFUNDED.
    pub status: String,
    pub idempotency_key: String,
    /// The lots paid from, as JSON `[[lot_id, credits], ...]`.
    pub lot_split: String,
    /// Thousandths of a credit per unit, as priced.
    pub unit_price: i64,
    /// The catalog version that priced it.
    pub catalog_version: i64,
    /// Credits refunded so far (the sum of its `usage_refunds`).
    pub refunded_credits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
