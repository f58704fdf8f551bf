//! One event to one endpoint, attempted until it succeeds or fails for good.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub event_id: i64,
    pub endpoint_id: i64,
    /// PENDING, SUCCEEDED or FAILED.
    pub status: String,
    /// Attempts started (an attempt counts from when a process claims it).
    pub attempts: i64,
    pub next_attempt_at_ms: Option<i64>,
    /// Until then, the process that claimed the attempt owns it.
    pub lease_until_ms: i64,
    pub last_response_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
