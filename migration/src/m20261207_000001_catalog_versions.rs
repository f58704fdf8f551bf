//! The catalog the operator changes live (DESIGN.md section 9).
//!
//! - `catalog_versions` holds every version of the catalog and plans as its
//!   whole TOML document (the seed file's format), with the audit of the
//!   change that made it: who, when, which mutation, and the entries it
//!   changed before and after (JSON). Version 1 is the seed file. A version
//!   is never updated; the current catalog is the highest version, so one
//!   row read is one consistent catalog, and the primary key makes two
//!   racing changes take distinct versions.
//! - `usage_events` records the price each generation paid and the version
//!   that priced it; events from before get version 1 and the seed's price.
//! - `reservations` records the price a hold reserved at, which its
//!   capture pays (NULL for holds opened before: they pay today's price).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::seed::CATALOG_TOML;

// Every integer is BIGINT: the SQLite writer reads integers back as 64-bit.

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(&str, &str, &str); 4] = [
    ("usage_events", "unit_price", "BIGINT NOT NULL DEFAULT 0"),
    ("usage_events", "catalog_version", "BIGINT NOT NULL DEFAULT 1"),
    ("reservations", "unit_price", "BIGINT NULL"),
    ("reservations", "catalog_version", "BIGINT NULL"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("catalog_versions")
                    .col(big_integer("version").primary_key())
                    .col(big_integer("created_at_ms"))
                    .col(string("actor"))
                    .col(string("change"))
                    .col(text("before"))
                    .col(text("after"))
                    .col(text("document"))
                    .take(),
            )
            .await?;
        let seeded_at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64);
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("catalog_versions")
                    .columns(["version", "created_at_ms", "actor", "change", "before", "after", "document"])
                    .values_panic([
                        1i64.into(),
                        seeded_at_ms.into(),
                        "seed".into(),
                        "seed".into(),
                        "{}".into(),
                        "{}".into(),
                        CATALOG_TOML.into(),
                    ])
                    .take(),
            )
            .await?;
        let db = manager.get_connection();
        for (table, column, definition) in COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE {table} ADD COLUMN {column} {definition}")).await?;
        }
        // The seed's prices (the only ones before this migration).
        db.execute_unprepared(
            "UPDATE usage_events SET unit_price = COALESCE((SELECT MAX(p.millicredits_per_unit) FROM prices p
               WHERE p.tool_code = usage_events.tool
                 AND (p.model_id = usage_events.model_id OR (p.model_id IS NULL AND usage_events.model_id IS NULL))), 0)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (table, column, _) in COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}")).await?;
        }
        manager.drop_table(Table::drop().table("catalog_versions").take()).await?;
        Ok(())
    }
}
