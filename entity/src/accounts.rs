//! An account, created on first sight of its id.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub created_at_ms: i64,
    /// The day (in the configured time zone) whose free credits were last granted.
    pub daily_free_day: Option<String>,
    /// Below this balance the wallet reports `lowBalance`; `None` means the configured default.
    pub low_balance_threshold: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
