//! Integers stay in their type: no `Int` answers a value past 2^31 - 1. An
//! account owns at most that many credits (a movement past it is
//! INVALID_INPUT and changes nothing); one account's history past it is
//! refused on the way out, with a range to narrow; the platform's sums are
//! `BigInt` decimal strings.
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, image};

const INT_MAX: i64 = 2_147_483_647;

fn grant(credits: i64, key: &str) -> Value {
    json!({ "credits": credits, "reason": "test", "idempotencyKey": key, "proEligible": true })
}

/// Asserts a payload refused with INVALID_INPUT on `field`.
fn assert_refused(payload: &Value, field: &str) {
    assert_eq!(error_code(payload), json!("INVALID_INPUT"), "{payload:#}");
    assert_eq!(payload["errors"][0]["field"], json!(field), "{payload:#}");
}

/// Asserts that a movement was refused and moved nothing.
async fn assert_unmoved(app: &TestApp, account: &str, wallet: &Value, ledger_len: usize) {
    assert_eq!(&app.wallet(account).await, wallet, "the wallet did not change");
    assert_eq!(app.ledger(account).await.len(), ledger_len, "no ledger entry was written");
}

#[tokio::test]
async fn an_account_never_owns_more_credits_than_an_int_holds() {
    let app = TestApp::start().await;
    for key in ["g1", "g2"] {
        assert_eq!(app.grant("rich", grant(1_000_000_000, key)).await["errors"], json!([]));
    }
    let (wallet, entries) = (app.wallet("rich").await, app.ledger("rich").await.len());
    assert_eq!(wallet["balance"], json!(2_000_000_050));
    // Three grants of 10^9 once made 3,000,000,000; the third is refused whole.
    assert_refused(&app.grant("rich", grant(1_000_000_000, "g3")).await, "credits");
    assert_refused(&app.grant("rich", grant(i64::MAX, "g4")).await, "credits");
    assert_unmoved(&app, "rich", &wallet, entries).await;
    // Exactly up to the ceiling is allowed; one more is not.
    let room = INT_MAX - 2_000_000_050;
    assert_eq!(app.grant("rich", grant(room, "g5")).await["wallet"]["balance"], json!(INT_MAX));
    let (wallet, entries) = (app.wallet("rich").await, app.ledger("rich").await.len());
    assert_refused(&app.grant("rich", grant(1, "g6")).await, "credits");
    // A subscription's allowance fills no more than the room left: none.
    assert_eq!(app.subscribe("rich", "STARTER", "pay-1").await["wallet"]["subscriptionCredits"], json!(0));
    let (wallet_subscribed, entries_subscribed) = (app.wallet("rich").await, app.ledger("rich").await.len());
    assert_eq!(wallet_subscribed["balance"], wallet["balance"]);
    assert_eq!(entries_subscribed, entries);
    assert_refused(&app.purchase("rich", "tokens-500", "pay-2", "buy-1").await, "packId");
    assert_unmoved(&app, "rich", &wallet_subscribed, entries_subscribed).await;

    // A refund into a full account is refused; a release never is (held credits were owned).
    let charged = app.consume("rich", image(1), "charge-1").await;
    assert_eq!(charged["wallet"]["balance"], json!(INT_MAX - 3));
    assert_eq!(app.grant("rich", grant(3, "g7")).await["wallet"]["balance"], json!(INT_MAX));
    let (wallet, entries) = (app.wallet("rich").await, app.ledger("rich").await.len());
    assert_refused(&app.refund(&charged["usageEvent"]["id"]).await, "usageEventId");
    assert_unmoved(&app, "rich", &wallet, entries).await;
    let hold = app.reserve("rich", image(2), "hold-1", None).await;
    assert_eq!(hold["wallet"]["held"], json!(6));
    assert_refused(&app.grant("rich", grant(1, "g8")).await, "credits");
    let released = app.release(&hold["reservation"]["id"]).await;
    assert_eq!(released["errors"], json!([]), "{released:#}");
    assert_eq!(released["wallet"]["balance"], json!(INT_MAX));

    // A new day brings free credits only into the room left, and reading never fails.
    app.advance(Duration::days(1));
    let wallet = app.wallet("rich").await;
    for figure in ["balance", "proBalance", "dailyFree", "tokens", "promo", "held"] {
        let value = wallet[figure].as_i64().unwrap_or_else(|| panic!("{figure}: {wallet:#}"));
        assert!((0..=INT_MAX).contains(&value), "{figure} = {value}");
    }
    app.assert_ledger_clean().await;
}

/// The costliest generation there is: sora-2, an hour in 4k, 100 outputs.
fn costliest() -> Value {
    json!({ "tool": "text-to-video", "modelId": "sora-2", "durationSeconds": 3600, "count": 100,
            "options": [{ "name": "resolution", "value": "4k" }] })
}

#[tokio::test]
async fn sums_past_an_int_are_refused_for_an_account_and_big_ints_for_the_platform() {
    let app = TestApp::start().await;
    assert_eq!(app.subscribe("whale", "STUDIO", "pay-1").await["errors"], json!([]));
    let mut spent = 0i64;
    let mut charges = 0;
    // Two days, each filling the account to the ceiling and spending it.
    for day in 0..2 {
        // One grant gives at most 10^9.
        for part in 0.. {
            let room = (INT_MAX - app.balance("whale").await).min(1_000_000_000);
            if room == 0 {
                break;
            }
            assert_eq!(app.grant("whale", grant(room, &format!("fill-{day}-{part}"))).await["errors"], json!([]));
        }
        loop {
            let charged = app.consume("whale", costliest(), &format!("charge-{charges}")).await;
            charges += 1;
            match charged["usageEvent"]["credits"].as_i64() {
                Some(credits) => spent += credits,
                None => {
                    assert_eq!(error_code(&charged), json!("INSUFFICIENT_CREDITS"), "{charged:#}");
                    break;
                }
            }
        }
        app.advance(Duration::days(1));
    }
    assert!(spent > INT_MAX, "{spent} credits spent");
    let totals = app
        .graphql(
            Some(&app.token(credits::auth::Role::Service, "backend")),
            r#"{ account(id: "whale") { usage(first: 1) { totalCredits } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(totals["errors"][0]["extensions"]["code"], json!("INVALID_INPUT"), "{totals:#}");
    assert!(totals["errors"][0]["message"].as_str().unwrap().contains(&spent.to_string()), "{totals:#}");
    // Narrowed to days, each bucket fits.
    let by_day =
        app.as_service(r#"{ account(id: "whale") { usageSummary(groupBy: [DAY]) { credits } } }"#, json!({})).await;
    let days: Vec<i64> =
        by_day["account"]["usageSummary"].as_array().unwrap().iter().map(|b| b["credits"].as_i64().unwrap()).collect();
    assert_eq!((days.len(), days.iter().sum::<i64>()), (2, spent));
    // The platform's sums are decimal strings.
    let platform = app
        .as_admin(
            "{ platformUsage(groupBy: []) { credits generations } topAccounts(limit: 1) { accountId credits } }",
            json!({}),
        )
        .await;
    let generations = (charges - 2).to_string();
    assert_eq!(platform["platformUsage"], json!([{ "credits": spent.to_string(), "generations": generations }]));
    assert_eq!(platform["topAccounts"], json!([{ "accountId": "whale", "credits": spent.to_string() }]));
    app.assert_ledger_clean().await;
}
