//! Endpoints: created with a secret shown once, changed, rotated, deleted;
//! and what is refused.
use credits::auth::Role;
use credits::config::WebhookOptions;
use serde_json::{Value, json};

use super::{ENDPOINT, create_endpoint};
use crate::support::{ERRORS, TestApp, graphql_error_code};

async fn mutate(app: &TestApp, mutation: &str, input: Value) -> Value {
    let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
    let query = format!(
        "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{
            endpoint {{ {ENDPOINT} }} secret errors {{ {ERRORS} }} }} }}"
    );
    app.as_admin(&query, json!({ "input": input })).await[mutation].clone()
}

async fn listed(app: &TestApp) -> Value {
    app.as_admin(&format!("{{ webhookEndpoints {{ {ENDPOINT} }} }}"), json!({})).await["webhookEndpoints"].clone()
}

fn refusal(payload: &Value) -> (String, String) {
    let error = &payload["errors"][0];
    assert!(payload["endpoint"].is_null() && payload["secret"].is_null(), "{payload:#}");
    (error["code"].as_str().unwrap_or_default().into(), error["field"].as_str().unwrap_or_default().into())
}

#[tokio::test]
async fn endpoints_are_created_changed_rotated_and_deleted() {
    let app = TestApp::start().await;
    let created = create_endpoint(&app, "https://example.com/hooks", Some(&["tokens.purchased"])).await;
    assert_eq!(created["errors"], json!([]));
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");
    let endpoint = created["endpoint"].clone();
    assert_eq!(endpoint["url"], "https://example.com/hooks");
    assert_eq!(endpoint["eventTypes"], json!(["tokens.purchased"]));
    assert_eq!(endpoint["enabled"], true);
    assert_eq!(listed(&app).await, json!([endpoint.clone()]));
    let id = endpoint["id"].clone();

    let changed = mutate(
        &app,
        "updateWebhookEndpoint",
        json!({ "id": id, "url": "https://example.com/v2", "eventTypes": [], "enabled": false }),
    )
    .await;
    assert_eq!(changed["errors"], json!([]), "{changed:#}");
    assert_eq!(changed["secret"], Value::Null, "only create and rotate show a secret");
    assert_eq!(
        (&changed["endpoint"]["url"], &changed["endpoint"]["eventTypes"], &changed["endpoint"]["enabled"]),
        (&json!("https://example.com/v2"), &json!([]), &json!(false))
    );

    let rotated = mutate(&app, "rotateWebhookSecret", json!({ "id": id })).await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    let deleted = mutate(&app, "deleteWebhookEndpoint", json!({ "id": id })).await;
    assert_eq!(deleted["errors"], json!([]));
    assert_eq!(listed(&app).await, json!([]));
    let again = mutate(&app, "deleteWebhookEndpoint", json!({ "id": id })).await;
    assert_eq!(refusal(&again).0, "NOT_FOUND");
    let rotate_deleted = mutate(&app, "rotateWebhookSecret", json!({ "id": id })).await;
    assert_eq!(refusal(&rotate_deleted).0, "NOT_FOUND");
}

#[tokio::test]
async fn bad_urls_unknown_event_types_and_empty_updates_are_invalid_input() {
    let app = TestApp::start().await;
    for url in ["ftp://example.com/", "example.com/hook", "/hook", "", "http://", "javascript:alert(1)"] {
        let refused = create_endpoint(&app, url, None).await;
        assert_eq!(refusal(&refused), ("INVALID_INPUT".into(), "url".into()), "{url}");
    }
    let unknown = create_endpoint(&app, "https://example.com/", Some(&["tokens.purchased", "token.purchased"])).await;
    assert_eq!(refusal(&unknown), ("INVALID_INPUT".into(), "eventTypes".into()));
    assert!(unknown["errors"][0]["message"].as_str().unwrap().contains("token.purchased"));
    assert_eq!(listed(&app).await, json!([]), "nothing was created");

    let created = create_endpoint(&app, "http://127.0.0.1:9/hook", None).await;
    assert_eq!(created["errors"], json!([]), "loopback is fine by default");
    let id = created["endpoint"]["id"].clone();
    let cases = [
        (json!({ "id": id }), "input"),
        (json!({ "id": id, "url": "http://127.0.0.1:9/hook", "enabled": true }), "input"),
        (json!({ "id": id, "url": "gopher://x/" }), "url"),
        (json!({ "id": id, "eventTypes": ["nope"] }), "eventTypes"),
        (json!({ "id": "x\u{0}" }), "id"),
    ];
    for (input, field) in cases {
        let refused = mutate(&app, "updateWebhookEndpoint", input.clone()).await;
        assert_eq!(refusal(&refused), ("INVALID_INPUT".into(), field.into()), "{input}");
    }
    let missing = mutate(&app, "updateWebhookEndpoint", json!({ "id": "999", "enabled": false })).await;
    assert_eq!(refusal(&missing).0, "NOT_FOUND");
    assert_eq!(listed(&app).await[0]["url"], "http://127.0.0.1:9/hook", "unchanged");
}

#[tokio::test]
async fn deny_private_refuses_this_machine_and_its_network() {
    let app = TestApp::start_with_webhooks(WebhookOptions { deny_private: true, ..WebhookOptions::default() }).await;
    for url in
        ["http://127.0.0.1:8080/", "http://localhost/", "http://10.0.0.7/", "http://[::1]/", "http://169.254.169.254/"]
    {
        let refused = create_endpoint(&app, url, None).await;
        assert_eq!(refusal(&refused), ("INVALID_INPUT".into(), "url".into()), "{url}");
    }
    assert_eq!(create_endpoint(&app, "https://example.com/", None).await["errors"], json!([]));
}

#[tokio::test]
async fn only_admins_manage_endpoints_and_read_the_event_log() {
    let app = TestApp::start().await;
    for role in [Role::Service, Role::User] {
        let token = app.token(role, "someone");
        for query in [
            "{ webhookEndpoints { id } }",
            "{ events { edges { node { id } } } }",
            "mutation { createWebhookEndpoint(input: { url: \"https://example.com/\" }) { secret } }",
            "mutation { replayEvent(input: { eventId: \"evt_1\" }) { errors { code } } }",
        ] {
            let response = app.graphql(Some(&token), query, json!({})).await;
            assert_eq!(graphql_error_code(&response), "FORBIDDEN", "{role:?} {query}");
        }
    }
}
