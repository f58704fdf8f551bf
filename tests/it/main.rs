//! Integration tests through the public GraphQL API. One test crate with
//! modules, so it links once. Every test runs on SQLite, and on PostgreSQL
//! when `CREDITS_TEST_POSTGRES_URL` is set; the few that need PostgreSQL are
//! `#[ignore]`d and run with `--include-ignored`.
mod support;

mod auth;
mod browser;
mod catalog;
mod catalog_admin;
mod concurrency;
mod defaults;
mod demo;
mod events;
mod faults;
mod fuzz;
mod holds;
mod hostile;
mod idempotency;
mod integers;
mod ledger;
mod live;
mod migrations;
mod model;
mod operations;
mod pages;
mod pagination;
mod partitions;
mod processes;
mod protocol;
mod proxy;
mod refund_causes;
mod refunds;
mod rollover;
mod schema;
mod spend_limits;
mod spending;
mod strings;
mod subscriptions;
mod usage;
mod wallet;
mod webhooks;
