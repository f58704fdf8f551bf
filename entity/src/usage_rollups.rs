//! Usage of an account per bucket (a UTC hour or a UTC day), studio, tool and
//! model, kept in the charging transaction. The bucket is the key.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    /// 3600000 (hourly rows, for time zones other than UTC) or 86400000 (daily UTC rows).
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_ms: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start_ms: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub studio: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tool: String,
    /// Empty for tools without models, so the key has no NULL.
    #[sea_orm(primary_key, auto_increment = false)]
    pub model_id: String,
    pub events: i64,
    pub outputs: i64,
    pub credits: i64,
    /// Credits refunded of the bucket's generations, by refund cause.
    pub refunded_provider_error: i64,
    pub refunded_timeout: i64,
    pub refunded_output_moderated: i64,
    pub refunded_user_cancelled: i64,
    pub refunded_other: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
