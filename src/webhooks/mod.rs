//! Webhooks (DESIGN.md section 6): the Standard Webhooks signature, endpoint
//! secrets sealed at rest, and the worker that delivers the outbox's events.
pub mod secrets;
pub mod signature;
pub mod worker;

mod post;

pub use secrets::{SecretKey, Secrets};
pub use worker::{Worker, WorkerOptions};
