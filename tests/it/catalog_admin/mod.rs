//! The catalog and plans admins change live (DESIGN.md section 9): the
//! mutations and their validation, retirement, effective dates, the audit,
//! several processes, and the TOML export and import.
use credits::auth::Role;
use serde_json::{Value, json};

use crate::support::{ERRORS, TestApp};

mod effective;
mod import;
mod mutations;
mod processes;
mod retire;

pub const CHANGE_PAYLOAD: &str = "catalogVersion errors { code message field }";
pub const EVENT: &str = "id credits count unitPrice catalogVersion model { id name }";

/// Runs one catalog mutation (`name`) as an admin; returns its payload.
pub async fn change(app: &TestApp, name: &str, input: Value) -> Value {
    change_as(app, Role::Admin, name, input).await
}

pub async fn change_as(app: &TestApp, role: Role, name: &str, input: Value) -> Value {
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let query = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {CHANGE_PAYLOAD} }} }}");
    let response = app.graphql(Some(&app.token(role, "ops-alice")), &query, json!({ "input": input })).await;
    if response.get("errors").is_some() {
        return response;
    }
    response["data"][name].clone()
}

/// Sets a price as an admin and asserts it was taken; returns the version.
pub async fn set_price(app: &TestApp, tool: &str, model: Option<&str>, millicredits: i64, at: Option<&str>) -> i64 {
    let input = json!({ "tool": tool, "modelId": model, "millicreditsPerUnit": millicredits, "effectiveAt": at });
    let payload = change(app, "setPrice", input).await;
    assert_eq!(payload["errors"], json!([]), "{payload:#}");
    payload["catalogVersion"].as_i64().expect("a version")
}

pub async fn catalog_version(app: &TestApp) -> i64 {
    app.data(None, "{ catalogVersion }", json!({})).await["catalogVersion"].as_i64().expect("version")
}

/// The credits `quote` answers for `generation` (anonymous).
pub async fn quote(app: &TestApp, generation: Value) -> Value {
    let query = "query($input: GenerationInput!) { quote(input: $input) { credits } }";
    app.graphql(None, query, json!({ "input": generation })).await
}

pub async fn quoted_credits(app: &TestApp, generation: Value) -> i64 {
    let response = quote(app, generation).await;
    response["data"]["quote"]["credits"].as_i64().unwrap_or_else(|| panic!("a quote: {response:#}"))
}

/// Charges `generation` to `account` (a service); returns the payload with
/// the usage event's price and version.
pub async fn charge(app: &TestApp, account: &str, generation: Value, key: &str) -> Value {
    let query = format!(
        "mutation($input: ConsumeCreditsInput!) {{ consumeCredits(input: $input) {{
            usageEvent {{ {EVENT} }} errors {{ {ERRORS} }} }} }}"
    );
    let input = json!({ "accountId": account, "generation": generation, "idempotencyKey": key });
    app.as_service(&query, json!({ "input": input })).await["consumeCredits"].clone()
}

/// Grants `credits` promo credits (never expiring) so charges can run.
pub async fn fund(app: &TestApp, account: &str, credits: i64) {
    let granted = app
        .grant(account, json!({ "credits": credits, "reason": "test", "idempotencyKey": format!("fund-{account}") }))
        .await;
    assert_eq!(granted["errors"], json!([]), "{granted:#}");
}

/// The audit, newest first.
pub async fn changes(app: &TestApp) -> Vec<Value> {
    let query = "{ catalogChanges(first: 100) { edges { node { version createdAt actor change before after } } } }";
    let data = app.as_admin(query, json!({})).await;
    data["catalogChanges"]["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect()
}

/// Stops a background task when the test ends.
pub struct Running(pub tokio::task::JoinHandle<()>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.abort();
    }
}
