//! A rollup row is found by its bucket, never by a number: the bucket
//! becomes the primary key and the `id` column goes.
//!
//! On SQLite the table is rebuilt WITHOUT ROWID, stored in its key's order
//! with the counts beside the key. Every charge upserts two rollup rows;
//! before, each upsert wrote three B-trees (the rowid table, the unique key
//! and the covering index of the counts) and the AUTOINCREMENT counter, now
//! one. Summaries read the same key order as before. On PostgreSQL the
//! unique index that already carries the counts becomes the primary key.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const KEY: &str = "account_id, bucket_ms, bucket_start_ms, studio, tool, model_id";

fn sqlite_table(name: &str, id: bool) -> String {
    let (id, key, rowid) = match id {
        true => ("\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT,", String::new(), ""),
        false => ("", format!(", PRIMARY KEY ({KEY})"), " WITHOUT ROWID"),
    };
    format!(
        "CREATE TABLE {name} ({id}
             \"account_id\" varchar NOT NULL, \"bucket_ms\" integer NOT NULL,
             \"bucket_start_ms\" integer NOT NULL, \"studio\" varchar NOT NULL,
             \"tool\" varchar NOT NULL, \"model_id\" varchar NOT NULL,
             \"events\" integer NOT NULL CHECK (\"events\" >= 0),
             \"outputs\" integer NOT NULL CHECK (\"outputs\" >= 0),
             \"credits\" integer NOT NULL CHECK (\"credits\" >= 0){key}){rowid}"
    )
}

/// Rebuilds the SQLite table with or without `id`, keeping every row, and
/// returns with the platform index made again (the old table's indexes go
/// with it).
async fn rebuild_sqlite(manager: &SchemaManager<'_>, id: bool) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&sqlite_table("usage_rollups_rebuilt", id)).await?;
    db.execute_unprepared(&format!(
        "INSERT INTO usage_rollups_rebuilt ({KEY}, events, outputs, credits)
             SELECT {KEY}, events, outputs, credits FROM usage_rollups"
    ))
    .await?;
    db.execute_unprepared("DROP TABLE usage_rollups").await?;
    db.execute_unprepared("ALTER TABLE usage_rollups_rebuilt RENAME TO usage_rollups").await?;
    db.execute_unprepared("CREATE INDEX usage_rollups_platform ON usage_rollups (bucket_ms, bucket_start_ms)").await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() != DbBackend::Postgres {
            return rebuild_sqlite(manager, false).await;
        }
        db.execute_unprepared("ALTER TABLE usage_rollups DROP COLUMN id").await?;
        db.execute_unprepared(
            "ALTER TABLE usage_rollups ADD CONSTRAINT usage_rollups_pkey PRIMARY KEY USING INDEX usage_rollups_bucket_counts",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() != DbBackend::Postgres {
            rebuild_sqlite(manager, true).await?;
            db.execute_unprepared(&format!("CREATE UNIQUE INDEX usage_rollups_bucket ON usage_rollups ({KEY})"))
                .await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX usage_rollups_counts ON usage_rollups ({KEY}, events, outputs, credits)"
            ))
            .await?;
            return Ok(());
        }
        db.execute_unprepared("ALTER TABLE usage_rollups DROP CONSTRAINT usage_rollups_pkey").await?;
        db.execute_unprepared(&format!(
            "CREATE UNIQUE INDEX usage_rollups_bucket_counts ON usage_rollups ({KEY}) INCLUDE (events, outputs, credits)"
        ))
        .await?;
        db.execute_unprepared("ALTER TABLE usage_rollups ADD COLUMN id bigserial PRIMARY KEY").await?;
        Ok(())
    }
}
