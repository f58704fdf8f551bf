//! Database migrations: the schema, then the default catalog and plans read
//! from `seed/catalog.toml`.
pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261124_000001_schema;
mod m20261124_000002_catalog;
mod m20261125_000003_rollup_counts;
mod m20261125_000004_ledger_indexes;
mod m20261125_000005_rollup_key;
mod m20261206_000006_events;
mod m20261207_000001_catalog_versions;
mod m20261207_000002_rollover_refunds;
mod m20261207_000003_spend_limits;
pub mod m20261208_000001_time_partitions;
pub mod seed;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_schema::Migration),
            Box::new(m20261124_000002_catalog::Migration),
            Box::new(m20261125_000003_rollup_counts::Migration),
            Box::new(m20261125_000004_ledger_indexes::Migration),
            Box::new(m20261125_000005_rollup_key::Migration),
            Box::new(m20261206_000006_events::Migration),
            Box::new(m20261207_000001_catalog_versions::Migration),
            Box::new(m20261207_000002_rollover_refunds::Migration),
            Box::new(m20261207_000003_spend_limits::Migration),
            Box::new(m20261208_000001_time_partitions::Migration),
        ]
    }
}
