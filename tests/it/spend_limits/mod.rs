//! Spend limits (DESIGN.md section 10): who sets them, what a charge over
//! one gets, what quote and the wallet say, and the event. The day's count
//! across days, holds, refunds and races: `day.rs`.
use credits::auth::Role;
use serde_json::{Value, json};

use crate::events::events_of;
use crate::support::{TestApp, error_code, graphql_error_code, image};

mod day;

pub const SPEND_LIMIT: &str = "daily perGeneration dailySpent dailyLeft dailyResetsAt
    userDaily userPerGeneration adminDaily adminPerGeneration";
pub const LIMIT_ERRORS: &str = "code message field needed limitKind limit spent";

/// `setSpendLimit` with the token given; the whole response.
pub async fn set_limit_as(app: &TestApp, token: &str, input: Value) -> Value {
    let query = format!(
        "mutation($input: SetSpendLimitInput!) {{ setSpendLimit(input: $input) {{
            spendLimit {{ {SPEND_LIMIT} }} wallet {{ balance spendLimit {{ daily }} }} errors {{ {LIMIT_ERRORS} }} }} }}"
    );
    app.graphql(Some(token), &query, json!({ "input": input })).await
}

/// An admin's `setSpendLimit` on `account`, which must succeed; the limits after it.
pub async fn admin_sets(app: &TestApp, account: &str, mut input: Value) -> Value {
    input["accountId"] = json!(account);
    let response = set_limit_as(app, &app.token(Role::Admin, "admin"), input).await;
    let payload = &response["data"]["setSpendLimit"];
    assert_eq!(payload["errors"], json!([]), "{response:#}");
    payload["spendLimit"].clone()
}

/// The user's own `setSpendLimit`: the payload.
pub async fn user_sets(app: &TestApp, account: &str, input: Value) -> Value {
    let response = set_limit_as(app, &app.token(Role::User, account), input).await;
    assert!(response.get("errors").is_none(), "{response:#}");
    response["data"]["setSpendLimit"].clone()
}

/// The account's limits as its wallet shows them.
pub async fn limits_of(app: &TestApp, account: &str) -> Value {
    let query = format!("query($id: ID!) {{ account(id: $id) {{ wallet {{ spendLimit {{ {SPEND_LIMIT} }} }} }} }}");
    app.as_service(&query, json!({ "id": account })).await["account"]["wallet"]["spendLimit"].clone()
}

/// A charge with the spend limit's fields of its error.
pub async fn charge(app: &TestApp, account: &str, generation: Value, key: &str) -> Value {
    let query = format!(
        "mutation($input: ConsumeCreditsInput!) {{ consumeCredits(input: $input) {{
            usageEvent {{ id credits }} wallet {{ balance spendLimit {{ dailySpent dailyLeft }} }}
            errors {{ {LIMIT_ERRORS} }} }} }}"
    );
    let input = json!({ "accountId": account, "generation": generation, "idempotencyKey": key });
    app.as_service(&query, json!({ "input": input })).await["consumeCredits"].clone()
}

#[tokio::test]
async fn a_user_lowers_their_limits_below_the_admins_and_clears_only_their_own() {
    let app = TestApp::start().await;
    let set = admin_sets(&app, "alice", json!({ "daily": 500, "perGeneration": 40 })).await;
    assert_eq!(
        set,
        json!({ "daily": 500, "perGeneration": 40, "dailySpent": 0, "dailyLeft": 500,
                "dailyResetsAt": "2026-03-11T00:00:00+00:00", "userDaily": null, "userPerGeneration": null,
                "adminDaily": 500, "adminPerGeneration": 40 })
    );
    let lowered = user_sets(&app, "alice", json!({ "daily": 300 })).await;
    assert_eq!(lowered["errors"], json!([]));
    let limits = &lowered["spendLimit"];
    assert_eq!((limits["daily"].clone(), limits["userDaily"].clone()), (json!(300), json!(300)));
    assert_eq!(limits["perGeneration"], 40, "an omitted limit is left as it is");
    assert_eq!(lowered["wallet"]["spendLimit"]["daily"], 300);

    // Raising above the admin's is refused and changes nothing.
    let raised = user_sets(&app, "alice", json!({ "daily": 501 })).await;
    let error = &raised["errors"][0];
    assert_eq!((error["code"].clone(), error["field"].clone()), (json!("INVALID_INPUT"), json!("daily")));
    assert!(error["message"].as_str().unwrap().contains("at most 500"), "{error}");
    assert_eq!(raised["spendLimit"], Value::Null);
    let over = user_sets(&app, "alice", json!({ "perGeneration": 41 })).await;
    assert_eq!(
        (error_code(&over), over["errors"][0]["field"].clone()),
        (json!("INVALID_INPUT"), json!("perGeneration"))
    );
    assert_eq!(limits_of(&app, "alice").await["userDaily"], 300);

    // The user clears their own limit: the admin's applies again, and stays.
    let cleared = user_sets(&app, "alice", json!({ "daily": null, "perGeneration": null })).await;
    let limits = &cleared["spendLimit"];
    assert_eq!(
        [&limits["daily"], &limits["userDaily"], &limits["adminDaily"], &limits["perGeneration"]],
        [&json!(500), &Value::Null, &json!(500), &json!(40)]
    );
    // Without an admin's limit, a user sets any value; the admin's lower one then applies.
    let unlimited = admin_sets(&app, "alice", json!({ "daily": null, "perGeneration": null })).await;
    assert_eq!((unlimited["daily"].clone(), unlimited["dailyLeft"].clone()), (Value::Null, Value::Null));
    assert_eq!(user_sets(&app, "alice", json!({ "daily": 2_000 })).await["spendLimit"]["daily"], 2_000);
    let tighter = admin_sets(&app, "alice", json!({ "daily": 100 })).await;
    assert_eq!((tighter["daily"].clone(), tighter["userDaily"].clone()), (json!(100), json!(2_000)));
}

