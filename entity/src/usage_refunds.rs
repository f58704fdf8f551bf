//! One refund of a usage event: part or all of what it was charged.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub usage_event_id: i64,
    pub credits: i64,
    /// PROVIDER_ERROR, TIMEOUT, OUTPUT_MODERATED, USER_CANCELLED or OTHER.
    pub cause: String,
    /// The reason given, or "refund".
    pub reference: String,
    /// The lots the credits went back to, as JSON `[[lot_id, credits], ...]`.
    pub lot_split: String,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
