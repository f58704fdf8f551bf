//! `credits`: the credit economy of a generative-AI creative platform.
//!
//! Layers, outermost first: `app` (HTTP), `graphql` (thin resolvers),
//! `store` (transactions), `domain` (the rules, pure). See the README.
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod metrics;
pub mod serve;
pub mod store;
pub mod webhooks;
