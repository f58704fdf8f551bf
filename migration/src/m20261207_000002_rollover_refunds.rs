//! Carry-over and refund causes (DESIGN.md section 10).
//!
//! - `plans` gain `rollover_percent` and `rollover_cap`, set for the seeded
//!   plans from `seed/catalog.toml` (the seed migration ran before them).
//! - `usage_refunds` is one refund of a usage event: its credits, cause and
//!   the lots they went back to (`lot_split`, which a later partial refund
//!   needs); `usage_events.refunded_credits` is their running total, which
//!   the account's lock guards.
//! - `usage_rollups` keep the refunded credits of their bucket by cause, so
//!   summaries filtered by cause are still served from rollups.
//!
//! Events refunded before this migration become one `OTHER` refund each.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{id, index};
use crate::seed;

// Every integer is BIGINT: the SQLite writer reads integers back as 64-bit.

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The rollups' refunded credits, one column per refund cause.
pub const ROLLUP_REFUND_COLUMNS: [&str; 5] = [
    "refunded_provider_error",
    "refunded_timeout",
    "refunded_output_moderated",
    "refunded_user_cancelled",
    "refunded_other",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in [
            "ALTER TABLE plans ADD COLUMN rollover_percent BIGINT NOT NULL DEFAULT 0 \
             CHECK (rollover_percent >= 0 AND rollover_percent <= 100)",
            "ALTER TABLE plans ADD COLUMN rollover_cap BIGINT NULL CHECK (rollover_cap >= 0)",
            "ALTER TABLE usage_events ADD COLUMN refunded_credits BIGINT NOT NULL DEFAULT 0 \
             CHECK (refunded_credits >= 0 AND refunded_credits <= credits)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        for column in ROLLUP_REFUND_COLUMNS {
            db.execute_unprepared(&format!(
                "ALTER TABLE usage_rollups ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0 CHECK ({column} >= 0)"
            ))
            .await?;
        }
        let seed = seed::parse().map_err(|error| DbErr::Migration(format!("seed/catalog.toml: {error}")))?;
        for plan in seed.plans {
            let update = Query::update()
                .table("plans")
                .value("rollover_percent", plan.rollover_percent)
                .value("rollover_cap", plan.rollover_cap)
                .and_where(Expr::col("code").eq(plan.code))
                .take();
            manager.exec_stmt(update).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("usage_refunds")
                    .col(id())
                    .col(string("account_id"))
                    .col(big_integer("usage_event_id"))
                    .col(big_integer("credits").check(Expr::col("credits").gt(0)))
                    .col(string("cause"))
                    .col(string("reference"))
                    .col(text("lot_split"))
                    .col(big_integer("created_at_ms"))
                    .take(),
            )
            .await?;
        manager.create_index(index("usage_refunds", "usage_refunds_event", &["usage_event_id", "id"])).await?;
        // What was refunded before: whole events, cause unknown.
        for sql in [
            "INSERT INTO usage_refunds (account_id, usage_event_id, credits, cause, reference, lot_split, created_at_ms)
             SELECT u.account_id, u.id, u.credits, 'OTHER', 'refund', u.lot_split,
                    COALESCE((SELECT MAX(e.created_at_ms) FROM ledger_entries e
                              WHERE e.usage_event_id = u.id AND e.kind = 'REFUND'), u.created_at_ms)
             FROM usage_events u WHERE u.status = 'REFUNDED' AND u.credits > 0",
            "UPDATE usage_events SET refunded_credits = credits WHERE status = 'REFUNDED'",
            "UPDATE usage_rollups SET refunded_other = (
                 SELECT COALESCE(SUM(u.credits), 0) FROM usage_events u
                 WHERE u.status = 'REFUNDED' AND u.account_id = usage_rollups.account_id
                   AND u.created_at_ms >= usage_rollups.bucket_start_ms
                   AND u.created_at_ms < usage_rollups.bucket_start_ms + usage_rollups.bucket_ms
                   AND u.studio = usage_rollups.studio AND u.tool = usage_rollups.tool
                   AND COALESCE(u.model_id, '') = usage_rollups.model_id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("usage_refunds").if_exists().to_owned()).await?;
        let db = manager.get_connection();
        let mut columns: Vec<(&str, &str)> = ROLLUP_REFUND_COLUMNS.iter().map(|c| ("usage_rollups", *c)).collect();
        columns.extend([
            ("usage_events", "refunded_credits"),
            ("plans", "rollover_cap"),
            ("plans", "rollover_percent"),
        ]);
        for (table, column) in columns {
            db.execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}")).await?;
        }
        Ok(())
    }
}