#[tokio::test]
async fn only_the_user_for_their_own_account_or_an_admin_sets_limits() {
    let app = TestApp::start().await;
    let input = json!({ "accountId": "alice", "daily": 10 });
    let other_user = set_limit_as(&app, &app.token(Role::User, "mallory"), input.clone()).await;
    assert_eq!(graphql_error_code(&other_user), json!("FORBIDDEN"));
    let service = set_limit_as(&app, &app.token(Role::Service, "generation"), input.clone()).await;
    assert_eq!(graphql_error_code(&service), json!("FORBIDDEN"));
    let query = "mutation { setSpendLimit(input: { accountId: \"alice\", daily: 10 }) { errors { code } } }";
    assert_eq!(graphql_error_code(&app.graphql(None, query, json!({})).await), json!("UNAUTHENTICATED"));
    assert_eq!(limits_of(&app, "alice").await["daily"], Value::Null, "nothing was set");
    // A user's own account when the id is omitted; bad values name their field.
    let own = user_sets(&app, "alice", json!({ "perGeneration": 12 })).await;
    assert_eq!(own["spendLimit"]["perGeneration"], 12);
    for (input, field) in
        [(json!({ "daily": -1 }), "daily"), (json!({ "perGeneration": 1_i64 << 40 }), "perGeneration")]
    {
        let refused = user_sets(&app, "alice", input).await;
        assert_eq!(
            (error_code(&refused), refused["errors"][0]["field"].clone()),
            (json!("INVALID_INPUT"), json!(field))
        );
    }
    assert_eq!(limits_of(&app, "alice").await["perGeneration"], 12);
}

