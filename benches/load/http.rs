//! Through the API: the accounts' grants (not timed) and `consumeCredits`
//! from concurrent clients, each with its own keep-alive connection.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::{Value, json};

use crate::stats::{CpuMeter, Phase, Tally};
use crate::{BoxError, Target};

const GRANT: &str = "mutation($input: GrantCreditsInput!) {
  grantCredits(input: $input) { lot { id } errors { code message } }
}";

const SET_SPEND_LIMIT: &str = "mutation($input: SetSpendLimitInput!) {
  setSpendLimit(input: $input) { errors { code message } }
}";

const CONSUME: &str = "mutation($input: ConsumeCreditsInput!) {
  consumeCredits(input: $input) { usageEvent { id credits } wallet { balance } errors { code } }
}";

pub fn client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .build()?)
}

/// How one GraphQL request over HTTP ended.
pub enum Outcome {
    Done(Value),
    Failed(String),
}

pub async fn post(client: &reqwest::Client, url: &str, token: &str, query: &str, variables: Value) -> Outcome {
    let response = client.post(url).bearer_auth(token).json(&json!({ "query": query, "variables": variables })).send();
    let response = match response.await {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(transport(&error)),
    };
    let status = response.status();
    let body: Value = match response.json().await {
        Ok(body) => body,
        Err(error) if status.is_success() => return Outcome::Failed(transport(&error)),
        Err(_) => return Outcome::Failed(format!("HTTP {}", status.as_u16())),
    };
    if let Some(error) = body.get("errors").and_then(|e| e.get(0)) {
        let code = error.pointer("/extensions/code").and_then(Value::as_str).unwrap_or("NO_CODE");
        return Outcome::Failed(format!("graphql {code}"));
    }
    if !status.is_success() {
        return Outcome::Failed(format!("HTTP {}", status.as_u16()));
    }
    Outcome::Done(body)
}

fn transport(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_decode() {
        "decode"
    } else {
        "other"
    };
    format!("transport {kind}")
}

/// The user error of a payload (`data.<field>.errors[0].code`), if any.
pub fn user_error(body: &Value, field: &str) -> Option<String> {
    let code = body.pointer(&format!("/data/{field}/errors/0/code"))?.as_str()?;
    Some(format!("user {code}"))
}

/// Grants `credits` to each account, from `clients` concurrent clients.
pub async fn grant_all(
    base_url: &str,
    token: &str,
    accounts: Arc<Vec<String>>,
    credits: i64,
    clients: usize,
) -> Result<(), BoxError> {
    let input = move |account: &str| {
        json!({
            "accountId": account,
            "credits": credits,
            "reason": "load benchmark",
            "idempotencyKey": format!("load-grant-{account}"),
        })
    };
    mutate_all(base_url, token, accounts, clients, (GRANT, "grantCredits"), input).await
}

/// Sets (`on`) or clears a daily and a per-generation spend limit on each
/// account, both far above what a run spends: every charge is counted and
/// checked, none refused.
pub async fn limit_all(
    base_url: &str,
    token: &str,
    accounts: Arc<Vec<String>>,
    clients: usize,
    on: bool,
) -> Result<(), BoxError> {
    let (daily, per_generation) =
        if on { (json!(1_000_000_000), json!(1_000_000)) } else { (Value::Null, Value::Null) };
    let input = move |account: &str| json!({ "accountId": account, "daily": daily, "perGeneration": per_generation });
    mutate_all(base_url, token, accounts, clients, (SET_SPEND_LIMIT, "setSpendLimit"), input).await
}

/// Runs `mutation` (its text and field) once per account with the input
/// `input` makes, from `clients` concurrent clients; the first error stops it.
async fn mutate_all(
    base_url: &str,
    token: &str,
    accounts: Arc<Vec<String>>,
    clients: usize,
    mutation: (&'static str, &'static str),
    input: impl Fn(&str) -> Value + Clone + Send + 'static,
) -> Result<(), BoxError> {
    let url = format!("{base_url}/graphql");
    let next = Arc::new(AtomicUsize::new(0));
    let (query, field) = mutation;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, token, accounts, next, input) =
            (url.clone(), token.to_owned(), accounts.clone(), next.clone(), input.clone());
        let client = client()?;
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(account) = accounts.get(index) else { return Ok(()) };
                match post(&client, &url, &token, query, json!({ "input": input(account) })).await {
                    Outcome::Done(body) => {
                        if let Some(code) = user_error(&body, field) {
                            return Err(format!("{field} for {account}: {code}"));
                        }
                    }
                    Outcome::Failed(code) => return Err(format!("{field} for {account}: {code}")),
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// One request of a client task: its connection, the endpoint, the token,
/// the task's index and a key unique to this request.
pub struct Call {
    pub client: reqwest::Client,
    pub url: String,
    pub token: String,
    pub task: usize,
    pub n: u64,
    pub key: String,
}

/// What a phase does once: the latency of what it measures (None: done,
/// but not what the phase counts), or the code it failed with.
pub type Step = Arc<dyn Fn(Call) -> BoxFuture<'static, Result<Option<Duration>, String>> + Send + Sync>;

/// Runs `step` from `target.clients` tasks, each with its own keep-alive
/// connection, for `target.duration`.
pub async fn clients(
    name: &str,
    base_url: &str,
    token: &str,
    target: &Target,
    server_pid: u32,
    step: Step,
) -> Result<Phase, BoxError> {
    let url = format!("{base_url}/graphql");
    let meter = CpuMeter::start(Some(server_pid));
    let started = Instant::now();
    let deadline = started + target.duration;
    let mut tasks = Vec::new();
    for task in 0..target.clients {
        let (url, token, client, step) = (url.clone(), token.to_owned(), client()?, step.clone());
        let prefix = format!("{}-{name}-{task}", target.run);
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let call = Call {
                    client: client.clone(),
                    url: url.clone(),
                    token: token.clone(),
                    task,
                    n,
                    key: format!("{prefix}-{n}"),
                };
                match step(call).await {
                    Ok(Some(latency)) => tally.committed(latency),
                    Ok(None) => {}
                    Err(code) => tally.failed(code),
                }
            }
            tally
        }));
    }
    Phase::gather(&format!("API, {name}"), started, tasks, meter).await
}

/// `consumeCredits` on accounts picked at random from `target.accounts`.
pub async fn drive(
    name: &str,
    base_url: &str,
    token: &str,
    target: &Target,
    server_pid: u32,
) -> Result<Phase, BoxError> {
    let accounts = target.accounts.clone();
    let step: Step = Arc::new(move |call: Call| {
        let account = accounts[rand::rng().random_range(0..accounts.len())].clone();
        async move {
            let input = json!({
                "accountId": account,
                "generation": { "tool": "background-removal", "count": 1 },
                "idempotencyKey": call.key,
            });
            let sent = Instant::now();
            match post(&call.client, &call.url, &call.token, CONSUME, json!({ "input": input })).await {
                Outcome::Done(body) => match user_error(&body, "consumeCredits") {
                    Some(code) => Err(code),
                    None if body.pointer("/data/consumeCredits/usageEvent/id").is_some_and(|id| !id.is_null()) => {
                        Ok(Some(sent.elapsed()))
                    }
                    None => Err("no usageEvent".into()),
                },
                Outcome::Failed(code) => Err(code),
            }
        }
        .boxed()
    });
    clients(name, base_url, token, target, server_pid, step).await
}
