//! Real server processes (the `credits` binary) on a test database, for
//! the tests that kill one or run two side by side.
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use credits::auth::{Auth, Role};
use credits::store::DatabaseOptions;
use serde_json::{Value, json};

use crate::support::SECRET;

pub struct ServerProcess {
    child: Child,
    pub base_url: String,
    client: reqwest::Client,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

pub fn token(role: Role, sub: &str) -> String {
    Auth::new(SECRET).issue(role, sub, None).expect("token")
}

impl ServerProcess {
    pub async fn start(database: &DatabaseOptions) -> ServerProcess {
        ServerProcess::start_with(database, &[]).await
    }

    /// A server process with more environment variables set.
    pub async fn start_with(database: &DatabaseOptions, env: &[(&str, &str)]) -> ServerProcess {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_credits"));
        command.envs(env.iter().copied());
        command
            .arg("serve")
            .env("CREDITS_DATABASE_URL", &database.url)
            .env("CREDITS_DATABASE_SCHEMA", database.schema.clone().unwrap_or_default())
            .env("CREDITS_LISTEN", format!("127.0.0.1:{port}"))
            .env("CREDITS_JWT_SECRET", SECRET)
            .env("CREDITS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("spawn credits");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let server = ServerProcess { child, base_url: format!("http://127.0.0.1:{port}"), client };
        // Bounded wait for the process to listen (it migrates first).
        for _ in 0..400 {
            if server.client.get(format!("{}/healthz", server.base_url)).send().await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the server process did not start");
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Ends the process at once, as a crash or an OOM kill would.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// `data` of a request, or None when the server did not answer.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Option<Value> {
        let response = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body.get("data").cloned().filter(|d| !d.is_null())
    }
}
