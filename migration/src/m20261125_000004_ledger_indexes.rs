//! Drops the ledger's indexes by lot, usage event and reservation. Only the
//! ledger check read through them, one correlated lookup per row; it now sums
//! each table once and joins, and nothing else looks ledger entries up that
//! way. Each was one more B-tree written by every ledger entry of every
//! charge, on the write path that bounds the service.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    ("ledger_entries_lot", "lot_id"),
    ("ledger_entries_usage_event", "usage_event_id"),
    ("ledger_entries_reservation", "reservation_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table("ledger_entries").if_exists().to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, column) in INDEXES {
            manager
                .create_index(Index::create().name(name).table("ledger_entries").col(column).if_not_exists().take())
                .await?;
        }
        Ok(())
    }
}
