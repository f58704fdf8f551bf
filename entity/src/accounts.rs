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
    /// The `sequence` of the account's latest event.
    pub event_sequence: i64,
    pub auto_top_up_enabled: bool,
    /// An automatic top-up is requested when `balance` falls below this.
    pub auto_top_up_threshold: i64,
    pub auto_top_up_pack: Option<String>,
    pub auto_top_up_monthly_limit: i64,
    /// The calendar month (UTC, `YYYY-MM`) that `auto_top_up_requested` counts.
    pub auto_top_up_month: Option<String>,
    pub auto_top_up_requested: i64,
    /// Automatic top-ups that failed or expired in a row.
    pub auto_top_up_failures: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
