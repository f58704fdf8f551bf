//! Every table of the service. Money invariants are CHECK constraints and
//! unique keys, so that a bug in the code cannot write a negative lot or apply
//! one idempotency key twice.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::{id, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn non_negative(column: &'static str) -> ColumnDef {
    big_integer(column).check(Expr::col(column).gte(0)).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("accounts")
                .col(string("id").primary_key())
                .col(big_integer("created_at_ms"))
                .col(string_null("daily_free_day"))
                .col(big_integer_null("low_balance_threshold"))
                .take(),
            Table::create()
                .table("plans")
                .col(string("code").primary_key())
                .col(string("name"))
                .col(non_negative("price_cents"))
                .col(non_negative("monthly_credits"))
                .col(boolean("pro_access"))
                .col(boolean("can_buy_tokens"))
                .col(integer("position"))
                .take(),
            Table::create()
                .table("subscriptions")
                .col(id())
                .col(string("account_id"))
                .col(string("plan_code"))
                .col(string("status"))
                .col(big_integer("billing_anchor_ms"))
                .col(big_integer("current_period_start_ms"))
                .col(big_integer("current_period_end_ms"))
                .col(boolean("cancel_at_period_end"))
                .col(string("payment_reference"))
                .col(big_integer("created_at_ms"))
                .col(big_integer_null("ended_at_ms"))
                .take(),
            Table::create()
                .table("studios")
                .col(string("kind").primary_key())
                .col(string("name"))
                .col(integer("position"))
                .take(),
            Table::create()
                .table("tools")
                .col(string("code").primary_key())
                .col(string("studio"))
                .col(string("name"))
                .col(string("unit"))
                .col(integer("position"))
                .take(),
            Table::create()
                .table("models")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("studio"))
                .col(boolean("pro"))
                .col(integer("position"))
                .take(),
            Table::create()
                .table("prices")
                .col(id())
                .col(string("tool_code"))
                .col(string_null("model_id"))
                .col(non_negative("millicredits_per_unit"))
                .take(),
            Table::create()
                .table("option_multipliers")
                .col(id())
                .col(string("studio"))
                .col(string("name"))
                .col(string("value"))
                .col(non_negative("multiplier_permille"))
                .col(boolean("is_default"))
                .take(),
            Table::create()
                .table("token_packs")
                .col(string("id").primary_key())
                .col(non_negative("tokens"))
                .col(non_negative("price_cents"))
                .col(integer("position"))
                .take(),
            Table::create()
                .table("credit_lots")
                .col(id())
                .col(string("account_id"))
                .col(string("source"))
                .col(non_negative("granted"))
                .col(non_negative("remaining"))
                .col(big_integer_null("expires_at_ms"))
                .col(boolean("pro_eligible"))
                .col(string("reference"))
                .col(big_integer("created_at_ms"))
                .check(("lot_remaining_within_granted", Expr::col("remaining").lte(Expr::col("granted"))))
                .take(),
            Table::create()
                .table("reservations")
                .col(id())
                .col(string("account_id"))
                .col(non_negative("credits"))
                .col(string("status"))
                .col(big_integer("expires_at_ms"))
                .col(text("generation"))
                .col(text("lot_split"))
                .col(string("idempotency_key"))
                .col(big_integer("created_at_ms"))
                .col(big_integer_null("closed_at_ms"))
                .col(big_integer_null("usage_event_id"))
                .take(),
            Table::create()
                .table("usage_events")
                .col(id())
                .col(string("account_id"))
                .col(big_integer("created_at_ms"))
                .col(string("studio"))
                .col(string("tool"))
                .col(string_null("model_id"))
                .col(non_negative("count"))
                .col(big_integer_null("units"))
                .col(text("options"))
                .col(non_negative("credits"))
                .col(string("status"))
                .col(string("idempotency_key"))
                .col(text("lot_split"))
                .take(),
            Table::create()
                .table("ledger_entries")
                .col(id())
                .col(string("account_id"))
                .col(big_integer("created_at_ms"))
                .col(string("kind"))
                .col(big_integer("lot_id"))
                .col(big_integer("amount"))
                .col(non_negative("balance_after"))
                .col(big_integer_null("usage_event_id"))
                .col(big_integer_null("reservation_id"))
                .col(string("reference"))
                .take(),
            Table::create()
                .table("idempotency_records")
                .col(id())
                .col(string("account_id"))
                .col(string("idempotency_key"))
                .col(string("operation"))
                .col(text("request"))
                .col(string("result_ref"))
                .col(big_integer("created_at_ms"))
                .take(),
            Table::create()
                .table("usage_rollups")
                .col(id())
                .col(string("account_id"))
                .col(big_integer("bucket_ms"))
                .col(big_integer("bucket_start_ms"))
                .col(string("studio"))
                .col(string("tool"))
                .col(string("model_id"))
                .col(non_negative("events"))
                .col(non_negative("outputs"))
                .col(non_negative("credits"))
                .take(),
            Table::create().table("settings").col(string("key").primary_key()).col(text("value")).take(),
        ];
        for table in tables {
            manager.create_table(table).await?;
        }

        let indexes = [
            // Spending order and wallet: the live lots of one account.
            index("credit_lots", "credit_lots_account_expiry", &["account_id", "remaining", "expires_at_ms"]),
            index("subscriptions", "subscriptions_account", &["account_id", "id"]),
            index("reservations", "reservations_account_status", &["account_id", "status", "expires_at_ms"]),
            index("reservations", "reservations_open_expiry", &["status", "expires_at_ms"]),
            // Usage history: newest first per account, keyset on (time, id).
            index("usage_events", "usage_events_account_time", &["account_id", "created_at_ms", "id"]),
            index("usage_events", "usage_events_account_studio_time", &["account_id", "studio", "created_at_ms", "id"]),
            index("ledger_entries", "ledger_entries_account", &["account_id", "id"]),
            // The platform view: every account's rollups by time.
            index("usage_rollups", "usage_rollups_platform", &["bucket_ms", "bucket_start_ms"]),
            index("ledger_entries", "ledger_entries_lot", &["lot_id"]),
            index("ledger_entries", "ledger_entries_usage_event", &["usage_event_id"]),
            index("ledger_entries", "ledger_entries_reservation", &["reservation_id"]),
            index("prices", "prices_tool_model", &["tool_code", "model_id"]),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        let unique = [
            index("idempotency_records", "idempotency_records_key", &["account_id", "idempotency_key"]),
            index(
                "usage_rollups",
                "usage_rollups_bucket",
                &["account_id", "bucket_ms", "bucket_start_ms", "studio", "tool", "model_id"],
            ),
            index("option_multipliers", "option_multipliers_value", &["studio", "name", "value"]),
        ];
        for mut index in unique {
            manager.create_index(index.unique().take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "settings",
            "usage_rollups",
            "idempotency_records",
            "ledger_entries",
            "usage_events",
            "reservations",
            "credit_lots",
            "token_packs",
            "option_multipliers",
            "prices",
            "models",
            "tools",
            "studios",
            "subscriptions",
            "plans",
            "accounts",
        ] {
            manager.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}
