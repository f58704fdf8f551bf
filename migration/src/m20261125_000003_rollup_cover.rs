//! On PostgreSQL the rollups' unique index also carries the counts, so that
//! a summary is read from the index alone (an index-only scan). SQLite has
//! no INCLUDE; its rollup rows are small and read by rowid.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX usage_rollups_bucket_counts ON usage_rollups
                 (account_id, bucket_ms, bucket_start_ms, studio, tool, model_id)
                 INCLUDE (events, outputs, credits)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX usage_rollups_bucket").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX usage_rollups_bucket ON usage_rollups
                 (account_id, bucket_ms, bucket_start_ms, studio, tool, model_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX usage_rollups_bucket_counts").await?;
        Ok(())
    }
}
