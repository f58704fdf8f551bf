//! `/export/usage.csv` through HTTP: the rows and credits of the usage
//! connection for the same filter, RFC 4180 quoting, roles.
use chrono::{Duration, Utc};
use credits::auth::Role;
use credits::domain::analytics::UsageFilter;
use credits::domain::usage::{UsageEvent, UsageStatus};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{charge_all, mixed_history, page};
use crate::support::{TestApp, image, start_time};

const HEADER: &str = "id,createdAt,studio,tool,model,count,units,credits,status,idempotencyKey,lotSplit";
/// An idempotency key that CSV must quote: a comma and a quote.
const AWKWARD_KEY: &str = "key, with a \"quote\"";

/// Status, headers and body of an export with these query parameters.
async fn export(
    app: &TestApp,
    token: Option<&str>,
    query: &[(&str, String)],
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new().get(format!("{}/export/usage.csv", app.base_url)).query(query);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("send");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.expect("a body"))
}

/// The records of a CSV body, the header row first.
fn records(body: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(body.as_bytes());
    reader.records().map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect()).collect()
}

/// An account's history of mixed generations, one with an idempotency key
/// CSV must quote, one refunded.
async fn history(app: &TestApp, account: &str) -> Vec<Value> {
    let mut events = charge_all(app, account, &mixed_history()).await;
    app.advance(Duration::hours(1));
    events.push(app.consume(account, image(1), AWKWARD_KEY).await["usageEvent"].clone());
    app.refund(&events[1]["id"]).await;
    events
}

#[tokio::test]
async fn the_export_has_the_rows_and_credits_of_the_usage_connection_for_each_filter() {
    let app = TestApp::start().await;
    history(&app, "x").await;
    let service = app.token(Role::Service, "s");
    let at = |d: i64| (start_time() + Duration::days(d)).to_rfc3339();
    let filters: [(Value, Vec<(&str, String)>); 6] = [
        (json!({}), vec![]),
        (json!({ "studios": ["IMAGE", "VOICE"] }), vec![("studios", "IMAGE,VOICE".into())]),
        (json!({ "tools": ["text-to-image"] }), vec![("tools", "text-to-image".into())]),
        (json!({ "modelIds": ["sdxl", "wan-2"] }), vec![("modelIds", "sdxl,wan-2".into())]),
        (json!({ "from": at(1), "to": at(9) }), vec![("from", at(1)), ("to", at(9))]),
        (json!({ "studios": ["IMAGE"], "from": at(2) }), vec![("studios", "IMAGE".into()), ("from", at(2))]),
    ];
    for (filter, mut query) in filters {
        query.push(("accountId", "x".into()));
        let (status, headers, body) = export(&app, Some(&service), &query).await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
        assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(body.lines().next(), Some(HEADER));
        let rows = records(&body);
        let page = page(&app, json!({ "id": "x", "first": 100, "filter": filter })).await;
        let edges = page["edges"].as_array().unwrap();
        let expected: Vec<(String, String, String)> = edges
            .iter()
            .map(|e| {
                let node = &e["node"];
                let id = node["id"].as_str().unwrap().to_owned();
                (id, node["credits"].to_string(), node["tool"].as_str().unwrap().to_owned())
            })
            .collect();
        let got: Vec<(String, String, String)> =
            rows[1..].iter().map(|r| (r[0].clone(), r[7].clone(), r[3].clone())).collect();
        assert_eq!(got, expected, "{filter}: newest first, as the connection");
        // Credits of the charged rows are the connection's total.
        let charged: i64 = rows[1..].iter().filter(|r| r[8] == "CHARGED").map(|r| r[7].parse::<i64>().unwrap()).sum();
        assert_eq!(json!(charged), page["totalCredits"], "{filter}");
    }
    let (_, _, body) = export(&app, Some(&service), &[("accountId", "x".into())]).await;
    let rows = records(&body);
    // The newest row: the awkward key, quoted as RFC 4180 says, read back whole.
    assert_eq!(rows[1][9], AWKWARD_KEY);
    assert!(body.contains("\"key, with a \"\"quote\"\"\""), "{body}");
    // Its lot split, `lot:credits` separated by `;`, adds up to its credits.
    let split: i64 = rows[1][10].split(';').map(|part| part.split_once(':').unwrap().1.parse::<i64>().unwrap()).sum();
    assert_eq!(split.to_string(), rows[1][7]);
    assert!(rows.iter().any(|r| r[8] == "REFUNDED"));
    assert!(rows[1..].iter().all(|r| r.len() == 11 && r[1].ends_with('Z')));
}

