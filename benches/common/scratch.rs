//! Shared by the benchmarks: the database a run uses, chosen by the flags
//! `--database sqlite|postgres` and `--postgres-url URL`. SQLite lives in a
//! temporary directory; PostgreSQL gets a fresh schema, dropped at the end.
use std::time::Duration;

use chrono::Utc;
use credits::store::DatabaseOptions;
use sea_orm::{ConnectionTrait, Database};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which database, from the flags.
pub struct Choice {
    pub postgres: bool,
    pub postgres_url: String,
}

impl Default for Choice {
    fn default() -> Self {
        Choice { postgres: false, postgres_url: "postgres://postgres@127.0.0.1:5432/test".into() }
    }
}

impl Choice {
    /// Takes `--database` or `--postgres-url`; false for any other flag.
    pub fn take(&mut self, flag: &str, value: &str, usage: &str) -> Result<bool, String> {
        match flag {
            "--database" => {
                self.postgres = match value {
                    "sqlite" => false,
                    "postgres" | "postgresql" => true,
                    _ => return Err(format!("--database is sqlite or postgres\n{usage}")),
                }
            }
            "--postgres-url" => self.postgres_url = value.to_owned(),
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub fn name(&self) -> &'static str {
        if self.postgres { "PostgreSQL" } else { "SQLite" }
    }
}

/// A number flag's value; `_` may group digits.
pub fn number(flag: &str, value: &str) -> Result<u64, String> {
    value.replace('_', "").parse().map_err(|_| format!("{flag}: not a number"))
}

/// The parsed flags, or their error printed and exit code 2.
pub fn args_or_exit<A>(parsed: Result<A, String>) -> A {
    parsed.unwrap_or_else(|message| {
        eprintln!("{message}");
        std::process::exit(2);
    })
}

/// Where a run's data lives.
pub enum Scratch {
    /// Held for its drop, which removes the directory.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        url: String,
        schema: String,
    },
}

impl Scratch {
    /// A new, empty database; `name` prefixes the PostgreSQL schema.
    pub async fn create(
        choice: &Choice,
        name: &str,
        acquire_timeout: Duration,
    ) -> Result<(Scratch, DatabaseOptions), BoxError> {
        let (scratch, url, schema) = if choice.postgres {
            let schema = format!("{name}_{}_{}", std::process::id(), Utc::now().timestamp_millis());
            let db = Database::connect(&choice.postgres_url).await?;
            db.execute_unprepared(&format!("CREATE SCHEMA {schema}")).await?;
            db.close().await?;
            let scratch = Scratch::Postgres { url: choice.postgres_url.clone(), schema: schema.clone() };
            (scratch, choice.postgres_url.clone(), Some(schema))
        } else {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}/credits.db?mode=rwc", dir.path().display());
            (Scratch::Sqlite(dir), url, None)
        };
        // The server's defaults (`credits serve --help`) but for the timeout.
        let options = DatabaseOptions { url, schema, max_connections: 16, acquire_timeout };
        Ok((scratch, options))
    }

    /// `create`, or the error printed (as `bench`'s) and exit code 1.
    pub async fn create_or_exit(
        choice: &Choice,
        name: &str,
        acquire_timeout: Duration,
        bench: &str,
    ) -> (Scratch, DatabaseOptions) {
        Scratch::create(choice, name, acquire_timeout).await.unwrap_or_else(|error| {
            eprintln!("{bench} benchmark: cannot prepare the database: {error}");
            std::process::exit(1);
        })
    }

    /// Drops the PostgreSQL schema (the SQLite directory goes with `self`).
    pub async fn remove(self) -> Result<(), BoxError> {
        if let Scratch::Postgres { url, schema } = self {
            let db = Database::connect(&url).await?;
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await?;
            db.close().await?;
        }
        Ok(())
    }

    /// Leaves the database in place; says where it is (`usage --keep`).
    #[allow(dead_code)]
    pub fn keep(self) -> String {
        match self {
            Scratch::Sqlite(dir) => format!("{}/credits.db", dir.keep().display()),
            Scratch::Postgres { url, schema } => format!("schema {schema} of {url}"),
        }
    }
}
