//! One version of the catalog and plans, and the audited change that made it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "catalog_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    pub created_at_ms: i64,
    /// The token subject of the admin (or `seed`, `import`).
    pub actor: String,
    /// The mutation (`setPrice`, ...), `import` or `seed`.
    pub change: String,
    /// The entries changed, as JSON objects keyed `tool:upscale`, ...
    pub before: String,
    pub after: String,
    /// The whole catalog, in the seed file's TOML format.
    pub document: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
