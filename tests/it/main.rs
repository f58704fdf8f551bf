//! Integration tests through the public GraphQL API. One test crate with
//! modules, so it links once. Every test runs on SQLite, and on PostgreSQL
//! when `CREDITS_TEST_POSTGRES_URL` is set.
mod support;

mod auth;
mod catalog;
mod model;
mod schema;
