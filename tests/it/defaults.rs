//! Input defaults as the contract writes them: nullable, with a default
//! (`count: Int = 1`, `atPeriodEnd: Boolean = true`, `proEligible: Boolean =
//! false`), so an omitted value and an explicit null both mean the default.
use serde_json::{Value, json};

use crate::support::{ERRORS, SUBSCRIPTION, TestApp};

/// `type { kind name }` and `defaultValue` of an input's field, by introspection.
async fn declared(app: &TestApp, input: &str, field: &str) -> (Value, Value) {
    let query =
        "query($name: String!) { __type(name: $name) { inputFields { name defaultValue type { kind name } } } }";
    let data = app.data(None, query, json!({ "name": input })).await;
    let fields = data["__type"]["inputFields"].as_array().expect("input fields");
    let found = fields.iter().find(|f| f["name"] == field).unwrap_or_else(|| panic!("{input}.{field}"));
    (found["type"].clone(), found["defaultValue"].clone())
}

#[tokio::test]
async fn the_schema_declares_the_defaults_as_nullable() {
    let app = TestApp::start().await;
    for (input, field, scalar, default) in [
        ("GenerationInput", "count", "Int", "1"),
        ("CancelSubscriptionInput", "atPeriodEnd", "Boolean", "true"),
        ("GrantCreditsInput", "proEligible", "Boolean", "false"),
    ] {
        assert_eq!(
            declared(&app, input, field).await,
            (json!({ "kind": "SCALAR", "name": scalar }), json!(default)),
            "{input}.{field}"
        );
    }
}

/// A standard image generation at sdxl's 3 credits per output, with `count` as given.
fn sdxl(count: Option<Value>) -> Value {
    let mut generation = json!({ "tool": "text-to-image", "modelId": "sdxl" });
    if let Some(count) = count {
        generation["count"] = count;
    }
    generation
}

#[tokio::test]
async fn count_omitted_or_null_is_one_output() {
    let app = TestApp::start().await;
    let quote = "query($input: GenerationInput!) { quote(input: $input) { credits } }";
    for (count, credits) in [(None, 3), (Some(Value::Null), 3), (Some(json!(2)), 6)] {
        let data = app.data(None, quote, json!({ "input": sdxl(count.clone()) })).await;
        assert_eq!(data["quote"]["credits"], credits, "count {count:?}");
    }
    let literal = app
        .data(
            None,
            "{ quote(input: { tool: \"text-to-image\", modelId: \"sdxl\", count: null }) { credits } }",
            json!({}),
        )
        .await;
    assert_eq!(literal["quote"]["credits"], 3, "a null literal in the document");

    let charged = app.consume("d", sdxl(Some(Value::Null)), "null-count").await;
    assert_eq!(
        (charged["usageEvent"]["count"].clone(), charged["usageEvent"]["credits"].clone()),
        (json!(1), json!(3))
    );
    // The same request, spelled without the null: a retry, not a conflict.
    let retried = app.consume("d", sdxl(None), "null-count").await;
    assert_eq!(
        (retried["errors"].clone(), retried["usageEvent"]["id"].clone()),
        (json!([]), charged["usageEvent"]["id"].clone())
    );
    let two = app.consume("d", sdxl(Some(json!(2))), "two").await;
    assert_eq!(two["usageEvent"]["count"], 2);
    assert_eq!(app.balance("d").await, 50 - 3 - 6);
}

async fn cancel(app: &TestApp, account: &str, at_period_end: Option<Value>) -> Value {
    let query = format!(
        "mutation($input: CancelSubscriptionInput!) {{ cancelSubscription(input: $input) {{
            subscription {{ {SUBSCRIPTION} }} errors {{ {ERRORS} }} }} }}"
    );
    let mut input = json!({ "accountId": account });
    if let Some(at_period_end) = at_period_end {
        input["atPeriodEnd"] = at_period_end;
    }
    app.as_service(&query, json!({ "input": input })).await["cancelSubscription"].clone()
}

#[tokio::test]
async fn at_period_end_omitted_or_null_cancels_at_the_end_of_the_period() {
    let app = TestApp::start().await;
    for (account, at_period_end, status, at_end) in [
        ("omitted", None, "ACTIVE", true),
        ("null", Some(Value::Null), "ACTIVE", true),
        ("now", Some(json!(false)), "CANCELED", false),
    ] {
        assert_eq!(app.subscribe(account, "STARTER", account).await["errors"], json!([]));
        let payload = cancel(&app, account, at_period_end).await;
        assert_eq!(payload["errors"], json!([]), "{account}");
        assert_eq!(
            (payload["subscription"]["status"].clone(), payload["subscription"]["cancelAtPeriodEnd"].clone()),
            (json!(status), json!(at_end)),
            "{account}"
        );
    }
}

#[tokio::test]
async fn pro_eligible_omitted_or_null_grants_credits_for_standard_models_only() {
    let app = TestApp::start().await;
    for (key, pro_eligible, granted_for_pro) in
        [("omitted", None, false), ("null", Some(Value::Null), false), ("pro", Some(json!(true)), true)]
    {
        let mut input = json!({ "credits": 100, "reason": "promotion", "idempotencyKey": key });
        if let Some(pro_eligible) = pro_eligible {
            input["proEligible"] = pro_eligible;
        }
        let payload = app.grant("g", input).await;
        assert_eq!(payload["errors"], json!([]), "{key}");
        assert_eq!(payload["lot"]["proEligible"], granted_for_pro, "{key}");
    }
}
