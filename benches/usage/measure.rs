//! The timed requests: GraphQL over HTTP as a dashboard sends them, and the
//! same reads straight on the store, to tell SQL time from the rest.
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use credits::domain::analytics::{Dimension, GroupBy, Period, UsageFilter};
use credits::domain::series::SeriesRequest;
use credits::store::Store;
use credits::store::analytics::Scope;
use credits::store::keyset::{Direction, KeysetRead};
use serde_json::{Value, json};

use crate::BoxError;

pub const PAGE_SIZE: u64 = 20;

pub const PAGE_QUERY: &str = "query($id: ID!, $first: Int, $after: String, $filter: UsageFilter) {
  account(id: $id) { usage(first: $first, after: $after, filter: $filter) {
    edges { cursor node { id createdAt studio tool credits model { id } } }
    pageInfo { hasNextPage endCursor } } } }";

pub const TOTALS_QUERY: &str = "query($id: ID!, $filter: UsageFilter) {
  account(id: $id) { usage(first: 0, filter: $filter) { totalCount totalCredits } } }";

pub const SUMMARY_QUERY: &str = "query($id: ID!, $filter: UsageFilter, $timeZone: String) {
  account(id: $id) { usageSummary(filter: $filter, groupBy: [DAY, MODEL], timeZone: $timeZone) {
    periodStart model { id } generations outputs credits } } }";

/// A chart's series: 12 months of days by model, the top 8 then `other`.
pub const SERIES_QUERY: &str = "query($id: ID!, $filter: UsageFilter) {
  account(id: $id) { usageSeries(filter: $filter, interval: DAY, by: MODEL, top: 8) {
    periods generations outputs credits
    series { key label other model { id } generations outputs credits totalCredits } } } }";

pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    token: String,
}

impl Client {
    pub fn new(base_url: &str, token: String) -> Client {
        Client { http: reqwest::Client::new(), endpoint: format!("{base_url}/graphql"), token }
    }

    /// `data` of a request that must succeed, and the time from sending it to
    /// having the whole response body (the client's JSON work is not timed).
    pub async fn send(&self, query: &str, variables: &Value) -> Result<(Duration, Value), BoxError> {
        let (elapsed, body) = self.time(query, variables).await?;
        let mut value: Value = serde_json::from_slice(&body)?;
        Ok((elapsed, value["data"].take()))
    }

    /// The time from sending a request that must succeed to having the whole
    /// response body, and the body. The body is checked for errors without
    /// building its JSON tree: the server runs in this process, and a tree
    /// of 5,475 buckets built and freed between two timed requests would
    /// load the allocator that the server's next response uses.
    pub async fn time(&self, query: &str, variables: &Value) -> Result<(Duration, axum::body::Bytes), BoxError> {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": variables }))?;
        let request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        let envelope: Envelope = serde_json::from_slice(&body)?;
        if !status.is_success() || envelope.errors.is_some() {
            return Err(format!("GraphQL request failed ({status}): {}", String::from_utf8_lossy(&body)).into());
        }
        Ok((elapsed, body))
    }
}

/// What a response is checked for; the rest is skipped unread.
#[derive(serde::Deserialize)]
struct Envelope {
    errors: Option<serde::de::IgnoredAny>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Page,
    Totals,
    Summary,
    Series,
}

/// The store call a request comes down to.
pub enum StoreCall {
    Page { after: Option<(i64, i64)> },
    Totals,
    Summary { time_zone: Tz },
    Series,
}

pub struct Case {
    pub name: String,
    pub kind: Kind,
    pub account: String,
    pub filter: UsageFilter,
    pub query: &'static str,
    pub variables: Value,
    pub store: StoreCall,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub median: Duration,
    pub p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let n = samples.len();
    if n == 0 {
        return Stats::default();
    }
    let median = if n % 2 == 1 { samples[n / 2] } else { (samples[n / 2 - 1] + samples[n / 2]) / 2 };
    // Nearest rank: the smallest sample at or above 99% of them.
    let p99 = samples[(n * 99).div_ceil(100).max(1) - 1];
    Stats { median, p99 }
}

