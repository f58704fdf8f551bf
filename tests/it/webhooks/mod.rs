//! Events and webhooks (DESIGN.md section 6), through the public API and a
//! real receiver that checks every signature itself.
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ERRORS, TestApp};

mod delivery;
mod endpoints;
mod log;
mod processes;
mod receiver;
mod retries;

pub use receiver::Receiver;

/// How long a test waits for the worker to do what it was woken for.
pub const WAIT: Duration = Duration::from_secs(15);

pub const ENDPOINT: &str = "id url eventTypes enabled createdAt";
pub const DELIVERY: &str = "status attempts lastResponseStatus nextAttemptAt deliveredAt endpoint { id url }";

/// `createWebhookEndpoint`'s payload.
pub async fn create_endpoint(app: &TestApp, url: &str, event_types: Option<&[&str]>) -> Value {
    let query = format!(
        "mutation($input: CreateWebhookEndpointInput!) {{ createWebhookEndpoint(input: $input) {{
            endpoint {{ {ENDPOINT} }} secret errors {{ {ERRORS} }} }} }}"
    );
    let input = json!({ "url": url, "eventTypes": event_types });
    app.as_admin(&query, json!({ "input": input })).await["createWebhookEndpoint"].clone()
}

/// An endpoint to `receiver`, whose secret the receiver trusts; its id.
pub async fn endpoint_to(app: &TestApp, receiver: &Receiver, event_types: Option<&[&str]>) -> String {
    let created = create_endpoint(app, &receiver.url, event_types).await;
    assert_eq!(created["errors"], json!([]), "{created:#}");
    receiver.trust(created["secret"].as_str().expect("a secret"));
    created["endpoint"]["id"].as_str().expect("an id").to_owned()
}

/// The events of `types`, newest first, with their deliveries.
pub async fn events(app: &TestApp, types: &[&str]) -> Vec<Value> {
    let query = format!(
        "query($filter: EventFilter) {{ events(first: 100, filter: $filter) {{ edges {{ node {{
            id type accountId sequence createdAt data deliveries {{ {DELIVERY} }} }} }} }} }}"
    );
    let data = app.as_admin(&query, json!({ "filter": { "types": types } })).await;
    data["events"]["edges"].as_array().expect("edges").iter().map(|edge| edge["node"].clone()).collect()
}

/// The one event of `event_type`.
pub async fn the_event(app: &TestApp, event_type: &str) -> Value {
    let found = events(app, &[event_type]).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    found[0].clone()
}

/// Wakes the worker, as a commit that wrote events does.
pub fn wake(app: &TestApp) {
    app.app.store.outbox_signal().notify_one();
}

/// The event's only delivery once its attempt `attempts` is recorded (not
/// just claimed): no longer pending, or its next attempt set in the future.
pub async fn recorded(app: &TestApp, event_type: &str, attempts: i64) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = the_event(app, event_type).await;
        let delivery = event["deliveries"][0].clone();
        let next = delivery["nextAttemptAt"].as_str().map(|at| at.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
        let settled = delivery["status"] != "PENDING" || next.is_some_and(|next| next > app.clock.now());
        if delivery["attempts"] == attempts && settled {
            return delivery;
        }
        assert!(tokio::time::Instant::now() < deadline, "attempt {attempts} was not recorded: {event:#}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An account that subscribes: one `subscription.started` event.
pub async fn subscribe(app: &TestApp, account: &str) {
    let subscribed = app.subscribe(account, "STARTER", &format!("pay-{account}")).await;
    assert_eq!(subscribed["errors"], json!([]), "{subscribed:#}");
}
