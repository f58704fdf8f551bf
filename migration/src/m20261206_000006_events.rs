//! Events and webhooks (DESIGN.md section 6) and top-ups (section 7).
//!
//! - `events` is the transactional outbox: each row is written in the
//!   transaction of the change it reports; `sequence` counts per account
//!   from `accounts.event_sequence`, which the account's lock guards.
//!   `dispatched` is cleared until the delivery worker has made the event's
//!   deliveries (one per matching endpoint).
//! - `webhook_deliveries` is one event to one endpoint: its status, attempts,
//!   when the next is due, and the lease of the process attempting it.
//! - `top_ups` is the flow of one token purchase across systems; the
//!   automatic top-up settings and counters sit on the account's row, which
//!   every movement has locked already.
//! - `credit_lots.expiry_noticed` makes `credits.expiring` once per lot.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{add_columns, drop_columns, id, index};

// Every integer is BIGINT: the SQLite writer reads integers back as 64-bit.

#[derive(DeriveMigrationName)]
pub struct Migration;

const ACCOUNT_COLUMNS: [(&str, &str); 8] = [
    ("event_sequence", "BIGINT NOT NULL DEFAULT 0"),
    ("auto_top_up_enabled", "BOOLEAN NOT NULL DEFAULT FALSE"),
    ("auto_top_up_threshold", "BIGINT NOT NULL DEFAULT 0"),
    ("auto_top_up_pack", "TEXT NULL"),
    ("auto_top_up_monthly_limit", "BIGINT NOT NULL DEFAULT 3"),
    ("auto_top_up_month", "TEXT NULL"),
    ("auto_top_up_requested", "BIGINT NOT NULL DEFAULT 0"),
    ("auto_top_up_failures", "BIGINT NOT NULL DEFAULT 0"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        add_columns(manager, "accounts", &ACCOUNT_COLUMNS).await?;
        db.execute_unprepared("ALTER TABLE credit_lots ADD COLUMN expiry_noticed BOOLEAN NOT NULL DEFAULT FALSE")
            .await?;
        let tables = [
            Table::create()
                .table("events")
                .col(id())
                .col(string_null("account_id"))
                .col(big_integer("sequence"))
                .col(string("type"))
                .col(text("data"))
                .col(big_integer("created_at_ms"))
                .col(boolean("dispatched").default(false))
                .take(),
            Table::create()
                .table("webhook_endpoints")
                .col(id())
                .col(string("url"))
                .col(text("event_types"))
                .col(boolean("enabled"))
                .col(text("secret"))
                .col(big_integer("created_at_ms"))
                .col(big_integer_null("deleted_at_ms"))
                .take(),
            Table::create()
                .table("webhook_deliveries")
                .col(id())
                .col(big_integer("event_id"))
                .col(big_integer("endpoint_id"))
                .col(string("status"))
                .col(big_integer("attempts").check(Expr::col("attempts").gte(0)))
                .col(big_integer_null("next_attempt_at_ms"))
                .col(big_integer("lease_until_ms").default(0))
                .col(big_integer_null("last_response_status"))
                .col(text_null("last_error"))
                .col(big_integer("created_at_ms"))
                .col(big_integer_null("delivered_at_ms"))
                .take(),
            Table::create()
                .table("top_ups")
                .col(id())
                .col(string("account_id"))
                .col(string("pack_id"))
                .col(string("status"))
                .col(string("trigger"))
                .col(big_integer("created_at_ms"))
                .col(big_integer("expires_at_ms"))
                .col(big_integer_null("completed_at_ms"))
                .col(string_null("payment_reference"))
                .col(text_null("failure_reason"))
                .take(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }
        let indexes = [
            index("events", "events_account_sequence", &["account_id", "sequence"]).unique().take(),
            index("events", "events_type", &["type", "id"]),
            index("webhook_deliveries", "webhook_deliveries_due", &["status", "next_attempt_at_ms"]),
            index("webhook_deliveries", "webhook_deliveries_event", &["event_id", "id"]),
            index("top_ups", "top_ups_account", &["account_id", "id"]),
            index("top_ups", "top_ups_pending", &["status", "expires_at_ms"]),
            index("subscriptions", "subscriptions_period_end", &["status", "current_period_end_ms"]),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        // Partial indexes, the same on both engines: the delivery worker's
        // queue (only the events not yet fanned out), and the scheduler's
        // lots that may expire with credits left (daily free credits are lazy).
        for sql in [
            "CREATE INDEX IF NOT EXISTS events_undispatched ON events (id) WHERE dispatched = FALSE",
            "CREATE INDEX IF NOT EXISTS credit_lots_live_expiry ON credit_lots (expires_at_ms) \
             WHERE remaining > 0 AND source <> 'DAILY_FREE'",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["top_ups", "webhook_deliveries", "webhook_endpoints", "events"] {
            manager.drop_table(Table::drop().table(table).if_exists().to_owned()).await?;
        }
        for index in ["subscriptions_period_end", "credit_lots_live_expiry"] {
            manager.drop_index(Index::drop().name(index).if_exists().to_owned()).await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE credit_lots DROP COLUMN expiry_noticed").await?;
        drop_columns(manager, "accounts", &ACCOUNT_COLUMNS).await?;
        Ok(())
    }
}
