//! The events phase of issue 18: each account's low-balance threshold sits
//! four credits under its balance, so that of five charges of one credit
//! the fifth takes the balance below it (`balance.low`), and a grant of the
//! five brings it back (`balance.recovered`): one charge in five writes an
//! event, and so does each grant. Run first with no webhook endpoint, then
//! with one registered whose receiver, a local HTTP server in this process,
//! takes every event; the receiver times each delivery from the event's
//! commit (its `timestamp`) to its arrival.
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post as route_post;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use futures_util::FutureExt;

use crate::http::{Call, Outcome, Step, client, clients as clients_run, post, user_error};
use crate::stats::Phase;
use crate::{BoxError, Target};

const THRESHOLD: &str = "mutation($input: SetLowBalanceThresholdInput!) {
  setLowBalanceThreshold(input: $input) { wallet { balance } errors { code } }
}";
const CONSUME: &str = "mutation($input: ConsumeCreditsInput!) {
  consumeCredits(input: $input) { usageEvent { id } errors { code } }
}";
const GRANT: &str =
    "mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { lot { id } errors { code } } }";
const ENDPOINT: &str = "mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } secret errors { code message } }
}";

/// Charges of one credit in a cycle before the grant that brings them back.
const CHARGES_A_CYCLE: u64 = 5;

/// Sets each account's threshold `CHARGES_A_CYCLE - 1` under its balance,
/// so that the cycle's last charge crosses it and its grant crosses back.
pub async fn prepare(base_url: &str, token: &str, accounts: &[String]) -> Result<(), BoxError> {
    let (client, url) = (client()?, format!("{base_url}/graphql"));
    for account in accounts {
        let wallet = post(
            &client,
            &url,
            token,
            "query($id: ID!) { account(id: $id) { wallet { balance } } }",
            json!({ "id": account }),
        )
        .await;
        let Outcome::Done(body) = wallet else { return Err(format!("reading {account}").into()) };
        let balance = body.pointer("/data/account/wallet/balance").and_then(Value::as_i64).ok_or("no balance")?;
        let input = json!({ "accountId": account, "threshold": balance - (CHARGES_A_CYCLE as i64 - 1) });
        match post(&client, &url, token, THRESHOLD, json!({ "input": input })).await {
            Outcome::Done(body) if user_error(&body, "setLowBalanceThreshold").is_none() => {}
            _ => return Err(format!("setting the threshold of {account}").into()),
        }
    }
    Ok(())
}

/// Cycles of charges and a grant from `target.clients` tasks, each on
/// accounts of its own (so that cycles never interleave on one account);
/// the phase's figure is charges per second. Counts in `written` the events
/// the server wrote.
pub async fn drive(
    name: &str,
    base_url: &str,
    token: &str,
    target: &Target,
    server_pid: u32,
    written: Arc<AtomicUsize>,
) -> Result<Phase, BoxError> {
    let (accounts, clients) = (target.accounts.clone(), target.clients);
    let step: Step = Arc::new(move |call: Call| {
        let written = written.clone();
        // Task t takes accounts t, t + clients, t + 2 clients, ...
        let own = accounts.len().div_ceil(clients).max(1);
        let (cycle, position) = ((call.n - 1) / (CHARGES_A_CYCLE + 1), (call.n - 1) % (CHARGES_A_CYCLE + 1));
        let account = accounts[(call.task + clients * (cycle as usize % own)) % accounts.len()].clone();
        async move {
            let sent = Instant::now();
            if position < CHARGES_A_CYCLE {
                let charge = json!({
                    "accountId": account,
                    "generation": { "tool": "background-removal", "count": 1 },
                    "idempotencyKey": call.key,
                });
                let charged = match post(&call.client, &call.url, &call.token, CONSUME, json!({ "input": charge })).await {
                    Outcome::Done(body) => user_error(&body, "consumeCredits").map_or(Ok(Some(sent.elapsed())), Err),
                    Outcome::Failed(code) => Err(code),
                };
                if charged.is_ok() && position == CHARGES_A_CYCLE - 1 {
                    written.fetch_add(1, Ordering::Relaxed);
                }
                return charged;
            }
            let credits = CHARGES_A_CYCLE as i64;
            let grant = json!({ "accountId": account, "credits": credits, "reason": "events phase", "idempotencyKey": call.key });
            match post(&call.client, &call.url, &call.token, GRANT, json!({ "input": grant })).await {
                Outcome::Done(body) if user_error(&body, "grantCredits").is_none() => {
                    written.fetch_add(1, Ordering::Relaxed);
                    Ok(None)
                }
                _ => Err("grant failed".into()),
            }
        }
        .boxed()
    });
    clients_run(name, base_url, token, target, server_pid, step).await
}

/// A local webhook receiver: answers 204 to every POST and keeps, for each,
/// the time from the event's commit to its arrival.
pub struct Receiver {
    pub url: String,
    latencies_ms: Arc<Mutex<Vec<f64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Result<Receiver, BoxError> {
        let latencies_ms = Arc::new(Mutex::new(Vec::new()));
        let kept = latencies_ms.clone();
        let app = Router::new().route(
            "/hook",
            route_post(move |body: String| {
                let kept = kept.clone();
                async move {
                    let sent = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|event| event["timestamp"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok()));
                    if let Some(sent) = sent {
                        let latency = (Utc::now() - sent).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0;
                        kept.lock().unwrap_or_else(|e| e.into_inner()).push(latency);
                    }
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Receiver { url, latencies_ms, task })
    }

    pub fn received(&self) -> usize {
        self.latencies_ms.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Waits (bounded) until `expected` deliveries arrived; then the
    /// 50th and 99th percentile of commit-to-delivery, in ms.
    pub async fn settle(&self, expected: usize, within: Duration) -> (usize, f64, f64) {
        let until = Instant::now() + within;
        while self.received() < expected && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut latencies = self.latencies_ms.lock().unwrap_or_else(|e| e.into_inner()).clone();
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
            latencies.get(index).copied().unwrap_or(f64::NAN)
        };
        (latencies.len(), at(0.5), at(0.99))
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Registers the receiver as an endpoint for every event type.
pub async fn register(base_url: &str, token: &str, receiver: &Receiver) -> Result<(), BoxError> {
    let input = json!({ "url": receiver.url });
    match post(&client()?, &format!("{base_url}/graphql"), token, ENDPOINT, json!({ "input": input })).await {
        Outcome::Done(body) if user_error(&body, "createWebhookEndpoint").is_none() => Ok(()),
        Outcome::Done(body) => Err(format!("creating the endpoint: {body}").into()),
        Outcome::Failed(code) => Err(format!("creating the endpoint: {code}").into()),
    }
}
