//! An append-only movement of credits on one lot, with the account balance after it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    pub created_at_ms: i64,
    /// DAILY_GRANT, SUBSCRIPTION_GRANT, PURCHASE, PROMO_GRANT, CONSUME, EXPIRE, ...
    pub kind: String,
    pub lot_id: i64,
    /// Signed: positive adds to the lot, negative takes from it.
    pub amount: i64,
    pub balance_after: i64,
    pub usage_event_id: Option<i64>,
    pub reservation_id: Option<i64>,
    pub reference: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
