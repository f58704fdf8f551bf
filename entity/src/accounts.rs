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
    /// Spend limits the account's user set (credits a day, credits a generation).
    pub spend_limit_daily: Option<i64>,
    pub spend_limit_per_generation: Option<i64>,
    /// Spend limits an admin set; the lower of the user's and the admin's applies.
    pub admin_spend_limit_daily: Option<i64>,
    pub admin_spend_limit_per_generation: Option<i64>,
    /// The day (in the configured time zone) that `spent_credits` counts;
    /// null while no daily limit applies.
    pub spent_day: Option<String>,
    /// Credits counted against the daily limit on `spent_day`.
    pub spent_credits: i64,
    /// The day of the last `spend_limit.reached` event for the daily limit.
    pub spend_limit_noticed_daily: Option<String>,
    /// The day of the last `spend_limit.reached` event for the per-generation limit.
    pub spend_limit_noticed_per_generation: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
