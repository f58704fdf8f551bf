//! Usage history and analytics through GraphQL: the usage connection here,
//! summaries and the platform view in `summaries`, chart series in `series`,
//! the CSV export in `export`.
mod export;
mod refunded;
mod series;
mod summaries;

use chrono::{DateTime, Duration, Utc};
use credits::auth::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, graphql_error_code, start_time};

/// A generation and the time it is charged at.
struct Charge {
    at: DateTime<Utc>,
    generation: Value,
    studio: &'static str,
    credits: i64,
}

fn charge(
    at: DateTime<Utc>,
    tool: &str,
    model: Option<&str>,
    studio: &'static str,
    credits: i64,
    extra: Value,
) -> Charge {
    let mut generation = json!({ "tool": tool, "modelId": model });
    for (key, value) in extra.as_object().unwrap() {
        generation[key] = value.clone();
    }
    Charge { at, generation, studio, credits }
}

/// Gives the account plenty of credits, then charges each generation at its time.
async fn charge_all(app: &TestApp, account: &str, charges: &[Charge]) -> Vec<Value> {
    app.grant(account, json!({ "credits": 1_000_000, "reason": "analytics", "idempotencyKey": "fund" })).await;
    let mut events = Vec::new();
    for (i, c) in charges.iter().enumerate() {
        app.clock.set(c.at);
        let payload = app.consume(account, c.generation.clone(), &format!("{account}-{i}")).await;
        assert_eq!(payload["usageEvent"]["credits"], c.credits, "{payload}");
        events.push(payload["usageEvent"].clone());
    }
    events
}

fn mixed_history() -> Vec<Charge> {
    let day = |d: i64, h: i64| start_time() + Duration::days(d) + Duration::hours(h);
    vec![
        charge(day(0, 0), "text-to-image", Some("sdxl"), "IMAGE", 6, json!({ "count": 2 })),
        charge(day(0, 1), "text-to-image", Some("flux-schnell"), "IMAGE", 2, json!({})),
        charge(day(1, 0), "text-to-video", Some("wan-2"), "VIDEO", 10, json!({ "durationSeconds": 5 })),
        charge(day(2, 3), "text-to-speech", Some("standard-tts"), "VOICE", 3, json!({ "characters": 1000 })),
        charge(day(2, 4), "upscale", None, "IMAGE", 4, json!({ "count": 2 })),
        charge(day(9, 0), "text-to-image", Some("sdxl"), "IMAGE", 3, json!({})),
        charge(day(40, 0), "text-to-video", Some("kling-1-6"), "VIDEO", 9, json!({ "durationSeconds": 3 })),
    ]
}

const PAGE: &str = "query($id: ID!, $first: Int, $after: String, $last: Int, $before: String, $filter: UsageFilter) {
  account(id: $id) { usage(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount totalCredits pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id credits studio tool model { id } } } } } }";

async fn page(app: &TestApp, variables: Value) -> Value {
    app.as_service(PAGE, variables).await["account"]["usage"].clone()
}

