//! What a receiver gets: the events it asks for, signed, in the body the
//! specification gives; replays; secrets sealed at rest.
use credits::config::WebhookOptions;
use credits::webhooks::SecretKey;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use super::{DELIVERY, ERRORS, Receiver, WAIT, create_endpoint, endpoint_to, subscribe, the_event};
use crate::support::TestApp;

#[tokio::test]
async fn endpoints_get_the_events_they_ask_for_signed_and_disabled_ones_get_none() {
    let app = TestApp::start().await;
    let (all, purchases, disabled) = (Receiver::start().await, Receiver::start().await, Receiver::start().await);
    endpoint_to(&app, &all, None).await;
    endpoint_to(&app, &purchases, Some(&["tokens.purchased"])).await;
    let off = endpoint_to(&app, &disabled, None).await;
    let update = "mutation($id: ID!) { updateWebhookEndpoint(input: { id: $id, enabled: false }) { errors { code } } }";
    assert_eq!(app.as_admin(update, json!({ "id": off })).await["updateWebhookEndpoint"]["errors"], json!([]));

    subscribe(&app, "buyer").await;
    let bought = app.purchase("buyer", "tokens-500", "pay-tokens", "buy-1").await;
    assert_eq!(bought["errors"], json!([]), "{bought:#}");
    let started = the_event(&app, "subscription.started").await;
    let purchased = the_event(&app, "tokens.purchased").await;

    let got = purchases.wait_for(1, WAIT).await;
    assert_eq!(got.len(), 1, "only tokens.purchased: {got:#?}");
    let request = &got[0];
    assert!(request.verified, "{request:#?}");
    assert_eq!(request.content_type, "application/json");
    assert_eq!(request.webhook_id, purchased["id"].as_str().unwrap());
    assert!(request.webhook_id.starts_with("evt_"));
    let body = request.json();
    assert_eq!((&body["type"], &body["data"]), (&json!("tokens.purchased"), &purchased["data"]));
    let instant = |value: &serde_json::Value| value.as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert_eq!(instant(&body["timestamp"]), instant(&purchased["createdAt"]), "the event's time, RFC 3339");
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    assert_eq!(body["data"]["accountId"], "buyer");
    assert_eq!(body["data"]["tokens"], 500);
    assert!(request.body.starts_with(r#"{"type":"tokens.purchased","timestamp":""#), "{}", request.body);

    // The all-types endpoint gets both (and whatever else subscribing wrote).
    let all_events = super::events(&app, &[]).await;
    let got = all.wait_for(all_events.len(), WAIT).await;
    assert!(got.iter().all(|r| r.verified));
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|r| r.webhook_id.as_str()).collect();
    assert!(ids.contains(started["id"].as_str().unwrap()) && ids.contains(purchased["id"].as_str().unwrap()));
    assert_eq!(ids.len(), got.len(), "each event once");

    // The disabled endpoint has no delivery at all (deliveries are made at fan-out).
    for event in super::events(&app, &[]).await {
        let endpoints: Vec<&str> =
            event["deliveries"].as_array().unwrap().iter().map(|d| d["endpoint"]["id"].as_str().unwrap()).collect();
        assert!(!endpoints.contains(&off.as_str()), "{event:#}");
    }
    assert!(disabled.received().is_empty());
}

#[tokio::test]
async fn replay_sends_the_event_again_with_its_id_and_body() {
    let app = TestApp::start().await;
    let (first, second) = (Receiver::start().await, Receiver::start().await);
    let first_id = endpoint_to(&app, &first, Some(&["subscription.started"])).await;
    subscribe(&app, "replayed").await;
    let original = first.wait_for(1, WAIT).await[0].clone();
    let event = the_event(&app, "subscription.started").await;
    // An endpoint made after the event gets it only by a replay.
    endpoint_to(&app, &second, Some(&["subscription.started"])).await;

    let replay = format!(
        "mutation($input: ReplayEventInput!) {{ replayEvent(input: $input) {{
            event {{ id type }} deliveries {{ {DELIVERY} }} errors {{ {ERRORS} }} }} }}"
    );
    let to_first = app.as_admin(&replay, json!({ "input": { "eventId": event["id"], "endpointId": first_id } })).await;
    let payload = &to_first["replayEvent"];
    assert_eq!(payload["errors"], json!([]), "{payload:#}");
    assert_eq!(payload["event"]["id"], event["id"]);
    assert_eq!(payload["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(payload["deliveries"][0]["status"], "PENDING");
    let again = first.wait_for(2, WAIT).await[1].clone();
    assert_eq!((&again.webhook_id, &again.body), (&original.webhook_id, &original.body));
    assert!(again.verified);

    let to_all = app.as_admin(&replay, json!({ "input": { "eventId": event["id"] } })).await;
    assert_eq!(to_all["replayEvent"]["deliveries"].as_array().unwrap().len(), 2, "{to_all:#}");
    assert_eq!(first.wait_for(3, WAIT).await[2].body, original.body);
    assert_eq!(second.wait_for(1, WAIT).await[0].webhook_id, original.webhook_id);
    let deliveries = the_event(&app, "subscription.started").await["deliveries"].clone();
    assert_eq!(deliveries.as_array().unwrap().len(), 4, "{deliveries:#}");

    for (input, code) in [
        (json!({ "eventId": "evt_999999" }), "NOT_FOUND"),
        (json!({ "eventId": "not-an-id" }), "NOT_FOUND"),
        (json!({ "eventId": event["id"], "endpointId": "424242" }), "NOT_FOUND"),
        (json!({ "eventId": "x\u{1}" }), "INVALID_INPUT"),
    ] {
        let refused = app.as_admin(&replay, json!({ "input": input })).await;
        assert_eq!(refused["replayEvent"]["errors"][0]["code"], code, "{input}");
        assert!(refused["replayEvent"]["deliveries"].is_null());
    }
}

#[tokio::test]
async fn secrets_are_sealed_at_rest_when_a_key_is_configured() {
    let key = SecretKey::parse(&"5a".repeat(32)).unwrap();
    let app = TestApp::start_with_webhooks(WebhookOptions { secret_key: Some(key), ..WebhookOptions::default() }).await;
    let receiver = Receiver::start().await;
    let created = create_endpoint(&app, &receiver.url, None).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    receiver.trust(&secret);
    let db = app.app.store.writer_for_tests();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), "SELECT secret FROM webhook_endpoints"))
        .await
        .unwrap()
        .unwrap();
    let stored: String = row.try_get("", "secret").unwrap();
    assert!(stored.starts_with("sealed:v1:"), "{stored}");
    let encoded = secret.trim_start_matches("whsec_");
    assert!(!stored.contains(encoded) && !stored.contains(&secret), "{stored}");
    // The worker opens it to sign.
    subscribe(&app, "sealed").await;
    let got = receiver.wait_for(1, WAIT).await;
    assert!(got.iter().all(|r| r.verified), "{got:#?}");
}