pub struct Measured {
    pub case: Case,
    pub http: Stats,
    pub store: Stats,
    /// Bytes of the last response (the summary's size tells much).
    pub response_bytes: usize,
    /// SQL statements the server ran per request.
    pub statements: f64,
}

/// Times `iterations` requests after `warmup` untimed ones, then the same on the store.
pub async fn measure(
    client: &Client,
    store: &Store,
    now: DateTime<Utc>,
    case: Case,
    iterations: usize,
    warmup: usize,
) -> Result<Measured, BoxError> {
    let mut samples = Vec::with_capacity(iterations);
    let mut last = axum::body::Bytes::new();
    let before = store.statements_executed();
    for i in 0..warmup + iterations {
        let (elapsed, body) = client.time(case.query, &case.variables).await?;
        if i >= warmup {
            samples.push(elapsed);
        }
        last = body;
    }
    let http = stats(samples);
    let statements = (store.statements_executed() - before) as f64 / (warmup + iterations) as f64;
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..warmup + iterations {
        let started = Instant::now();
        store_call(store, &case, now).await?;
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    let mut last: Value = serde_json::from_slice(&last)?;
    let response_bytes = serde_json::to_vec(&last["data"].take())?.len();
    Ok(Measured { case, http, store: stats(samples), response_bytes, statements })
}

async fn store_call(store: &Store, case: &Case, now: DateTime<Utc>) -> Result<(), BoxError> {
    let scope = Scope::Account(&case.account);
    match case.store {
        StoreCall::Page { after } => {
            // As a page after a cursor reads it: the cursor's row, the page, one more.
            let read = KeysetRead {
                direction: Direction::Forward,
                from: after,
                limit: PAGE_SIZE + 1 + u64::from(after.is_some()),
            };
            store.usage_page(&case.account, &case.filter, read).await?;
        }
        StoreCall::Totals => drop(store.usage_totals(scope, &case.filter, now).await?),
        StoreCall::Summary { time_zone } => {
            let group = GroupBy::new(&[Dimension::Day, Dimension::Model]).map_err(|e| format!("{e:?}"))?;
            store.usage_summary(scope, &case.filter, group, time_zone, now).await?;
        }
        StoreCall::Series => {
            let request =
                SeriesRequest::new(Period::Day, Some(Dimension::Model), 8, Tz::UTC).map_err(|e| format!("{e:?}"))?;
            store.usage_series(scope, &case.filter, &request, now).await?;
        }
    }
    Ok(())
}

/// The `endCursor` after walking `pages` pages (untimed), to time the next one.
pub async fn walk(client: &Client, account: &str, filter: &Value, pages: usize) -> Result<String, BoxError> {
    let mut after = Value::Null;
    for page in 1..=pages {
        let variables = json!({ "id": account, "first": PAGE_SIZE, "after": after, "filter": filter });
        let (_, data) = client.send(PAGE_QUERY, &variables).await?;
        let info = &data["account"]["usage"]["pageInfo"];
        if info["hasNextPage"] != json!(true) {
            return Err(format!("{account} has only {page} pages of usage under {filter}").into());
        }
        after = info["endCursor"].clone();
    }
    after.as_str().map(str::to_owned).ok_or_else(|| "no endCursor".into())
}

/// The keyset position in a usage cursor (`usage:<filter>.<ms>.<id>`, base64).
pub fn position(cursor: &str) -> Result<(i64, i64), BoxError> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor)?)?;
    let mut parts = text.rsplitn(3, '.');
    let id = parts.next().ok_or("cursor without id")?.parse()?;
    let at = parts.next().ok_or("cursor without time")?.parse()?;
    Ok((at, id))
}
