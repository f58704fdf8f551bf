//! SeaORM entities: one module per table. The rules live in `credits::domain`;
//! these are only the rows.
pub mod accounts;
pub mod credit_lots;
pub mod idempotency_records;
pub mod ledger_entries;
pub mod models;
pub mod option_multipliers;
pub mod plans;
pub mod prices;
pub mod reservations;
pub mod settings;
pub mod studios;
pub mod subscriptions;
pub mod token_packs;
pub mod tools;
pub mod usage_events;
pub mod usage_rollups;
