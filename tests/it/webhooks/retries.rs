//! Retries: the same event, byte for byte, until a 2xx, on the schedule's
//! clock (advanced by the test, never slept through); FAILED after the last.
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::{Receiver, WAIT, endpoint_to, recorded, subscribe, wake};
use crate::support::TestApp;

const TYPE: &str = "subscription.started";

/// Moves the clock to the delivery's next attempt and wakes the worker.
fn to_next_attempt(app: &TestApp, delivery: &Value) -> Duration {
    let next: DateTime<Utc> = delivery["nextAttemptAt"].as_str().expect("a next attempt").parse().unwrap();
    let wait = next - app.clock.now();
    app.clock.set(next);
    wake(app);
    wait
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_the_same_event_four_times_then_it_succeeds() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.fail_next(3);
    endpoint_to(&app, &receiver, Some(&[TYPE])).await;
    subscribe(&app, "retried").await;
    let mut waits = Vec::new();
    for attempt in 1..=3 {
        let delivery = recorded(&app, TYPE, attempt).await;
        assert_eq!((&delivery["status"], &delivery["lastResponseStatus"]), (&json!("PENDING"), &json!(500)));
        waits.push(to_next_attempt(&app, &delivery));
    }
    assert!(waits[0] <= Duration::seconds(10), "first retry within 10 s: {waits:?}");
    assert!(waits[1] > waits[0] && waits[2] > waits[1], "growing delays: {waits:?}");
    let delivery = recorded(&app, TYPE, 4).await;
    assert_eq!(delivery["status"], "SUCCEEDED", "{delivery:#}");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["lastResponseStatus"], 204);
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
    assert!(delivery["deliveredAt"].is_string());

    let got = receiver.wait_for(4, WAIT).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.verified), "{got:#?}");
    assert!(got.iter().all(|r| r.webhook_id == got[0].webhook_id && r.body == got[0].body), "{got:#?}");
    let timestamps: Vec<i64> = got.iter().map(|r| r.timestamp.parse().unwrap()).collect();
    assert!(timestamps.windows(2).all(|w| w[1] > w[0]), "each attempt signs its own time: {timestamps:?}");

    let metrics = crate::operations::scrape(&app).await;
    for name in [
        "credits_webhook_deliveries_total{outcome=\"retried\"}",
        "credits_webhook_deliveries_total{outcome=\"succeeded\"}",
        "credits_webhook_delivery_latency_seconds_bucket",
        "credits_webhook_oldest_undelivered_event_age_seconds",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_failed_after_more_than_a_day() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    endpoint_to(&app, &receiver, Some(&[TYPE])).await;
    let started = app.clock.now();
    subscribe(&app, "unlucky").await;
    let mut attempt = 1;
    let delivery = loop {
        let delivery = recorded(&app, TYPE, attempt).await;
        if delivery["status"] != "PENDING" {
            break delivery;
        }
        to_next_attempt(&app, &delivery);
        attempt += 1;
    };
    assert_eq!(delivery["status"], "FAILED", "{delivery:#}");
    assert_eq!((&delivery["attempts"], &delivery["lastResponseStatus"]), (&json!(9), &json!(500)));
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
    assert!(app.clock.now() - started >= Duration::hours(24), "retried for {}", app.clock.now() - started);
    // Nothing more comes, however long one waits.
    app.advance(Duration::days(3));
    wake(&app);
    assert_eq!(recorded(&app, TYPE, 9).await["status"], "FAILED");
    assert_eq!(receiver.received().len(), 9);
}

#[tokio::test]
async fn deleting_an_endpoint_fails_its_pending_deliveries() {
    let app = TestApp::start().await;
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let id = endpoint_to(&app, &receiver, Some(&[TYPE])).await;
    subscribe(&app, "orphan").await;
    assert_eq!(recorded(&app, TYPE, 1).await["status"], "PENDING");
    let delete = "mutation($id: ID!) { deleteWebhookEndpoint(input: { id: $id }) { endpoint { id } errors { code } } }";
    assert_eq!(app.as_admin(delete, json!({ "id": id })).await["deleteWebhookEndpoint"]["errors"], json!([]));
    let delivery = recorded(&app, TYPE, 1).await;
    assert_eq!((&delivery["status"], &delivery["endpoint"]["id"]), (&json!("FAILED"), &json!(id)));
    app.advance(Duration::minutes(5));
    wake(&app);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "no attempt after the deletion");
}
