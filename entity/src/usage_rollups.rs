//! Usage of an account per UTC hour, studio, tool and model, kept in the charging transaction.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_rollups")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub account_id: String,
    /// Start of the UTC hour (hourly buckets serve any time zone with whole-hour offsets).
    pub bucket_start_ms: i64,
    pub studio: String,
    pub tool: String,
    /// Empty for tools without models, so the unique key has no NULL.
    pub model_id: String,
    pub events: i64,
    pub outputs: i64,
    pub credits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
