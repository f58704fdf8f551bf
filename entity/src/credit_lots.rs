//! Credits granted from one source; `remaining` never goes below zero (CHECK).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "credit_lots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    /// DAILY_FREE, SUBSCRIPTION, TOKENS or PROMO.
    pub source: String,
    pub granted: i64,
    pub remaining: i64,
    pub expires_at_ms: Option<i64>,
    pub pro_eligible: bool,
    /// What granted it: a subscription id, a payment reference, a grant reason.
    pub reference: String,
    pub created_at_ms: i64,
    /// Whether `credits.expiring` was considered for this lot (once per lot).
    pub expiry_noticed: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
