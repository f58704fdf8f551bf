//! Spend limits (DESIGN.md section 10), on the account's row, which every
//! charge and hold has locked and read already: checking a limit costs no
//! extra statement, and counting the day's spend one update of that row.
//!
//! - `spend_limit_*` are the limits the account's user set, `admin_spend_limit_*`
//!   an admin's, kept apart; the lower one applies.
//! - `spent_day` / `spent_credits`: the credits counted against the daily
//!   limit on that day (in the server's day zone), kept only while a daily
//!   limit applies (`spent_day` is null otherwise).
//! - `spend_limit_noticed_*`: the day the last `spend_limit.reached` event of
//!   each kind was written, so that it is sent once a day.
use sea_orm_migration::prelude::*;

use crate::columns::{add_columns, drop_columns};

// Every integer is BIGINT: the SQLite writer reads integers back as 64-bit.

#[derive(DeriveMigrationName)]
pub struct Migration;

const ACCOUNT_COLUMNS: [(&str, &str); 8] = [
    ("spend_limit_daily", "BIGINT NULL"),
    ("spend_limit_per_generation", "BIGINT NULL"),
    ("admin_spend_limit_daily", "BIGINT NULL"),
    ("admin_spend_limit_per_generation", "BIGINT NULL"),
    ("spent_day", "TEXT NULL"),
    ("spent_credits", "BIGINT NOT NULL DEFAULT 0"),
    ("spend_limit_noticed_daily", "TEXT NULL"),
    ("spend_limit_noticed_per_generation", "TEXT NULL"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "accounts", &ACCOUNT_COLUMNS).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "accounts", &ACCOUNT_COLUMNS).await
    }
}
