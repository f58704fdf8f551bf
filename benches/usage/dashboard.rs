//! The dashboard's first view of the heavy account, as a browser asks for
//! it: the page, every file it names (gzipped, as a browser accepts them),
//! and the GraphQL requests the page sends before it shows the wallet, the
//! chart and the first page of generations. The documents are read from the
//! page's own `queries.js`, so the figures follow what the page sends.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::BoxError;
use crate::measure::Client;

const QUERIES: &str = include_str!("../../assets/pages/dashboard/queries.js");

pub struct FirstView {
    /// Median over the runs of the sum of every request's time.
    pub server_time: Duration,
    pub requests: usize,
    /// Bytes on the wire of the page and its files (bodies, compressed).
    pub page_bytes: u64,
    pub files: usize,
}

/// The `export const NAME = ...` strings of `queries.js`, each `${OTHER}`
/// filled with the constant it names (as the module's template literals are).
fn constants() -> Result<HashMap<String, String>, BoxError> {
    let mut values = HashMap::new();
    for declaration in QUERIES.split("export const ").skip(1) {
        let (name, rest) = declaration.split_once(" = ").ok_or("a constant without a value")?;
        let quote = rest.chars().next().ok_or("an empty constant")?;
        let body = &rest[1..];
        let end = body.find(quote).ok_or("an unterminated constant")?;
        let mut text = body[..end].to_owned();
        while let Some(start) = text.find("${") {
            let close = text[start..].find('}').ok_or("an unterminated ${")? + start;
            let value: &String = values.get(&text[start + 2..close]).ok_or("a constant used before it is declared")?;
            text.replace_range(start..=close, value);
        }
        values.insert(name.to_owned(), text);
    }
    Ok(values)
}

/// The page's `accountQuery` for an account opened by id (a service's view).
fn account_query(name: &str, definitions: &str, body: &str) -> String {
    let all = ["$accountId: ID!", definitions].into_iter().filter(|d| !d.is_empty()).collect::<Vec<_>>().join(", ");
    format!("query {name}({all}) {{ account: account(id: $accountId) {{ {body} }}  }}")
}

/// The GraphQL of the first view: the wallet (read at load and again when
/// the live subscription starts), the catalog, and the analytics of the
/// last 30 days by day and model with the first page of 20.
fn requests(account: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Vec<(String, Value)>, BoxError> {
    let c = constants()?;
    let get = |name: &str| c.get(name).cloned().ok_or_else(|| format!("queries.js has no {name}"));
    let overview = account_query("Overview", "", &get("OVERVIEW")?);
    let definitions = format!("{}, {}", get("SERIES_ARGUMENTS")?, get("USAGE_ARGUMENTS")?);
    let analytics = account_query("Analytics", &definitions, &get("ANALYTICS")?);
    let from = now - chrono::Duration::days(29);
    let filter = json!({ "from": crate::rfc3339(from), "to": crate::rfc3339(now + chrono::Duration::days(1)) });
    let variables = json!({ "accountId": account, "filter": filter, "interval": "DAY", "by": "MODEL",
        "timeZone": "UTC", "first": 20, "after": null, "last": null, "before": null });
    Ok(vec![
        (overview.clone(), json!({ "accountId": account })),
        (format!("query Catalog {{ {} }}", get("CATALOG")?), json!({})),
        (analytics, variables),
        (overview, json!({ "accountId": account })),
    ])
}

/// The `/assets/...` addresses a page names.
fn asset_addresses(html: &str) -> Vec<String> {
    html.split('"').filter(|part| part.starts_with("/assets/")).map(str::to_owned).collect()
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<(Duration, u64), BoxError> {
    let started = Instant::now();
    let response = http.get(url).header("Accept-Encoding", "gzip").send().await?.error_for_status()?;
    let bytes = response.bytes().await?.len() as u64;
    Ok((started.elapsed(), bytes))
}

pub async fn first_view(
    base_url: &str,
    client: &Client,
    account: &str,
    now: chrono::DateTime<chrono::Utc>,
    runs: usize,
) -> Result<FirstView, BoxError> {
    let http = reqwest::Client::new();
    let graphql = requests(account, now)?;
    let mut totals = Vec::with_capacity(runs);
    let (mut page_bytes, mut files) = (0, 0);
    for _ in 0..runs {
        let started = Instant::now();
        let html = http.get(format!("{base_url}/dashboard")).send().await?.error_for_status()?.text().await?;
        let mut total = started.elapsed();
        page_bytes = html.len() as u64;
        let addresses = asset_addresses(&html);
        files = addresses.len();
        for address in &addresses {
            let (elapsed, bytes) = fetch(&http, &format!("{base_url}{address}")).await?;
            total += elapsed;
            page_bytes += bytes;
        }
        for (query, variables) in &graphql {
            total += client.time(query, variables).await?.0;
        }
        totals.push(total);
    }
    totals.sort_unstable();
    Ok(FirstView { server_time: totals[totals.len() / 2], requests: 1 + files + graphql.len(), page_bytes, files })
}

pub fn print(account: &str, view: &FirstView) {
    println!(
        "dashboard first view of {account}: {} requests (page, {} files, {} GraphQL) in {:.1} ms of server time (median; target < 50 ms); \
         page and files {:.1} KB on the wire, gzipped (target < 400 KB)",
        view.requests,
        view.files,
        view.requests - 1 - view.files,
        view.server_time.as_secs_f64() * 1e3,
        view.page_bytes as f64 / 1e3,
    );
}
