//! Events (DESIGN.md section 6): each change writes the events it should and
//! no other, in its transaction, numbered per account without gaps. Time
//! moves by the test clock; the scheduler runs through `runScheduler`.
use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code, image};

mod top_ups;

/// The account's events, oldest first, through the admin event log.
pub async fn events_of(app: &TestApp, account: &str) -> Vec<Value> {
    let query = "query($filter: EventFilter) { events(first: 100, filter: $filter) {
        edges { node { id type accountId sequence createdAt data } } } }";
    let data = app.as_admin(query, json!({ "filter": { "accountId": account } })).await;
    let edges = data["events"]["edges"].as_array().unwrap_or_else(|| panic!("no events: {data}"));
    let mut events: Vec<Value> = edges.iter().map(|edge| edge["node"].clone()).collect();
    events.reverse();
    events
}

/// Reads an account's events as they come, step by step.
pub struct Watch<'a> {
    app: &'a TestApp,
    account: String,
    seen: usize,
}

impl<'a> Watch<'a> {
    pub fn new(app: &'a TestApp, account: &str) -> Self {
        Watch { app, account: account.to_owned(), seen: 0 }
    }

    /// The events written since the last call, checking that their
    /// sequence goes on without a gap.
    pub async fn new_events(&mut self) -> Vec<Value> {
        let all = events_of(self.app, &self.account).await;
        for (index, event) in all.iter().enumerate() {
            assert_eq!(event["sequence"], json!(index + 1), "sequence of {event}");
            assert_eq!(event["accountId"], json!(self.account), "{event}");
            assert_eq!(event["data"]["accountId"], json!(self.account), "{event}");
        }
        let new = all[self.seen..].to_vec();
        self.seen = all.len();
        new
    }

    /// Asserts the types of the events written since the last call.
    pub async fn expect(&mut self, step: &str, types: &[&str]) -> Vec<Value> {
        let new = self.new_events().await;
        let got: Vec<&str> = new.iter().map(|event| event["type"].as_str().unwrap_or("?")).collect();
        assert_eq!(got, types, "after {step}: {new:#?}");
        new
    }
}

pub async fn run_scheduler(app: &TestApp) -> i64 {
    app.as_admin("mutation { runScheduler }", json!({})).await["runScheduler"].as_i64().expect("accounts settled")
}

pub async fn set_threshold(app: &TestApp, account: &str, threshold: i64) {
    let query =
        "mutation($input: SetLowBalanceThresholdInput!) { setLowBalanceThreshold(input: $input) { errors { code } } }";
    let set = app.as_service(query, json!({ "input": { "accountId": account, "threshold": threshold } })).await;
    assert_eq!(set["setLowBalanceThreshold"]["errors"], json!([]), "{set}");
}

