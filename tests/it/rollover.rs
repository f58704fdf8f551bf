//! Carry-over (DESIGN.md section 10): at renewal a share of the allowance
//! left unused becomes a ROLLOVER lot of the new period, once; it pays for
//! Pro while subscribed and is forfeited when the subscription ends or
//! changes plan. The seed: STARTER carries 20 % (at most 200), CREATOR 25 %
//! (at most 600).
use chrono::Duration;
use serde_json::{Value, json};

use crate::events::events_of;
use crate::support::{TestApp, error_code, pro_image};

/// A month from the start time: the first renewal of a plan subscribed then.
const MONTH: i64 = 31;

fn amounts(ledger: &[Value], kind: &str) -> Vec<i64> {
    ledger.iter().rev().filter(|e| e["kind"] == kind).map(|e| e["amount"].as_i64().unwrap()).collect()
}

fn rollover_lots(wallet: &Value) -> Vec<(i64, Value)> {
    let lots = wallet["lots"].as_array().unwrap().iter().filter(|lot| lot["source"] == "ROLLOVER");
    lots.map(|lot| (lot["remaining"].as_i64().unwrap(), lot["expiresAt"].clone())).collect()
}

#[tokio::test]
async fn plans_show_their_carry_over_terms() {
    let app = TestApp::start().await;
    let data = app.data(None, "{ plans { code rolloverPercent rolloverCap } }", json!({})).await;
    assert_eq!(
        data["plans"],
        json!([
            { "code": "FREE", "rolloverPercent": 0, "rolloverCap": null },
            { "code": "STARTER", "rolloverPercent": 20, "rolloverCap": 200 },
            { "code": "CREATOR", "rolloverPercent": 25, "rolloverCap": 600 },
            { "code": "STUDIO", "rolloverPercent": 30, "rolloverCap": null },
        ])
    );
}

#[tokio::test]
async fn unused_allowance_carries_once_rounded_down_and_pays_for_pro() {
    let app = TestApp::start().await;
    app.subscribe("r", "STARTER", "pay-1").await;
    app.consume("r", pro_image(1), "pro-1").await; // 8 of the allowance: 992 unused
    app.advance(Duration::days(MONTH)); // 2026-04-10T12:00Z: the first renewal
    let wallet = app.wallet("r").await;
    // 20 % of 992 is 198.4: 198 carried, expiring with the new period.
    assert_eq!(wallet["rollover"], 198);
    assert_eq!(rollover_lots(&wallet), vec![(198, json!("2026-05-10T12:00:00+00:00"))]);
    assert_eq!((wallet["subscriptionCredits"].clone(), wallet["proBalance"].clone()), (json!(1000), json!(1198)));
    // Carried credits pay for Pro, and go first: they expire with the
    // allowance and were granted before it.
    let charged = app.consume("r", pro_image(10), "pro-2").await;
    assert_eq!(charged["errors"], json!([]));
    let rollover_id =
        wallet["lots"].as_array().unwrap().iter().find(|l| l["source"] == "ROLLOVER").unwrap()["id"].clone();
    assert_eq!(charged["usageEvent"]["lotSplit"], json!([{ "lotId": rollover_id, "credits": 80 }]));
    assert_eq!(charged["wallet"]["rollover"], 118);
    app.advance(Duration::days(30)); // 2026-05-10T12:00Z: the second renewal
    let wallet = app.wallet("r").await;
    // 20 % of the 1000 left of April's allowance; what was carried into
    // April (118 left) expires and never carries again.
    assert_eq!(wallet["rollover"], 200);
    assert_eq!(rollover_lots(&wallet), vec![(200, json!("2026-06-10T12:00:00+00:00"))]);
    let ledger = app.ledger("r").await;
    assert_eq!(amounts(&ledger, "ROLLOVER_GRANT"), vec![198, 200]);
    assert!(amounts(&ledger, "EXPIRE").contains(&-118), "{ledger:#?}");
    assert_eq!(amounts(&ledger, "FORFEIT"), Vec::<i64>::new());
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn the_carry_is_capped() {
    let app = TestApp::start().await;
    app.subscribe("c", "CREATOR", "pay-1").await;
    app.consume("c", pro_image(1), "pro-1").await; // 2992 unused: 25 % is 748
    app.advance(Duration::days(MONTH));
    let wallet = app.wallet("c").await;
    assert_eq!(wallet["rollover"], 600);
    assert_eq!(amounts(&app.ledger("c").await, "ROLLOVER_GRANT"), vec![600]);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn carried_credits_are_forfeited_when_the_subscription_ends() {
    let app = TestApp::start().await;
    for account in ["now", "later"] {
        app.subscribe(account, "STARTER", "pay-1").await;
    }
    app.advance(Duration::days(MONTH));
    assert_eq!(app.wallet("now").await["rollover"], 200);
    let cancelled = app.cancel("now", false).await;
    assert_eq!(cancelled["errors"], json!([]));
    assert_eq!((cancelled["wallet"]["rollover"].clone(), rollover_lots(&cancelled["wallet"])), (json!(0), vec![]));
    assert_eq!(amounts(&app.ledger("now").await, "FORFEIT"), vec![-200]);
    let expired: Vec<Value> = events_of(&app, "now")
        .await
        .into_iter()
        .filter(|event| event["type"] == "credits.expired")
        .map(|event| json!([event["data"]["source"], event["data"]["expired"]]))
        .collect();
    // March's allowance at the renewal; then, at the cancellation, the
    // carried credits and April's allowance.
    let (march, april) = (json!(["SUBSCRIPTION", 1000]), json!(["SUBSCRIPTION", 1000]));
    assert_eq!(expired, vec![march, json!(["ROLLOVER", 200]), april]);
    // Cancelled at period end: the carried credits last until then, Pro included.
    app.cancel("later", true).await;
    let paid = app.consume("later", pro_image(5), "pro-1").await;
    assert_eq!((paid["errors"].clone(), paid["wallet"]["rollover"].clone()), (json!([]), json!(160)));
    app.advance(Duration::days(30));
    let wallet = app.wallet("later").await;
    assert_eq!((wallet["rollover"].clone(), wallet["proBalance"].clone()), (json!(0), json!(0)));
    let ledger = app.ledger("later").await;
    assert_eq!(amounts(&ledger, "FORFEIT"), vec![-160]);
    assert_eq!(amounts(&ledger, "ROLLOVER_GRANT"), vec![200], "an ended subscription carries nothing");
    assert_eq!(
        error_code(&app.consume("later", pro_image(1), "pro-2").await),
        json!("PRO_MODEL_REQUIRES_SUBSCRIPTION")
    );
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn carried_credits_are_forfeited_when_the_plan_changes() {
    let app = TestApp::start().await;
    app.subscribe("p", "STARTER", "pay-1").await;
    app.advance(Duration::days(MONTH));
    assert_eq!(app.wallet("p").await["rollover"], 200);
    let changed = app.subscribe("p", "CREATOR", "pay-2").await;
    assert_eq!(changed["errors"], json!([]));
    let wallet = &changed["wallet"];
    assert_eq!((wallet["rollover"].clone(), wallet["subscriptionCredits"].clone()), (json!(0), json!(3000)));
    let ledger = app.ledger("p").await;
    assert_eq!(amounts(&ledger, "FORFEIT"), vec![-200]);
    // The new plan's first renewal carries from its own allowance only.
    app.advance(Duration::days(MONTH));
    assert_eq!(app.wallet("p").await["rollover"], 600);
    app.assert_ledger_clean().await;
}
