//! The price of one unit of a tool, with one model or (model_id NULL) at tool level.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "prices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tool_code: String,
    pub model_id: Option<String>,
    /// Thousandths of a credit per unit, so that half a credit per second is exact.
    pub millicredits_per_unit: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
