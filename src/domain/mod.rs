//! The rules of money (DESIGN.md, section 1) as pure functions and types:
//! nothing here knows GraphQL, HTTP or the database.
pub mod analytics;
pub mod carry_over;
pub mod catalog;
pub mod error;
pub mod events;
pub mod holds;
pub mod ledger;
pub mod lots;
pub mod money;
pub mod periods;
pub mod pricing;
pub mod quote;
pub mod refunds;
pub mod rules;
pub mod series;
pub mod settle;
pub mod spend_limits;
pub mod subscription;
pub mod text;
pub mod top_ups;
pub mod usage;
pub mod wallet;
pub mod webhooks;
