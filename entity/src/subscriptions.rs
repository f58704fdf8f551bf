//! One subscription of an account to a paid plan; at most one is ACTIVE per account.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub plan_code: String,
    /// ACTIVE, CANCELED or EXPIRED (replaced by a plan change).
    pub status: String,
    /// Periods are `anchor + k months`, so a period never drifts with short months.
    pub billing_anchor_ms: i64,
    pub current_period_start_ms: i64,
    pub current_period_end_ms: i64,
    pub cancel_at_period_end: bool,
    pub payment_reference: String,
    pub created_at_ms: i64,
    pub ended_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
