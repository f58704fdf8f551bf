//! A generation option value of a studio and the multiplier it applies to the price.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "option_multipliers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub studio: String,
    pub name: String,
    pub value: String,
    /// 1000 = x1.0; integers keep pricing exact.
    pub multiplier_permille: i64,
    pub is_default: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
