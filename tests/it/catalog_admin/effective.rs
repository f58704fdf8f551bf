//! Effective dates: a price takes effect at its instant; a charge and its
//! usage event keep the price they were charged at; a hold its reserved one.
use chrono::{Duration, SecondsFormat};
use serde_json::json;

use super::{EVENT, charge, fund, quoted_credits, set_price};
use crate::support::{TestApp, image, start_time};

/// The price of text-to-image with sdxl as the public catalog lists it.
async fn listed_price(app: &TestApp) -> i64 {
    let data = app.data(None, "{ studios { tools { code prices { modelId millicreditsPerUnit } } } }", json!({})).await;
    let tools = data["studios"][0]["tools"].as_array().unwrap();
    let tool = tools.iter().find(|t| t["code"] == "text-to-image").unwrap();
    let price = tool["prices"].as_array().unwrap().iter().find(|p| p["modelId"] == "sdxl").unwrap();
    price["millicreditsPerUnit"].as_i64().unwrap()
}

#[tokio::test]
async fn a_price_scheduled_for_tomorrow_takes_effect_at_its_instant() {
    let app = TestApp::start().await;
    fund(&app, "alice", 100).await;
    let tomorrow = start_time() + Duration::days(1);
    let at = tomorrow.to_rfc3339_opts(SecondsFormat::Millis, true);
    assert_eq!(set_price(&app, "text-to-image", Some("sdxl"), 5_000, Some(&at)).await, 2);
    assert_eq!(listed_price(&app).await, 3000, "the catalog lists the price in effect");

    assert_eq!(quoted_credits(&app, image(1)).await, 3, "not yet");
    app.advance(Duration::days(1) - Duration::milliseconds(1));
    assert_eq!(quoted_credits(&app, image(1)).await, 3, "a millisecond before");
    let before = charge(&app, "alice", image(1), "before").await["usageEvent"].clone();
    assert_eq!((before["credits"].clone(), before["unitPrice"].clone()), (json!(3), json!(3000)));
    assert_eq!(before["catalogVersion"], 2);

    app.advance(Duration::milliseconds(1));
    assert_eq!(quoted_credits(&app, image(1)).await, 5, "at its instant");
    let after = charge(&app, "alice", image(2), "after").await["usageEvent"].clone();
    assert_eq!((after["credits"].clone(), after["unitPrice"].clone()), (json!(10), json!(5000)));
    assert_eq!(after["catalogVersion"], 2, "the same version: the schedule was in it");
    assert_eq!(listed_price(&app).await, 5000);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_usage_event_keeps_its_price_after_the_price_changes() {
    let app = TestApp::start().await;
    fund(&app, "alice", 100).await;
    let first = charge(&app, "alice", image(1), "first").await["usageEvent"].clone();
    assert_eq!(set_price(&app, "text-to-image", Some("sdxl"), 7_250, None).await, 2);
    let second = charge(&app, "alice", image(1), "second").await["usageEvent"].clone();
    assert_eq!((second["credits"].clone(), second["unitPrice"].clone()), (json!(8), json!(7250)));
    assert_eq!(second["catalogVersion"], 2);

    let query =
        format!("query($id: ID!) {{ account(id: $id) {{ usage(first: 10) {{ edges {{ node {{ {EVENT} }} }} }} }} }}");
    let usage = app.as_service(&query, json!({ "id": "alice" })).await;
    let events: Vec<_> =
        usage["account"]["usage"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    assert_eq!(events[1]["id"], first["id"]);
    assert_eq!((events[1]["credits"].clone(), events[1]["unitPrice"].clone()), (json!(3), json!(3000)));
    assert_eq!(events[1]["catalogVersion"], 1);
    // A retry of the first charge answers the first event, at its price.
    let retried = charge(&app, "alice", image(1), "first").await["usageEvent"].clone();
    assert_eq!(retried, first);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_hold_is_captured_at_the_price_it_reserved_at() {
    let app = TestApp::start().await;
    fund(&app, "alice", 100).await;
    let hold = app.reserve("alice", image(2), "job-1", None).await;
    assert_eq!(hold["reservation"]["credits"], 6);
    set_price(&app, "text-to-image", Some("sdxl"), 9_000, None).await;
    super::change(&app, "retire", json!({ "kind": "MODEL", "id": "sdxl" })).await;
    let query = format!(
        "mutation($input: CaptureReservationInput!) {{ captureReservation(input: $input) {{
            usageEvent {{ {EVENT} }} errors {{ code }} }} }}"
    );
    let input = json!({ "reservationId": hold["reservation"]["id"] });
    let captured = app.as_service(&query, json!({ "input": input })).await["captureReservation"].clone();
    assert_eq!(captured["errors"], json!([]), "{captured:#}");
    let event = &captured["usageEvent"];
    assert_eq!((event["credits"].clone(), event["unitPrice"].clone()), (json!(6), json!(3000)));
    assert_eq!(event["catalogVersion"], 1);
    app.assert_ledger_clean().await;
}
