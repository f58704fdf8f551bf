//! The wallet: daily free credits, expiry, grants, the low-balance flag.
use chrono::Duration;
use credits::domain::money::Credits;
use credits::domain::rules::Rules;
use serde_json::json;

use crate::support::{TestApp, error_code, image, start_time};

#[tokio::test]
async fn daily_free_credits_reset_at_the_day_boundary_and_never_accumulate() {
    let app = TestApp::start().await;
    let wallet = app.wallet("d").await;
    assert_eq!((wallet["dailyFree"].clone(), wallet["balance"].clone()), (json!(50), json!(50)));
    assert_eq!(wallet["dailyFreeResetsAt"], "2026-03-11T00:00:00+00:00");
    app.consume("d", image(2), "c1").await;
    // Later the same day: nothing new.
    app.advance(Duration::hours(11));
    assert_eq!(app.wallet("d").await["dailyFree"], 44);
    // 23:59:59 is still the same day; midnight is a new one.
    app.clock.set(start_time() + Duration::hours(12) - Duration::seconds(1));
    assert_eq!(app.wallet("d").await["dailyFree"], 44);
    app.clock.set(start_time() + Duration::hours(12));
    let wallet = app.wallet("d").await;
    assert_eq!((wallet["dailyFree"].clone(), wallet["balance"].clone()), (json!(50), json!(50)));
    assert_eq!(wallet["dailyFreeResetsAt"], "2026-03-12T00:00:00+00:00");
    // Days without access grant nothing for the days missed.
    app.advance(Duration::days(5));
    assert_eq!(app.balance("d").await, 50);
    let ledger = app.ledger("d").await;
    let grants = ledger.iter().filter(|e| e["kind"] == "DAILY_GRANT").count();
    let expiries: Vec<i64> =
        ledger.iter().filter(|e| e["kind"] == "EXPIRE").map(|e| e["amount"].as_i64().unwrap()).collect();
    assert_eq!(grants, 3);
    assert_eq!(expiries, vec![-50, -44], "newest first: each day's unused credits expired when noticed");
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn the_day_boundary_follows_the_configured_time_zone_and_amount() {
    let rules = Rules {
        daily_free_credits: Credits::new(30),
        day_time_zone: "Asia/Tokyo".parse().unwrap(),
        ..Rules::default()
    };
    let app = TestApp::start_with(rules).await;
    // 12:00 UTC is 21:00 in Tokyo: the day ends at 15:00 UTC.
    let wallet = app.wallet("tz").await;
    assert_eq!(
        (wallet["dailyFree"].clone(), wallet["dailyFreeResetsAt"].clone()),
        (json!(30), json!("2026-03-10T15:00:00+00:00"))
    );
    app.consume("tz", image(1), "c").await;
    app.advance(Duration::hours(3));
    assert_eq!(app.wallet("tz").await["dailyFree"], 30);
}

#[tokio::test]
async fn granted_credits_expire_when_their_time_comes() {
    let app = TestApp::start().await;
    let expires_at = (start_time() + Duration::days(2)).to_rfc3339();
    let granted = app
        .grant(
            "g",
            json!({ "credits": 100, "expiresAt": expires_at, "reason": "launch promo", "idempotencyKey": "g1" }),
        )
        .await;
    assert_eq!((granted["lot"]["source"].clone(), granted["lot"]["remaining"].clone()), (json!("PROMO"), json!(100)));
    assert_eq!(granted["wallet"]["promo"], 100);
    app.advance(Duration::days(2));
    let wallet = app.wallet("g").await;
    assert_eq!((wallet["promo"].clone(), wallet["balance"].clone()), (json!(0), json!(50)));
    let ledger = app.ledger("g").await;
    assert!(ledger.iter().any(|e| e["kind"] == "EXPIRE" && e["amount"] == -100), "{ledger:?}");
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn grants_with_bad_input_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let past = (start_time() - Duration::seconds(1)).to_rfc3339();
    let cases = [
        (json!({ "credits": 0, "reason": "r", "idempotencyKey": "a" }), "credits"),
        (json!({ "credits": -5, "reason": "r", "idempotencyKey": "b" }), "credits"),
        (json!({ "credits": 2_000_000_000i64, "reason": "r", "idempotencyKey": "c" }), "credits"),
        (json!({ "credits": 5, "reason": " ", "idempotencyKey": "d" }), "reason"),
        (json!({ "credits": 5, "expiresAt": past, "reason": "r", "idempotencyKey": "e" }), "expiresAt"),
    ];
    for (input, field) in cases {
        let payload = app.grant("v", input.clone()).await;
        assert_eq!(
            (error_code(&payload), payload["errors"][0]["field"].clone()),
            (json!("INVALID_INPUT"), json!(field)),
            "{input}"
        );
        assert_eq!(payload["lot"], serde_json::Value::Null);
    }
    assert_eq!(app.balance("v").await, 50);
}

#[tokio::test]
async fn low_balance_is_flagged_when_a_charge_crosses_the_threshold() {
    let app = TestApp::start().await; // threshold 20
    let first = app.consume("l", image(10), "c1").await; // 50 -> 20
    assert_eq!((first["lowBalance"].clone(), first["wallet"]["lowBalance"].clone()), (json!(false), json!(false)));
    let second = app.consume("l", image(1), "c2").await; // 20 -> 17
    assert_eq!((second["lowBalance"].clone(), second["wallet"]["lowBalance"].clone()), (json!(true), json!(true)));
    let third = app.consume("l", image(1), "c3").await; // 17 -> 14: already low, not a new crossing
    assert_eq!((third["lowBalance"].clone(), third["wallet"]["lowBalance"].clone()), (json!(false), json!(true)));
}