#[tokio::test]
async fn each_change_writes_its_event_and_no_other() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "eve");
    // 50 daily free credits come silently with the first touch.
    assert_eq!(app.subscribe("eve", "STARTER", "pay-1").await["errors"], json!([]));
    let started = watch.expect("subscribe", &["subscription.started"]).await;
    assert_eq!(started[0]["data"]["planCode"], "STARTER");
    assert_eq!(app.purchase("eve", "tokens-500", "pay-2", "buy-1").await["errors"], json!([]));
    let bought = watch.expect("a purchase", &["tokens.purchased"]).await;
    assert_eq!(
        bought[0]["data"],
        json!({ "accountId": "eve", "packId": "tokens-500", "tokens": 500, "paymentReference": "pay-2" })
    );
    // 1550 credits: a threshold moves nothing.
    set_threshold(&app, "eve", 1_540).await;
    watch.expect("a new threshold", &[]).await;
    let charged = app.consume("eve", image(4), "charge-1").await;
    let low = watch.expect("a charge below the threshold", &["balance.low"]).await;
    assert_eq!(low[0]["data"], json!({ "accountId": "eve", "balance": 1_538, "threshold": 1_540 }));
    app.refund(&charged["usageEvent"]["id"]).await;
    let refunded = watch.expect("a refund", &["usage.refunded", "balance.recovered"]).await;
    assert_eq!(refunded[0]["data"]["credits"], 12);
    assert_eq!(refunded[0]["data"]["cause"], "OTHER");
    assert_eq!(refunded[0]["data"]["usageEventId"], charged["usageEvent"]["id"]);
    let hold = app.reserve("eve", image(1), "hold-1", Some(60)).await;
    watch.expect("a hold above the threshold", &[]).await;
    app.advance(Duration::minutes(2));
    assert_eq!(run_scheduler(&app).await, 1);
    let expired = watch.expect("a hold's time-out", &["reservation.expired"]).await;
    assert_eq!(expired[0]["data"]["reservationId"], hold["reservation"]["id"]);
    assert_eq!(expired[0]["data"]["credits"], 3);
    let released = app.reserve("eve", image(1), "hold-2", None).await;
    app.release(&released["reservation"]["id"]).await;
    let captured = app.reserve("eve", image(2), "hold-3", None).await;
    app.capture(&captured["reservation"]["id"], Some(3)).await;
    watch.expect("a hold released and one captured", &[]).await;
    set_threshold(&app, "eve", 20).await;
    let in_two_days = (app.clock.now() + Duration::days(2)).to_rfc3339();
    let promo = json!({ "credits": 5, "expiresAt": in_two_days, "reason": "promo", "idempotencyKey": "promo-1" });
    app.grant("eve", promo).await;
    watch.expect("a promotion whose expiry leaves plenty", &[]).await;
    app.cancel("eve", true).await;
    watch.expect("a cancellation at period end", &["subscription.canceled"]).await;
    assert_eq!(run_scheduler(&app).await, 0, "nothing is due");
    app.advance(Duration::days(31));
    assert_eq!(run_scheduler(&app).await, 1);
    let ended = watch.expect("the period's end", &["credits.expired", "subscription.ended", "credits.expired"]).await;
    assert_eq!(ended[0]["data"]["source"], "SUBSCRIPTION");
    assert_eq!(ended[0]["data"]["expired"], 1_000);
    assert_eq!(ended[2]["data"]["source"], "PROMO");
    assert_eq!(ended[2]["data"]["expired"], 5);
    // A new day's free credits come without a word.
    app.advance(Duration::days(1));
    app.consume("eve", image(1), "charge-2").await;
    watch.expect("a charge on a new day", &[]).await;
    assert_eq!(run_scheduler(&app).await, 0);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn the_balance_is_told_low_and_depleted_once_per_crossing() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "dan");
    // 50 daily free credits; the default threshold is 20.
    app.consume("dan", image(10), "c1").await;
    watch.expect("50 -> 20", &[]).await;
    app.consume("dan", image(1), "c2").await;
    watch.expect("20 -> 17", &["balance.low"]).await;
    app.consume("dan", image(1), "c3").await;
    watch.expect("17 -> 14", &[]).await;
    app.consume("dan", image(4), "c4").await;
    watch.expect("14 -> 2", &[]).await;
    let schnell = json!({ "tool": "text-to-image", "modelId": "flux-schnell" });
    let last = app.consume("dan", schnell, "c5").await;
    assert_eq!(last["wallet"]["balance"], 0);
    watch.expect("2 -> 0", &["balance.depleted"]).await;
    let refused = app.consume("dan", image(1), "c6").await;
    assert_eq!(error_code(&refused), "INSUFFICIENT_CREDITS");
    watch.expect("a refused charge", &[]).await;
    // The next day's free credits are lazy and silent: no recovery is told.
    app.advance(Duration::days(1));
    app.consume("dan", image(1), "c7").await;
    watch.expect("a new day", &[]).await;
    // A grant crosses upwards, an expiry downwards.
    let tomorrow = (app.clock.now() + Duration::hours(20)).to_rfc3339();
    app.grant("dan", json!({ "credits": 10, "expiresAt": tomorrow, "reason": "r", "idempotencyKey": "g1" })).await;
    watch.expect("a grant whose expiry leaves enough (daily credits stay)", &[]).await;
    app.consume("dan", image(10), "c8").await;
    watch.expect("57 -> 27", &[]).await;
    app.consume("dan", image(3), "c9").await;
    watch.expect("27 -> 18", &["balance.low"]).await;
    app.grant("dan", json!({ "credits": 5, "reason": "r", "idempotencyKey": "g2" })).await;
    watch.expect("18 -> 23", &["balance.recovered"]).await;
    app.advance(Duration::hours(21));
    assert_eq!(run_scheduler(&app).await, 1);
    let expired = watch.expect("the grant expires: 23 -> 13", &["credits.expired", "balance.low"]).await;
    assert_eq!(expired[1]["data"]["balance"], 13);
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn an_expiry_is_announced_once_and_only_when_it_leaves_the_balance_low() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "ivy");
    set_threshold(&app, "ivy", 100).await;
    let in_five_days = (app.clock.now() + Duration::days(5)).to_rfc3339();
    let grant = app
        .grant("ivy", json!({ "credits": 40, "expiresAt": in_five_days, "reason": "r", "idempotencyKey": "g1" }))
        .await;
    watch.expect("a grant expiring past the window", &[]).await;
    app.advance(Duration::days(2) + Duration::minutes(1));
    assert_eq!(run_scheduler(&app).await, 1, "the window opened");
    let notice = watch.expect("the window opens", &["credits.expiring"]).await;
    let lot_id = grant["lot"]["id"].clone();
    assert_eq!(notice[0]["data"]["lotId"], lot_id);
    assert_eq!(notice[0]["data"]["source"], "PROMO");
    assert_eq!(notice[0]["data"]["remaining"], 40);
    assert_eq!(notice[0]["data"]["expiresAt"].as_str().map(|at| &at[..16]), Some(&in_five_days[..16]));
    assert_eq!(run_scheduler(&app).await, 0, "once per lot");
    app.consume("ivy", image(1), "c1").await;
    watch.expect("a charge in the window", &[]).await;
    app.advance(Duration::days(3));
    assert_eq!(run_scheduler(&app).await, 1);
    let expired = watch.expect("the expiry", &["credits.expired"]).await;
    assert_eq!(expired[0]["data"], json!({ "accountId": "ivy", "lotId": lot_id, "source": "PROMO", "expired": 40 }));
    // Plenty left after it expires: no notice, and none later either.
    let in_a_day = (app.clock.now() + Duration::days(1)).to_rfc3339();
    app.grant("ivy", json!({ "credits": 500, "reason": "r", "idempotencyKey": "g2" })).await;
    watch.expect("a lasting grant", &["balance.recovered"]).await;
    app.grant("ivy", json!({ "credits": 30, "expiresAt": in_a_day, "reason": "r", "idempotencyKey": "g3" })).await;
    watch.expect("a grant that leaves plenty when it expires", &[]).await;
    app.advance(Duration::hours(1));
    assert_eq!(run_scheduler(&app).await, 0, "it was considered once already");
    app.advance(Duration::days(1));
    assert_eq!(run_scheduler(&app).await, 1);
    watch.expect("its expiry", &["credits.expired"]).await;
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn a_rolled_back_change_writes_no_event() {
    let app = TestApp::start().await;
    let mut watch = Watch::new(&app, "rob");
    app.subscribe("rob", "STARTER", "pay-1").await;
    watch.expect("subscribe", &["subscription.started"]).await;
    // Refused whole: the purchase's key was used for another request.
    app.purchase("rob", "tokens-500", "pay-2", "key").await;
    watch.expect("a purchase", &["tokens.purchased"]).await;
    let conflict = app.purchase("rob", "tokens-1500", "pay-3", "key").await;
    assert_eq!(error_code(&conflict), "IDEMPOTENCY_CONFLICT");
    let replay = app.purchase("rob", "tokens-500", "pay-2", "key").await;
    assert_eq!(replay["errors"], json!([]));
    watch.expect("a conflict and a replay", &[]).await;
    // Fill the account to 97 credits short of the most it may own: a
    // purchase then fails after it has told its event, and rolls back whole.
    for (credits, key) in [(1_000_000_000, "g1"), (1_000_000_000, "g2"), (147_482_000, "g3")] {
        let granted = app.grant("rob", json!({ "credits": credits, "reason": "r", "idempotencyKey": key })).await;
        assert_eq!(granted["errors"], json!([]), "{granted}");
    }
    watch.expect("grants", &[]).await;
    let wallet = app.wallet("rob").await;
    let too_much = app.purchase("rob", "tokens-500", "pay-4", "buy-2").await;
    assert_eq!(error_code(&too_much), "INVALID_INPUT", "{too_much}");
    watch.expect("a purchase refused for the account's limit", &[]).await;
    assert_eq!(app.wallet("rob").await, wallet);
}

