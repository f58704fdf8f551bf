//! Configuration: flags, each with a `CREDITS_*` environment variable and a
//! default that runs on a fresh machine. `credits serve --help` lists them.
use std::net::SocketAddr;
use std::time::Duration;

use chrono_tz::Tz;
use clap::Args;

use crate::domain::money::Credits;
use crate::domain::rules::Rules;
use crate::store::DatabaseOptions;
use crate::webhooks::{SecretKey, WorkerOptions};

#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Database URL: an SQLite file (created on first start) or `postgres://user@host/db`.
    #[arg(long, env = "CREDITS_DATABASE_URL", default_value = "sqlite://credits.db?mode=rwc")]
    pub database_url: String,
    /// PostgreSQL schema to keep the tables in, instead of the user's default.
    #[arg(long, env = "CREDITS_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// Most connections open at once (SQLite: readers; writes use one connection).
    #[arg(long, env = "CREDITS_DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub database_max_connections: u32,
    /// Seconds a request waits for a database connection before it fails as unavailable.
    #[arg(long, env = "CREDITS_DATABASE_TIMEOUT_SECONDS", default_value_t = 2)]
    pub database_timeout_seconds: u64,
}

impl DatabaseArgs {
    pub fn options(&self) -> DatabaseOptions {
        DatabaseOptions {
            url: self.database_url.clone(),
            schema: self.database_schema.clone().filter(|schema| !schema.is_empty()),
            max_connections: self.database_max_connections,
            acquire_timeout: Duration::from_secs(self.database_timeout_seconds.max(1)),
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct AuthArgs {
    /// HS256 secret for bearer tokens. Without one, a secret is generated and kept in the database.
    #[arg(long, env = "CREDITS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

#[derive(Args, Clone, Debug)]
pub struct RulesArgs {
    /// Free credits granted to every account each day (0 turns them off).
    #[arg(long, env = "CREDITS_DAILY_FREE_CREDITS", default_value_t = 50, value_parser = clap::value_parser!(i64).range(0..=1_000_000))]
    pub daily_free_credits: i64,
    /// IANA time zone whose midnight starts a new day of free credits.
    #[arg(long, env = "CREDITS_DAY_TIME_ZONE", default_value = "UTC")]
    pub day_time_zone: Tz,
    /// `lowBalance` is shown below this many credits, unless an account sets its own threshold.
    #[arg(long, env = "CREDITS_LOW_BALANCE_THRESHOLD", default_value_t = 20, value_parser = clap::value_parser!(i64).range(0..=1_000_000_000))]
    pub low_balance_threshold: i64,
    /// Time limit of a hold when `reserveCredits` gives none, in seconds.
    #[arg(long, env = "CREDITS_HOLD_TTL_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(i64).range(10..=86_400))]
    pub hold_ttl_seconds: i64,
    /// Hours before a plan's or a promotion's credits expire that `credits.expiring` is sent.
    #[arg(long, env = "CREDITS_EXPIRY_NOTICE_HOURS", default_value_t = 72, value_parser = clap::value_parser!(i64).range(1..=8_760))]
    pub expiry_notice_hours: i64,
    /// Seconds a requested top-up waits for its payment before it expires.
    #[arg(long, env = "CREDITS_TOP_UP_TTL_SECONDS", default_value_t = 3_600, value_parser = clap::value_parser!(i64).range(60..=2_592_000))]
    pub top_up_ttl_seconds: i64,
    /// Checkout page of a top-up, `{topUpId}` replaced by its id (e.g. `https://pay.example/checkout?topup={topUpId}`).
    #[arg(long, env = "CREDITS_CHECKOUT_URL")]
    pub checkout_url: Option<String>,
}

impl RulesArgs {
    pub fn rules(&self) -> Rules {
        Rules {
            daily_free_credits: Credits::new(self.daily_free_credits),
            day_time_zone: self.day_time_zone,
            low_balance_threshold: Credits::new(self.low_balance_threshold),
            hold_ttl_seconds: self.hold_ttl_seconds,
            expiry_notice_hours: self.expiry_notice_hours,
            top_up_ttl_seconds: self.top_up_ttl_seconds,
            checkout_url: self.checkout_url.clone().filter(|url| !url.is_empty()),
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CREDITS_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    /// Largest request body (and WebSocket message) accepted, in bytes.
    #[arg(long, env = "CREDITS_BODY_LIMIT_BYTES", default_value_t = crate::app::BODY_LIMIT_BYTES_DEFAULT)]
    pub body_limit_bytes: usize,
    /// Seconds an HTTP request may run before it is answered 503 (its transaction, if any, rolls back or commits whole).
    #[arg(long, env = "CREDITS_REQUEST_TIMEOUT_SECONDS", default_value_t = crate::app::REQUEST_TIMEOUT_SECONDS_DEFAULT, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub request_timeout_seconds: u64,
    /// Address of a listener that serves only `/metrics`, to anyone who reaches it (Prometheus);
    /// unset, there is none, and the main listener serves `/metrics` to admins only.
    #[arg(long, env = "CREDITS_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "CREDITS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Seconds between two runs of the scheduler (period ends, expiries and their notices, hold and top-up time-outs).
    #[arg(long, env = "CREDITS_SCHEDULER_SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub scheduler_seconds: u64,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

#[derive(Args, Clone, Debug)]
pub struct WebhookArgs {
    /// Key that seals webhook endpoint secrets in the database: 32 bytes as 64 hex digits or base64
    /// (`openssl rand -hex 32`). Unset, secrets are stored as they are (see docs/events.md).
    #[arg(long, env = "CREDITS_SECRET_KEY", hide_env_values = true, value_parser = SecretKey::parse)]
    pub secret_key: Option<SecretKey>,
    /// Refuse webhook URLs whose host is localhost or a loopback, private or link-local address.
    #[arg(long, env = "CREDITS_WEBHOOK_DENY_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_deny_private: bool,
    /// Seconds a webhook receiver has to answer an attempt before it counts as failed.
    #[arg(long, env = "CREDITS_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub webhook_timeout_seconds: u64,
}

impl WebhookArgs {
    pub fn options(&self) -> WebhookOptions {
        WebhookOptions {
            secret_key: self.secret_key.clone(),
            deny_private: self.webhook_deny_private,
            worker: WorkerOptions {
                timeout: Duration::from_secs(self.webhook_timeout_seconds),
                ..WorkerOptions::default()
            },
        }
    }
}

/// How the server delivers webhooks and keeps their secrets.
#[derive(Clone, Debug, Default)]
pub struct WebhookOptions {
    pub secret_key: Option<SecretKey>,
    pub deny_private: bool,
    pub worker: WorkerOptions,
}