#[tokio::test]
async fn an_export_is_read_page_by_page_through_ties_in_time() {
    let app = TestApp::start().await;
    app.grant("p", json!({ "credits": 10_000, "reason": "pages", "idempotencyKey": "fund" })).await;
    let mut charged = Vec::new();
    for i in 0..11 {
        if i % 4 == 0 {
            app.advance(Duration::seconds(1));
        }
        charged.push(app.consume("p", image(1), &format!("p-{i}")).await["usageEvent"]["id"].clone());
    }
    let store = &app.app.store;
    let pages: Vec<_> = store.usage_export("p".into(), UsageFilter::default(), 3).collect().await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.as_ref().unwrap().len()).collect();
    assert_eq!(sizes, vec![3, 3, 3, 2]);
    let ids: Vec<String> = pages.into_iter().flat_map(|p| p.unwrap()).map(|e| e.id.to_string()).collect();
    let (_, _, body) = export(&app, Some(&app.token(Role::Service, "s")), &[("accountId", "p".into())]).await;
    let exported: Vec<String> = records(&body)[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, exported);
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| std::cmp::Reverse(id.parse::<i64>().unwrap()));
    assert_eq!(ids, sorted, "newest first, ties by id");

    // A page is read when it is asked for, not before: the oldest event,
    // refunded after the first page was read, is exported refunded.
    let mut reading = Box::pin(store.usage_export("p".into(), UsageFilter::default(), 3));
    let first = reading.next().await.unwrap().unwrap();
    assert!(first.iter().all(|e| e.status == UsageStatus::Charged));
    app.refund(&charged[0]).await;
    let rest: Vec<UsageEvent> = reading.map(|page| page.unwrap()).concat().await;
    assert_eq!((rest.len(), rest.last().unwrap().id.to_string()), (8, charged[0].as_str().unwrap().to_owned()));
    assert_eq!(rest.last().unwrap().status, UsageStatus::Refunded);
}

#[tokio::test]
async fn an_export_takes_the_bearer_token_and_roles_of_usage() {
    let app = TestApp::start().await;
    history(&app, "alice").await;
    charge_all(&app, "bob", &mixed_history()[..2]).await;
    let alice = app.token(Role::User, "alice");
    let own = export(&app, Some(&alice), &[]).await;
    assert_eq!(own.0, 200, "{}", own.2);
    assert_eq!(records(&own.2).len(), 9);
    let named = export(&app, Some(&alice), &[("accountId", "alice".into())]).await;
    assert_eq!(named.2, own.2);
    assert_eq!(export(&app, Some(&alice), &[("accountId", "bob".into())]).await.0, 403);
    let anonymous = export(&app, None, &[]).await;
    assert_eq!((anonymous.0, anonymous.1["www-authenticate"].to_str().unwrap()), (401, "Bearer"));
    assert_eq!(export(&app, Some("not-a-token"), &[]).await.0, 401);
    let admin = app.token(Role::Admin, "root");
    let bob = export(&app, Some(&admin), &[("accountId", "bob".into())]).await;
    assert_eq!((bob.0, records(&bob.2).len()), (200, 3));
    let yesterday = (Utc::now() - Duration::days(1)).to_rfc3339();
    let bad = [
        vec![],
        vec![("accountId", "bob".into()), ("from", "yesterday".into())],
        vec![("accountId", "bob".into()), ("studios", "PAINT".into())],
        vec![("accountId", "bob".into()), ("page", "2".into())],
        vec![("accountId", "bob".into()), ("from", yesterday.clone()), ("to", yesterday)],
    ];
    for query in bad {
        let (status, _, body) = export(&app, Some(&admin), &query).await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert!(body.contains("INVALID_INPUT"), "{body}");
    }
}
