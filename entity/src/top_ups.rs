//! One purchase of a token pack across systems: requested, then completed,
//! failed or expired.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "top_ups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub pack_id: String,
    /// PENDING, SUCCEEDED, FAILED or EXPIRED.
    pub status: String,
    /// MANUAL or AUTOMATIC.
    pub trigger: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub completed_at_ms: Option<i64>,
    pub payment_reference: Option<String>,
    pub failure_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
