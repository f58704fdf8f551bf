//! The daily limit's count: the day follows the server's day zone, holds
//! count while open, what comes back (a release, a capture of less, a
//! refund) gives its room back, a limit set mid-day counts what the day
//! spent before it, and racing charges never pass it, on one or two servers.
use chrono::Duration;
use credits::domain::rules::Rules;
use serde_json::{Value, json};

use super::{admin_sets, charge, limits_of, user_sets};
use crate::concurrency::race_charges;
use crate::support::{TestApp, error_code, image};

/// 1 credit per output.
fn credits(count: i64) -> Value {
    json!({ "tool": "background-removal", "count": count })
}

async fn spent(app: &TestApp, account: &str) -> Value {
    limits_of(app, account).await["dailySpent"].clone()
}

#[tokio::test]
async fn the_daily_limit_starts_again_at_midnight_of_the_day_zone() {
    // The test clock starts at 12:00 UTC: 21:00 in Tokyo, whose day begins at 15:00 UTC.
    let rules = Rules { day_time_zone: "Asia/Tokyo".parse().unwrap(), ..Rules::default() };
    let app = TestApp::start_with(rules).await;
    app.grant("tom", json!({ "credits": 500, "reason": "promo", "idempotencyKey": "g" })).await;
    let set = user_sets(&app, "tom", json!({ "daily": 10 })).await;
    assert_eq!(set["spendLimit"]["dailyResetsAt"], "2026-03-10T15:00:00+00:00");
    assert_eq!(charge(&app, "tom", credits(9), "gen-1").await["errors"], json!([]));
    app.advance(Duration::hours(2) + Duration::minutes(59) + Duration::seconds(59)); // 23:59:59 in Tokyo
    assert_eq!(error_code(&charge(&app, "tom", credits(2), "gen-2").await), json!("SPEND_LIMIT_REACHED"));
    app.advance(Duration::seconds(1)); // midnight in Tokyo, still the 10th in UTC
    let charged = charge(&app, "tom", credits(2), "gen-3").await;
    assert_eq!(charged["errors"], json!([]));
    assert_eq!(charged["wallet"]["spendLimit"], json!({ "dailySpent": 2, "dailyLeft": 8 }));
    let limits = limits_of(&app, "tom").await;
    assert_eq!(limits["dailyResetsAt"], "2026-03-11T15:00:00+00:00");
    assert_eq!(error_code(&charge(&app, "tom", credits(9), "gen-4").await), json!("SPEND_LIMIT_REACHED"));
    // A day with no charge shows a fresh count.
    app.advance(Duration::days(1));
    assert_eq!(spent(&app, "tom").await, 0);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn an_open_hold_counts_and_what_comes_back_gives_its_room_back() {
    let app = TestApp::start().await;
    admin_sets(&app, "hana", json!({ "daily": 10 })).await;
    let held = app.reserve("hana", credits(6), "hold-1", None).await;
    assert_eq!(held["errors"], json!([]));
    assert_eq!(spent(&app, "hana").await, 6);
    assert_eq!(error_code(&charge(&app, "hana", credits(5), "gen-1").await), json!("SPEND_LIMIT_REACHED"));
    assert_eq!(error_code(&app.reserve("hana", credits(5), "hold-2", None).await), json!("SPEND_LIMIT_REACHED"));
    // Released: the room is back.
    app.release(&held["reservation"]["id"]).await;
    assert_eq!(spent(&app, "hana").await, 0);
    // Captured for less: only what was charged stays counted; the capture itself is never refused.
    let held = app.reserve("hana", credits(8), "hold-3", None).await;
    assert_eq!(app.capture(&held["reservation"]["id"], Some(3)).await["errors"], json!([]));
    assert_eq!(spent(&app, "hana").await, 3);
    // A hold that times out gives its credits back to the day too.
    let held = app.reserve("hana", credits(7), "hold-4", Some(60)).await;
    assert_eq!(held["errors"], json!([]));
    assert_eq!(spent(&app, "hana").await, 10);
    app.advance(Duration::seconds(61));
    assert_eq!(spent(&app, "hana").await, 3);
    assert_eq!(charge(&app, "hana", credits(7), "gen-2").await["errors"], json!([]));
    assert_eq!(app.balance("hana").await, 40);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_refund_gives_its_credits_back_to_the_days_room() {
    let app = TestApp::start().await;
    user_sets(&app, "rae", json!({ "daily": 10 })).await;
    let charged = charge(&app, "rae", credits(9), "gen-1").await;
    assert_eq!(error_code(&charge(&app, "rae", credits(9), "gen-2").await), json!("SPEND_LIMIT_REACHED"));
    assert_eq!(app.refund(&charged["usageEvent"]["id"]).await["errors"], json!([]));
    assert_eq!(spent(&app, "rae").await, 0);
    assert_eq!(charge(&app, "rae", credits(9), "gen-3").await["errors"], json!([]));
    // Yesterday's charge refunded today gives nothing to today's room.
    let late = charge(&app, "rae", credits(1), "gen-4").await;
    app.advance(Duration::days(1));
    assert_eq!(charge(&app, "rae", credits(4), "gen-5").await["errors"], json!([]));
    app.refund(&late["usageEvent"]["id"]).await;
    assert_eq!(spent(&app, "rae").await, 4);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_daily_limit_set_mid_day_counts_what_the_day_spent_before_it() {
    let app = TestApp::start().await;
    app.grant("max", json!({ "credits": 500, "reason": "promo", "idempotencyKey": "g" })).await;
    // Yesterday's spending does not count.
    charge(&app, "max", credits(40), "gen-0").await;
    app.advance(Duration::days(1));
    let kept = charge(&app, "max", credits(20), "gen-1").await;
    let refunded = charge(&app, "max", credits(7), "gen-2").await;
    app.refund(&refunded["usageEvent"]["id"]).await;
    app.reserve("max", credits(5), "hold-1", None).await; // open: counts
    let released = app.reserve("max", credits(11), "hold-2", None).await;
    app.release(&released["reservation"]["id"]).await; // back: does not
    let captured = app.reserve("max", credits(6), "hold-3", None).await;
    app.capture(&captured["reservation"]["id"], Some(2)).await; // 2 count
    assert_eq!(kept["errors"], json!([]));
    let set = admin_sets(&app, "max", json!({ "daily": 30 })).await;
    assert_eq!((set["dailySpent"].clone(), set["dailyLeft"].clone()), (json!(27), json!(3)));
    assert_eq!(error_code(&charge(&app, "max", credits(4), "gen-3").await), json!("SPEND_LIMIT_REACHED"));
    assert_eq!(charge(&app, "max", credits(3), "gen-4").await["errors"], json!([]));
    // Clearing stops the count; a limit set again counts the day afresh.
    admin_sets(&app, "max", json!({ "daily": null })).await;
    assert_eq!(charge(&app, "max", credits(10), "gen-5").await["errors"], json!([]));
    let again = user_sets(&app, "max", json!({ "daily": 100 })).await;
    assert_eq!(again["spendLimit"]["dailySpent"], 40);
    app.assert_ledger_clean().await;
}

async fn race(servers: &[&TestApp], account: &str, attempts: usize) -> (usize, usize) {
    race_charges(servers, account, attempts, credits(3), "SPEND_LIMIT_REACHED").await
}

async fn assert_exactly_ten_charged(app: &TestApp, account: &str, outcome: (usize, usize)) {
    assert_eq!(outcome, (10, 40), "50 racing charges of 3 under a daily limit of 30");
    assert_eq!(app.balance(account).await, 50 + 1_000 - 30);
    let consumed = app.ledger(account).await.iter().filter(|e| e["kind"] == "CONSUME").count();
    assert_eq!(consumed, 10);
    let limits = limits_of(app, account).await;
    assert_eq!((limits["dailySpent"].clone(), limits["dailyLeft"].clone()), (json!(30), json!(0)));
    app.assert_ledger_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_charges_never_pass_the_daily_limit() {
    let app = TestApp::start().await;
    app.grant("hot", json!({ "credits": 1_000, "reason": "promo", "idempotencyKey": "g" })).await;
    admin_sets(&app, "hot", json!({ "daily": 30 })).await;
    let outcome = race(&[&app], "hot", 50).await;
    assert_exactly_ten_charged(&app, "hot", outcome).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_racing_never_pass_the_daily_limit() {
    let app = TestApp::start().await;
    let other = app.second_instance().await;
    app.grant("shared", json!({ "credits": 1_000, "reason": "promo", "idempotencyKey": "g" })).await;
    user_sets(&other, "shared", json!({ "daily": 30 })).await;
    let outcome = race(&[&app, &other], "shared", 50).await;
    assert_exactly_ten_charged(&app, "shared", outcome).await;
}

#[tokio::test]
async fn a_hold_over_the_per_generation_limit_is_refused_and_holds_nothing() {
    let app = TestApp::start().await;
    user_sets(&app, "kit", json!({ "perGeneration": 5, "daily": 20 })).await;
    let refused = app.reserve("kit", image(2), "hold-1", None).await;
    assert_eq!(error_code(&refused), json!("SPEND_LIMIT_REACHED"));
    let wallet = app.wallet("kit").await;
    assert_eq!((wallet["held"].clone(), wallet["balance"].clone()), (json!(0), json!(50)));
    assert_eq!(spent(&app, "kit").await, 0);
    app.assert_ledger_clean().await;
}
