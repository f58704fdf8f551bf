//! The `credits` command line.
use clap::{Parser, Subcommand};

use crate::auth::Role;
use crate::config::{AuthArgs, DatabaseArgs, RulesArgs, ServeArgs};
use crate::demo::DemoArgs;

#[derive(Parser, Debug)]
#[command(
    name = "credits",
    version,
    about = "The credit economy of a generative-AI creative platform, as a GraphQL API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs the server (the default).
    Serve(Box<ServeArgs>),
    /// Applies the database migrations and exits.
    Migrate(DatabaseArgs),
    /// Verifies that lots, holds and ledger agree for every account; exits 1 if not.
    Check(DatabaseArgs),
    /// Prints the GraphQL schema (SDL).
    Schema,
    /// Prints a bearer token signed with the configured (or stored) secret.
    Token(TokenArgs),
    /// Fills the database with months of realistic demo usage, then runs the ledger check.
    DemoData(DemoArgs),
    /// Reads the event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Moves the catalog and plans in and out as TOML (the seed file's format).
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Subcommand, Debug)]
pub enum CatalogCommand {
    /// Prints the whole catalog and plans as TOML.
    Export(ExportArgs),
    /// Applies a TOML file as one change, validated whole; prints what it changes.
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The version to print (default: the one in effect).
    #[arg(long)]
    pub version: Option<i64>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The TOML file.
    pub file: std::path::PathBuf,
    /// Only print what it would change.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Subcommand, Debug)]
pub enum EventsCommand {
    /// Prints events as they are written, one JSON line each, until interrupted.
    Tail(TailArgs),
}

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// Start with the oldest event instead of the next one written.
    #[arg(long)]
    pub from_start: bool,
    /// Only events of this type (repeatable).
    #[arg(long = "type")]
    pub types: Vec<String>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[arg(long, value_enum)]
    pub role: Role,
    /// The account id (`sub`).
    #[arg(long)]
    pub sub: String,
    /// Lifetime in seconds; without it the token does not expire.
    #[arg(long)]
    pub ttl: Option<u64>,
    /// Print a link that opens the dashboard signed in with the token,
    /// instead of the bare token.
    #[arg(long)]
    pub dashboard: bool,
    /// The server's address, for the dashboard link (the one `serve` listens on).
    #[arg(long, env = "CREDITS_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: String,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
}
