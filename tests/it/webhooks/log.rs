//! The event log: admins read every account's, filtered and paged newest
//! first; an account's user and services read its own.
use chrono::Duration;
use credits::auth::Role;
use serde_json::{Value, json};

use super::subscribe;
use crate::support::{TestApp, graphql_error_code};

const PAGE: &str = "pageInfo { hasNextPage endCursor } edges { node { id type accountId sequence createdAt data } }";

fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"].as_array().unwrap().iter().map(|edge| edge["node"].clone()).collect()
}

#[tokio::test]
async fn admins_filter_and_page_the_log_newest_first() {
    let app = TestApp::start().await;
    subscribe(&app, "ann").await;
    app.advance(Duration::minutes(1));
    let middle = app.clock.now();
    subscribe(&app, "bob").await;
    app.advance(Duration::minutes(1));
    let bought = app.purchase("bob", "tokens-500", "pay-bob", "bob-1").await;
    assert_eq!(bought["errors"], json!([]));

    let query = format!(
        "query($first: Int, $after: String, $filter: EventFilter) {{ events(first: $first, after: $after, filter: $filter) {{ {PAGE} }} }}"
    );
    let all = nodes(&app.as_admin(&query, json!({ "first": 100 })).await["events"]);
    let ids: Vec<i64> = all.iter().map(|e| e["id"].as_str().unwrap()[4..].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(all[0]["type"], "tokens.purchased");
    assert_eq!(all[0]["data"]["accountId"], "bob");

    // Pages of one, following the cursor, give the same events.
    let (mut paged, mut after) = (Vec::new(), Value::Null);
    loop {
        let page = app.as_admin(&query, json!({ "first": 1, "after": after })).await["events"].clone();
        paged.extend(nodes(&page));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, all);

    let filter = |filter: Value| {
        let query = query.clone();
        let app = &app;
        async move { nodes(&app.as_admin(&query, json!({ "first": 100, "filter": filter })).await["events"]) }
    };
    let bobs = filter(json!({ "accountId": "bob" })).await;
    assert!(!bobs.is_empty() && bobs.iter().all(|e| e["accountId"] == "bob"));
    let sequences: Vec<i64> = bobs.iter().rev().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>(), "gapless per account");
    let started = filter(json!({ "types": ["subscription.started"] })).await;
    assert_eq!(started.iter().map(|e| e["accountId"].as_str().unwrap()).collect::<Vec<_>>(), ["bob", "ann"]);
    let before_middle = filter(json!({ "to": middle })).await;
    assert!(before_middle.iter().all(|e| e["accountId"] == "ann"), "{before_middle:#?}");
    let since_middle = filter(json!({ "from": middle, "types": ["subscription.started"] })).await;
    assert_eq!(since_middle.len(), 1);
    assert_eq!(filter(json!({ "types": ["no.such.type"] })).await, Vec::<Value>::new());

    // A cursor of one filter is refused under another.
    let first = app.as_admin(&query, json!({ "first": 1 })).await["events"]["pageInfo"]["endCursor"].clone();
    let variables = json!({ "first": 1, "after": first, "filter": { "accountId": "ann" } });
    let response = app.graphql(Some(&app.token(Role::Admin, "admin")), &query, variables).await;
    assert_eq!(graphql_error_code(&response), "INVALID_INPUT");
}

#[tokio::test]
async fn an_account_reads_its_own_events_only() {
    let app = TestApp::start().await;
    subscribe(&app, "carol").await;
    subscribe(&app, "dave").await;
    let own = format!("{{ viewer {{ events(first: 50) {{ {PAGE} }} }} }}");
    let carol = app.data(Some(&app.token(Role::User, "carol")), &own, json!({})).await;
    let events = nodes(&carol["viewer"]["events"]);
    assert!(events.iter().any(|e| e["type"] == "subscription.started"));
    assert!(events.iter().all(|e| e["accountId"] == "carol"), "{events:#?}");

    // The filter cannot widen an account's log to another account.
    let widened = format!("{{ viewer {{ events(filter: {{ accountId: \"dave\" }}) {{ {PAGE} }} }} }}");
    let carol = app.data(Some(&app.token(Role::User, "carol")), &widened, json!({})).await;
    assert!(nodes(&carol["viewer"]["events"]).iter().all(|e| e["accountId"] == "carol"));

    let by_service = format!("{{ account(id: \"dave\") {{ events {{ {PAGE} }} }} }}");
    let dave = nodes(&app.as_service(&by_service, json!({})).await["account"]["events"]);
    assert!(!dave.is_empty() && dave.iter().all(|e| e["accountId"] == "dave"));

    // Deliveries name the platform's endpoints: admins only.
    let deliveries = "{ viewer { events { edges { node { deliveries { status } } } } } }";
    let response = app.graphql(Some(&app.token(Role::User, "carol")), deliveries, json!({})).await;
    assert_eq!(graphql_error_code(&response), "FORBIDDEN");
}