#[tokio::test]
async fn a_charge_over_the_per_generation_limit_is_refused_and_changes_nothing() {
    let app = TestApp::start().await;
    user_sets(&app, "pat", json!({ "perGeneration": 5 })).await;
    let ledger_before = app.ledger("pat").await;
    let refused = charge(&app, "pat", image(2), "gen-1").await; // 6 credits
    assert_eq!(refused["usageEvent"], Value::Null);
    assert_eq!(
        refused["errors"][0],
        json!({ "code": "SPEND_LIMIT_REACHED", "field": null, "needed": 6, "limitKind": "PER_GENERATION",
                "limit": 5, "spent": 6,
                "message": "this generation costs 6 credits, more than the per-generation spend limit of 5" })
    );
    assert_eq!(app.balance("pat").await, 50);
    assert_eq!(app.ledger("pat").await, ledger_before);
    let held = app.reserve("pat", image(2), "hold-1", None).await;
    assert_eq!(error_code(&held), json!("SPEND_LIMIT_REACHED"), "a hold is refused as a charge is");
    assert_eq!(app.wallet("pat").await["held"], 0);
    // Within the limit, and without a daily limit, nothing is counted.
    let charged = charge(&app, "pat", image(1), "gen-2").await;
    assert_eq!((charged["errors"].clone(), charged["wallet"]["balance"].clone()), (json!([]), json!(47)));
    assert_eq!(charged["wallet"]["spendLimit"], json!({ "dailySpent": null, "dailyLeft": null }));
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn the_daily_limit_refuses_the_charge_that_would_pass_it_with_limit_and_spent() {
    let app = TestApp::start().await;
    admin_sets(&app, "dan", json!({ "daily": 10 })).await;
    for key in ["gen-1", "gen-2", "gen-3"] {
        assert_eq!(charge(&app, "dan", image(1), key).await["errors"], json!([]));
    }
    let refused = charge(&app, "dan", image(1), "gen-4").await;
    let error = &refused["errors"][0];
    assert_eq!(
        [&error["code"], &error["limitKind"], &error["limit"], &error["spent"], &error["needed"]],
        [&json!("SPEND_LIMIT_REACHED"), &json!("DAILY"), &json!(10), &json!(9), &json!(3)]
    );
    assert!(error["message"].as_str().unwrap().contains("has 1 left"), "{error}");
    assert_eq!(app.balance("dan").await, 41);
    let limits = limits_of(&app, "dan").await;
    assert_eq!((limits["dailySpent"].clone(), limits["dailyLeft"].clone()), (json!(9), json!(1)));
    // A retry of a charge that went through answers as the first time, uncounted.
    assert_eq!(charge(&app, "dan", image(1), "gen-1").await["errors"], json!([]));
    assert_eq!(limits_of(&app, "dan").await["dailySpent"], 9);
    // 1 credit still fits; then nothing does, and a limit of 0 stops everything.
    let one = json!({ "tool": "background-removal", "count": 1 });
    assert_eq!(charge(&app, "dan", one.clone(), "gen-5").await["errors"], json!([]));
    assert_eq!(error_code(&charge(&app, "dan", one.clone(), "gen-6").await), json!("SPEND_LIMIT_REACHED"));
    admin_sets(&app, "erin", json!({ "daily": 0 })).await;
    assert_eq!(error_code(&charge(&app, "erin", one, "gen-1").await), json!("SPEND_LIMIT_REACHED"));
    app.assert_ledger_clean().await;
}

#[tokio::test]
async fn quote_answers_not_allowed_for_a_spend_limit() {
    let app = TestApp::start().await;
    user_sets(&app, "quinn", json!({ "daily": 10, "perGeneration": 6 })).await;
    let quote = |generation: Value| {
        let app = &app;
        async move {
            let query = "query($input: GenerationInput!) { quote(input: $input) { credits allowed reason available } }";
            let token = app.token(Role::User, "quinn");
            app.data(Some(&token), query, json!({ "input": generation })).await["quote"].clone()
        }
    };
    assert_eq!(quote(image(2)).await, json!({ "credits": 6, "allowed": true, "reason": null, "available": 50 }));
    assert_eq!(quote(image(3)).await["reason"], "SPEND_LIMIT_REACHED", "9 is over the per-generation limit");
    assert_eq!(charge(&app, "quinn", image(2), "gen-1").await["errors"], json!([]));
    let over_day = quote(image(2)).await;
    assert_eq!((over_day["allowed"].clone(), over_day["reason"].clone()), (json!(false), json!("SPEND_LIMIT_REACHED")));
    assert_eq!(quote(image(1)).await["allowed"], true, "3 more fit the day's 4 left");
    // The charge agrees with the quote.
    assert_eq!(error_code(&charge(&app, "quinn", image(2), "gen-2").await), json!("SPEND_LIMIT_REACHED"));
}

#[tokio::test]
async fn a_refusal_for_a_limit_sends_spend_limit_reached_once_a_day_per_limit() {
    let app = TestApp::start().await;
    user_sets(&app, "evan", json!({ "daily": 5, "perGeneration": 4 })).await;
    let before = events_of(&app, "evan").await.len();
    let one = json!({ "tool": "background-removal", "count": 1 });
    assert_eq!(
        charge(&app, "evan", json!({ "tool": "background-removal", "count": 4 }), "g-1").await["errors"],
        json!([])
    );
    for key in ["g-2", "g-3"] {
        assert_eq!(error_code(&charge(&app, "evan", image(2), key).await), json!("SPEND_LIMIT_REACHED"));
    }
    assert_eq!(charge(&app, "evan", one.clone(), "g-4").await["errors"], json!([]));
    for key in ["g-5", "g-6"] {
        assert_eq!(error_code(&charge(&app, "evan", one.clone(), key).await), json!("SPEND_LIMIT_REACHED"));
    }
    let reached: Vec<Value> = events_of(&app, "evan").await[before..]
        .iter()
        .filter(|event| event["type"] == "spend_limit.reached")
        .map(|event| event["data"].clone())
        .collect();
    assert_eq!(
        reached,
        vec![
            json!({ "accountId": "evan", "kind": "PER_GENERATION", "limit": 4, "spent": 6, "needed": 6 }),
            json!({ "accountId": "evan", "kind": "DAILY", "limit": 5, "spent": 5, "needed": 1 }),
        ]
    );
    // The refusals moved nothing; the next day the daily limit is noticed again.
    assert_eq!(app.balance("evan").await, 45);
    app.advance(chrono::Duration::days(1));
    for key in ["g-7", "g-8", "g-9"] {
        charge(&app, "evan", json!({ "tool": "background-removal", "count": 3 }), key).await;
    }
    let types: Vec<Value> = events_of(&app, "evan").await.iter().map(|event| event["data"]["kind"].clone()).collect();
    assert_eq!(types.iter().filter(|kind| **kind == json!("DAILY")).count(), 2, "{types:?}");
    app.assert_ledger_clean().await;
}