/// Schedulers of two server instances (on PostgreSQL; one on SQLite) run
/// together over the same due accounts: each renewal happens once, with one
/// allowance and one event.
#[tokio::test]
async fn schedulers_running_together_renew_each_period_once() {
    let app = TestApp::start().await;
    let second =
        if crate::support::TestDatabase::postgres_url().is_some() { Some(app.second_instance().await) } else { None };
    let accounts: Vec<String> = (0..12).map(|i| format!("sub-{i}")).collect();
    for account in &accounts {
        app.subscribe(account, "STARTER", &format!("pay-{account}")).await;
    }
    app.advance(Duration::days(31));
    let other = second.as_ref().unwrap_or(&app);
    let (a, b, c) = tokio::join!(run_scheduler(&app), run_scheduler(other), run_scheduler(&app));
    assert!(a + b + c >= 12, "every due account was settled by one of them: {a} {b} {c}");
    for account in &accounts {
        let renewals: Vec<Value> =
            events_of(&app, account).await.into_iter().filter(|e| e["type"] == "subscription.renewed").collect();
        assert_eq!(renewals.len(), 1, "{account}: {renewals:#?}");
        let started = crate::support::start_time();
        let period_end = (started + chrono::Months::new(1)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(
            renewals[0]["data"]["periodStart"],
            json!(period_end),
            "a renewed period starts at the old one's end"
        );
        let grants = app.ledger(account).await.iter().filter(|e| e["kind"] == "SUBSCRIPTION_GRANT").count();
        assert_eq!(grants, 2, "{account}: the first period's allowance and the renewal's");
    }
    assert_eq!(run_scheduler(&app).await, 0, "nothing left due");
    app.assert_ledger_clean().await;
}
