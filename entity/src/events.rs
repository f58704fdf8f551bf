//! The outbox: one row per event, written in the transaction of the change
//! it reports.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: Option<String>,
    /// Counts the account's events, from 1, without gaps.
    pub sequence: i64,
    #[sea_orm(column_name = "type")]
    pub event_type: String,
    /// The event's `data`, as JSON.
    pub data: String,
    pub created_at_ms: i64,
    /// Whether its deliveries were made.
    pub dispatched: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