fn ids(page: &Value) -> Vec<i64> {
    page["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap()).collect()
}

#[tokio::test]
async fn pages_forwards_and_backwards_with_ties_in_time() {
    let app = TestApp::start().await;
    let tied = start_time() + Duration::hours(1);
    let mut charges: Vec<Charge> = (0..7).map(|_| charge(tied, "upscale", None, "IMAGE", 2, json!({}))).collect();
    charges.extend((1..=3).map(|h| charge(tied + Duration::hours(h), "upscale", None, "IMAGE", 2, json!({}))));
    let events = charge_all(&app, "p", &charges).await;
    let mut expected: Vec<i64> = events.iter().map(|e| e["id"].as_str().unwrap().parse().unwrap()).collect();
    expected.reverse(); // newest first: the later hours, then the tie by id, descending

    let mut seen = Vec::new();
    let mut variables = json!({ "id": "p", "first": 3 });
    let mut pages = Vec::new();
    loop {
        let page = page(&app, variables.clone()).await;
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(!seen.is_empty()));
        seen.extend(ids(&page));
        pages.push(page.clone());
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        variables["after"] = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);
    assert_eq!(pages.len(), 4);
    assert_eq!((pages[0]["totalCount"].clone(), pages[0]["totalCredits"].clone()), (json!(10), json!(20)));

    // Backwards from the end: the same events in the same order, page by page.
    let mut back = Vec::new();
    let mut variables = json!({ "id": "p", "last": 4 });
    loop {
        let page = page(&app, variables.clone()).await;
        assert_eq!(page["pageInfo"]["hasNextPage"], json!(!back.is_empty()));
        let mut page_ids = ids(&page);
        page_ids.extend(back);
        back = page_ids;
        if page["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        variables["before"] = page["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(back, expected);
}

#[tokio::test]
async fn filters_alone_and_combined_select_what_they_say_and_total_it() {
    let app = TestApp::start().await;
    let charges = mixed_history();
    charge_all(&app, "f", &charges).await;
    let at = |d: i64| (start_time() + Duration::days(d)).to_rfc3339();
    let filters = [
        json!({}),
        json!({ "studios": ["IMAGE"] }),
        json!({ "studios": ["VIDEO", "VOICE"] }),
        json!({ "tools": ["text-to-image"] }),
        json!({ "modelIds": ["sdxl", "wan-2"] }),
        json!({ "from": at(1), "to": at(9) }),
        json!({ "from": at(2) }),
        json!({ "to": at(1) }),
        json!({ "studios": ["IMAGE"], "from": at(1), "tools": ["upscale", "text-to-image"] }),
        json!({ "studios": ["IMAGE"], "modelIds": ["wan-2"] }),
    ];
    for filter in filters {
        let selected: Vec<&Charge> = charges.iter().filter(|c| matches(c, &filter)).collect();
        let page = page(&app, json!({ "id": "f", "first": 100, "filter": filter })).await;
        assert_eq!(page["edges"].as_array().unwrap().len(), selected.len(), "{filter}");
        assert_eq!(page["totalCount"], selected.len(), "{filter}");
        assert_eq!(page["totalCredits"], selected.iter().map(|c| c.credits).sum::<i64>(), "{filter}");
    }
}

fn matches(charge: &Charge, filter: &Value) -> bool {
    let listed = |key: &str, value: &Value| filter.get(key).is_none_or(|list| list.as_array().unwrap().contains(value));
    let time = |key: &str| {
        filter.get(key).map(|t| DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap().with_timezone(&Utc))
    };
    listed("studios", &json!(charge.studio))
        && listed("tools", &charge.generation["tool"])
        && listed("modelIds", &charge.generation["modelId"])
        && time("from").is_none_or(|from| charge.at >= from)
        && time("to").is_none_or(|to| charge.at < to)
}

#[tokio::test]
async fn cursors_of_another_filter_or_forged_ones_are_refused() {
    let app = TestApp::start().await;
    charge_all(&app, "c", &mixed_history()).await;
    let first = page(&app, json!({ "id": "c", "first": 2 })).await;
    let token = app.token(Role::Service, "s");
    let cases = [
        json!({ "id": "c", "first": 2, "after": first["pageInfo"]["endCursor"], "filter": { "studios": ["IMAGE"] } }),
        json!({ "id": "c", "first": 2, "after": "dXNhZ2U6eHh4LjEuMQ" }),
        json!({ "id": "c", "first": 2, "after": "%%%" }),
        json!({ "id": "c", "first": 2, "last": 2 }),
        json!({ "id": "c", "first": 101 }),
        json!({ "id": "c", "last": -1 }),
        json!({ "id": "c", "filter": { "from": start_time().to_rfc3339(), "to": start_time().to_rfc3339() } }),
    ];
    for variables in cases {
        let response = app.graphql(Some(&token), PAGE, variables.clone()).await;
        assert_eq!(graphql_error_code(&response), json!("INVALID_INPUT"), "{variables}: {response}");
    }
}

#[tokio::test]
async fn a_page_of_a_hundred_events_runs_a_bounded_number_of_statements() {
    let app = TestApp::start().await;
    let charges: Vec<Charge> = (0..100)
        .map(|i| {
            charge(
                start_time() + Duration::minutes(i),
                "text-to-image",
                Some(["sdxl", "flux-pro"][0]),
                "IMAGE",
                3,
                json!({}),
            )
        })
        .collect();
    charge_all(&app, "n", &charges).await;
    let query = "{ account(id: \"n\") { usage(first: 100) { totalCount totalCredits edges { node {
        id studio tool credits model { id name pro } lotSplit { credits lot { source expiresAt } } } } } } }";
    let before = app.app.store.statements_executed();
    let data = app.as_service(query, json!({})).await;
    let statements = app.app.store.statements_executed() - before;
    let edges = data["account"]["usage"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 100);
    assert_eq!(edges[0]["node"]["lotSplit"][0]["lot"]["source"], "PROMO");
    // The account, its lots, subscription and holds; the page; the totals;
    // the lots of every split in one batch. Not one per event.
    println!("statements for a page of 100: {statements}");
    assert!(statements <= 12, "{statements} statements for a page of 100");
}
