//! Holds: reserve, capture (possibly less), release, time out.
use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, image, pro_image, start_time};

fn kinds(ledger: &[Value]) -> Vec<(String, i64)> {
    ledger.iter().map(|e| (e["kind"].as_str().unwrap().to_owned(), e["amount"].as_i64().unwrap())).collect()
}

#[tokio::test]
async fn reserve_then_capture_less_returns_the_rest_to_the_last_lots() {
    let app = TestApp::start().await;
    let in_ten_days = (start_time() + Duration::days(10)).to_rfc3339();
    app.grant("h", json!({ "credits": 100, "expiresAt": in_ten_days, "reason": "promo", "idempotencyKey": "g" })).await;
    let held = app.reserve("h", image(20), "gen-1", None).await; // 60: 50 daily + 10 promo
    assert_eq!(held["errors"], json!([]));
    let reservation = &held["reservation"];
    assert_eq!((reservation["credits"].clone(), reservation["status"].clone()), (json!(60), json!("OPEN")));
    assert_eq!(reservation["expiresAt"], "2026-03-10T12:15:00+00:00", "15 minutes by default");
    assert_eq!((held["wallet"]["balance"].clone(), held["wallet"]["held"].clone()), (json!(90), json!(60)));

    let captured = app.capture(&reservation["id"], Some(45)).await;
    assert_eq!(captured["errors"], json!([]));
    assert_eq!(
        (captured["usageEvent"]["credits"].clone(), captured["usageEvent"]["status"].clone()),
        (json!(45), json!("CHARGED"))
    );
    assert_eq!(captured["usageEvent"]["lotSplit"].as_array().unwrap().len(), 1, "45 all from the daily lot");
    let wallet = &captured["wallet"];
    assert_eq!(
        (wallet["balance"].clone(), wallet["held"].clone(), wallet["dailyFree"].clone()),
        (json!(105), json!(0), json!(5))
    );
    let ledger = app.ledger("h").await;
    assert_eq!(
        kinds(&ledger[..4]),
        vec![("RELEASE".into(), 10), ("RELEASE".into(), 5), ("HOLD".into(), -10), ("HOLD".into(), -50)]
    );
    // Capturing again for the same amount answers as the first time.
    let again = app.capture(&reservation["id"], Some(45)).await;
    assert_eq!(again["usageEvent"]["id"], captured["usageEvent"]["id"]);
    assert_eq!(error_code(&app.capture(&reservation["id"], Some(40)).await), json!("RESERVATION_CLOSED"));
    assert_eq!(error_code(&app.release(&reservation["id"]).await), json!("RESERVATION_CLOSED"));
    assert_eq!(app.balance("h").await, 105);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn reserve_then_release_gives_everything_back_once() {
    let app = TestApp::start().await;
    let held = app.reserve("r", image(5), "gen-1", None).await;
    let id = held["reservation"]["id"].clone();
    let released = app.release(&id).await;
    assert_eq!(released["reservation"]["status"], "RELEASED");
    assert_eq!((released["wallet"]["balance"].clone(), released["wallet"]["held"].clone()), (json!(50), json!(0)));
    let again = app.release(&id).await;
    assert_eq!((again["errors"].clone(), again["reservation"]["status"].clone()), (json!([]), json!("RELEASED")));
    assert_eq!(error_code(&app.capture(&id, None).await), json!("RESERVATION_CLOSED"));
    assert_eq!(app.balance("r").await, 50);
    assert_eq!(app.ledger("r").await.iter().filter(|e| e["kind"] == "RELEASE").count(), 1);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_hold_past_its_time_limit_releases_itself() {
    let app = TestApp::start().await;
    let held = app.reserve("t", image(5), "gen-1", Some(60)).await;
    let id = held["reservation"]["id"].clone();
    assert_eq!(held["reservation"]["expiresAt"], "2026-03-10T12:01:00+00:00");
    app.advance(Duration::seconds(59));
    assert_eq!(app.wallet("t").await["held"], 15);
    app.advance(Duration::seconds(1));
    let wallet = app.wallet("t").await;
    assert_eq!((wallet["held"].clone(), wallet["balance"].clone()), (json!(0), json!(50)));
    assert_eq!(error_code(&app.capture(&id, None).await), json!("RESERVATION_CLOSED"));
    let release = app.release(&id).await;
    assert_eq!((release["errors"].clone(), release["reservation"]["status"].clone()), (json!([]), json!("EXPIRED")));
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn the_sweeper_releases_holds_of_accounts_nobody_touches() {
    let app = TestApp::start().await;
    app.reserve("a", image(5), "gen-1", Some(30)).await;
    app.reserve("b", image(5), "gen-1", Some(600)).await;
    app.advance(Duration::seconds(31));
    let sweep = "mutation { releaseExpiredHolds }";
    assert_eq!(app.as_admin(sweep, json!({})).await["releaseExpiredHolds"], 1, "only a's hold is due");
    assert_eq!(app.as_admin(sweep, json!({})).await["releaseExpiredHolds"], 0);
    assert_eq!(app.wallet("b").await["held"], 15);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn credits_of_a_lot_that_expired_while_held_are_not_returned() {
    let app = TestApp::start().await;
    let held = app.reserve("x", image(10), "gen-1", Some(86_400)).await; // 30 of today's 50
    app.advance(Duration::hours(13)); // past midnight: the daily lot has expired
    let released = app.release(&held["reservation"]["id"]).await;
    assert_eq!(released["errors"], json!([]));
    assert_eq!(
        (released["wallet"]["balance"].clone(), released["wallet"]["dailyFree"].clone()),
        (json!(50), json!(50))
    );
    let ledger = kinds(&app.ledger("x").await);
    assert_eq!(ledger[..2], [("EXPIRE".to_owned(), -30), ("RELEASE".to_owned(), 30)], "{ledger:?}");
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn holds_refuse_what_a_charge_would_refuse() {
    let app = TestApp::start().await;
    assert_eq!(error_code(&app.reserve("e", pro_image(1), "k1", None).await), json!("PRO_MODEL_REQUIRES_SUBSCRIPTION"));
    assert_eq!(error_code(&app.reserve("e", image(17), "k2", None).await), json!("INSUFFICIENT_CREDITS"));
    for ttl in [0, 9, 86_401] {
        let payload = app.reserve("e", image(1), "k3", Some(ttl)).await;
        assert_eq!(
            (error_code(&payload), payload["errors"][0]["field"].clone()),
            (json!("INVALID_INPUT"), json!("ttlSeconds"))
        );
    }
    let first = app.reserve("e", image(1), "k4", None).await;
    let retry = app.reserve("e", image(1), "k4", None).await;
    assert_eq!(retry["reservation"]["id"], first["reservation"]["id"]);
    assert_eq!(error_code(&app.reserve("e", image(2), "k4", None).await), json!("IDEMPOTENCY_CONFLICT"));
    let id = &first["reservation"]["id"];
    for credits in [4, -1] {
        let payload = app.capture(id, Some(credits)).await;
        assert_eq!(
            (error_code(&payload), payload["errors"][0]["field"].clone()),
            (json!("INVALID_INPUT"), json!("credits"))
        );
    }
    assert_eq!(error_code(&app.capture(&json!("999999"), None).await), json!("NOT_FOUND"));
    assert_eq!(error_code(&app.release(&json!("nope")).await), json!("NOT_FOUND"));
    assert_eq!((app.wallet("e").await["held"].clone(), app.balance("e").await), (json!(3), 47));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_racing_with_charges_never_overspend() {
    let app = TestApp::start().await;
    let other = app.second_instance().await;
    let five = json!({ "tool": "background-removal", "count": 5 });
    let keys: Vec<String> = (0..40).map(|i| format!("op-{i}")).collect();
    let operations = keys.iter().enumerate().map(|(i, key)| {
        let server = if i % 2 == 0 { &app } else { &other };
        let five = five.clone();
        async move {
            if i % 3 == 0 {
                server.reserve("race", five, key, None).await
            } else {
                server.consume("race", five, key).await
            }
        }
    });
    let payloads = join_all(operations).await;
    let succeeded = payloads.iter().filter(|p| p["errors"] == json!([])).count();
    assert_eq!(succeeded, 10, "50 credits pay for ten operations of 5");
    assert!(payloads.iter().all(|p| p["errors"] == json!([]) || error_code(p) == json!("INSUFFICIENT_CREDITS")));
    let wallet = app.wallet("race").await;
    assert_eq!(wallet["balance"], 0);
    let holds = payloads.iter().filter(|p| p["reservation"].is_object()).count() as i64;
    assert_eq!(wallet["held"], json!(holds * 5));
    app.assert_ledger_clean().await;
}
