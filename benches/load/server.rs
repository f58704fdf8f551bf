//! The real `credits` binary as a separate process, and `credits check`.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use credits::store::DatabaseOptions;

use crate::BoxError;

pub struct Server {
    child: Child,
    pub base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16, BoxError> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn database_env(command: &mut Command, database: &DatabaseOptions) {
    command
        .env("CREDITS_DATABASE_URL", &database.url)
        .env("CREDITS_DATABASE_SCHEMA", database.schema.clone().unwrap_or_default())
        .env("CREDITS_LOG", "warn");
}

impl Server {
    /// Starts `credits serve` and waits (bounded) for `/healthz`.
    pub async fn start(database: &DatabaseOptions, secret: &str) -> Result<Server, BoxError> {
        let port = free_port()?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_credits"));
        command
            .arg("serve")
            .env("CREDITS_LISTEN", format!("127.0.0.1:{port}"))
            .env("CREDITS_JWT_SECRET", secret)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        database_env(&mut command, database);
        let child = command.spawn()?;
        let server = Server { child, base_url: format!("http://127.0.0.1:{port}") };
        let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let health = client.get(format!("{}/healthz", server.base_url)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err("the server did not answer /healthz within 60 s".into())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the server to shut down (SIGTERM), then kills it if it lingers.
    pub async fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        eprintln!("the server did not stop within 10 s of SIGTERM; killing it");
        // Drop kills and reaps.
    }
}

/// Runs `credits check` on the database: (clean, its last output line).
pub fn check(database: &DatabaseOptions) -> Result<(bool, String), BoxError> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_credits"));
    command.arg("check").arg("--database-url").arg(&database.url);
    if let Some(schema) = &database.schema {
        command.arg("--database-schema").arg(schema);
    }
    database_env(&mut command, database);
    let output = command.output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let last = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("").trim().to_owned();
    Ok((output.status.success(), last))
}
