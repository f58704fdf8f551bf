//! Bad input: thousands of generated documents, variables and headers,
//! literals nested at any depth, strings with NUL and other control
//! characters, integers at and past 32 and 64 bits, among valid charges of
//! any generation of the catalog (some retried under their key, some with
//! another request under it, some without credentials). No response, whatever
//! its status, may be a 5xx or carry an INTERNAL_SERVER_ERROR; after every
//! request the balance has moved by exactly the valid charges (each key
//! once); the limits on depth, complexity, aliases and batches hold. A
//! failing case is saved in `tests/proptest-regressions/` and replayed first
//! on every later run.
use std::cell::RefCell;
use std::collections::HashMap;

use credits::auth::Role;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{Value, json};

use crate::model::catalog::{Generation, generation};
use crate::support::TestApp;

/// One request: a body (as sent), an Authorization header, and the valid
/// charge it is, if it is one.
#[derive(Clone, Debug)]
struct Attack {
    body: String,
    authorization: Option<String>,
    charge: Option<(String, Generation)>,
}

const CONSUME: &str = "mutation($input: ConsumeCreditsInput!) { consumeCredits(input: $input) { usageEvent { credits } errors { code } } }";

/// Credits on the victim's lots: every valid charge is paid from them.
const FUNDS: i64 = 5_000_000;
/// Idempotency keys of valid charges.
const KEYS: usize = 200;

fn junk_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(1e300)),
        Just(json!(-1)),
        "[\\PC]{0,40}".prop_map(|s| json!(s)),
        Just(json!("x".repeat(70_000))),
        Just(json!([1, 2, 3])),
        Just(json!({ "nested": { "deeper": [] } })),
    ]
}

/// A charge that can never be valid: its count is out of bounds or of the wrong type.
fn invalid_count() -> impl Strategy<Value = Value> {
    prop_oneof![
        (i64::MIN..=0).prop_map(|n| json!(n)),
        (101i64..=i64::MAX).prop_map(|n| json!(n)),
        Just(json!("5")),
        Just(json!(2.5)),
        Just(json!(null)),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        // Noise in the shape of GraphQL.
        "[{}()a-zA-Z0-9_:$!@\"., \\[\\]#-]{0,300}",
        // Deep nesting and many aliases.
        (1usize..400).prop_map(|depth| format!("{}{}", "{ viewer ".repeat(depth), "}".repeat(depth))),
        (1usize..3000).prop_map(|n| format!("{{ {} }}", (0..n).map(|i| format!("a{i}: plans {{ code }}")).collect::<String>())),
        // Literal values nested at any depth, past the limit and far past it.
        (1usize..5_000, 0usize..3).prop_map(|(depth, shape)| {
            let (open, close) = [("[", "]"), ("{a: ", "}"), ("[{a: ", "}]")][shape];
            format!("{{ plans(x: {}1{}) {{ code }} }}", open.repeat(depth), close.repeat(depth))
        }),
        // Unknown enum values, forged cursors and ids.
        "[A-Z_]{1,20}".prop_map(|e| format!("{{ models(studio: {e}) {{ id }} }}")),
        "[A-Za-z0-9+/=_-]{0,80}".prop_map(|c| format!("{{ account(id: \"victim\") {{ usage(after: \"{c}\") {{ totalCount }} ledger(after: \"{c}\") {{ totalCount }} }} }}")),
        forged_id().prop_map(|id| format!("mutation {{ captureReservation(input: {{ reservationId: \"{id}\" }}) {{ errors {{ code }} }} releaseReservation(input: {{ reservationId: \"{id}\" }}) {{ errors {{ code }} }} refundUsage(input: {{ usageEventId: \"{id}\" }}) {{ errors {{ code }} }} }}")),
    ]
}

/// Ids of reservations and usage events that no test request made: past
/// any real id, negative, or not numbers.
fn forged_id() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z-][0-9a-z-]{0,19}", "-[0-9]{1,19}", "[1-9][0-9]{11,19}"]
}

fn attack(victim_token: String) -> impl Strategy<Value = Attack> {
    let valid_token = Some(format!("Bearer {victim_token}"));
    let authorization = prop_oneof![
        Just(None),
        Just(valid_token.clone()),
        "[\\PC]{0,60}".prop_map(Some),
        "[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{1,40}\\.[A-Za-z0-9_-]{0,40}".prop_map(|t| Some(format!("Bearer {t}"))),
    ];
    // Keys from a small pool, so that some come again: mostly with the
    // request of that key, else with another; mostly with the service's token.
    let mut runner = TestRunner::deterministic();
    let requests: Vec<Generation> =
        (0..KEYS).map(|_| generation().new_tree(&mut runner).expect("a generation").current()).collect();
    let request = (0..KEYS, prop::bool::weighted(0.8), generation())
        .prop_map(move |(key, own, other)| (format!("valid-{key}"), if own { requests[key].clone() } else { other }));
    let valid_charge = (request, prop_oneof![3 => Just(valid_token), 1 => authorization.clone()]).prop_map(
        |((key, generation), authorization)| {
            let input = json!({ "accountId": "victim", "generation": generation.input(), "idempotencyKey": key });
            let body = json!({ "query": CONSUME, "variables": { "input": input } }).to_string();
            Attack { body, authorization, charge: Some((key, generation)) }
        },
    );
    let generated = (document(), prop::option::of(junk_value()))
        .prop_map(|(query, variables)| json!({ "query": query, "variables": variables }).to_string());
    let bad_charge = (invalid_count(), junk_value(), junk_value(), "[\\PC]{0,30}").prop_map(move |(count, tool, model, key)| {
        let generation = json!({ "tool": tool, "modelId": model, "count": count });
        json!({ "query": CONSUME, "variables": { "input": { "accountId": "victim", "generation": generation, "idempotencyKey": key } } }).to_string()
    });
    // Strings no database may store (NUL) and other control characters, in
    // every string of a charge; integers at and past 32 and 64 bits.
    let control_strings = ("[\\x00-\\x1f\\x7f]{1,4}", "[a-z]{0,8}", 0usize..5).prop_map(move |(control, text, at)| {
        let hostile = format!("{text}{control}{text}");
        let mut input = json!({ "accountId": "victim", "idempotencyKey": "k",
            "generation": { "tool": "text-to-image", "modelId": "sdxl", "options": [{ "name": "n", "value": "v" }] } });
        let slot =
            ["/idempotencyKey", "/generation/tool", "/generation/modelId", "/generation/options/0/name", "/accountId"];
        *input.pointer_mut(slot[at]).expect("a slot") = json!(hostile);
        json!({ "query": CONSUME, "variables": { "input": input } }).to_string()
    });
    let boundary = prop_oneof![
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MAX) + 1),
        Just(i64::from(i32::MIN) - 1),
        Just(i64::MAX),
        Just(i64::MIN),
        Just(1i64 << 53),
    ];
    let integers = (boundary, 0usize..3).prop_map(move |(n, field)| {
        let generation = match field {
            0 => json!({ "tool": "text-to-image", "modelId": "sdxl", "count": n }),
            1 => json!({ "tool": "text-to-video", "modelId": "wan-2", "durationSeconds": n }),
            _ => json!({ "tool": "text-to-speech", "characters": n }),
        };
        let query =
            "mutation($input: ConsumeCreditsInput!, $n: Int) { consumeCredits(input: $input) { errors { code } }
            r: reserveCredits(input: { accountId: \"victim\", idempotencyKey: \"r\", ttlSeconds: $n,
                generation: { tool: \"upscale\" } }) { errors { code } } }";
        let input = json!({ "accountId": "victim", "generation": generation, "idempotencyKey": format!("int-{n}") });
        json!({ "query": query, "variables": { "input": input, "n": n } }).to_string()
    });
    let raw = prop_oneof![
        "[\\PC]{0,200}",
        Just("x".repeat(300 * 1024)),
        Just(Value::Array(vec![json!({ "query": "{ plans { code } }" }); 50]).to_string()),
    ];
    let hostile = (prop_oneof![generated, bad_charge, control_strings, integers, raw], authorization)
        .prop_map(|(body, authorization)| Attack { body, authorization, charge: None });
    prop_oneof![5 => hostile, 1 => valid_charge]
}

async fn send(app: &TestApp, attack: &Attack) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", "application/json")
        .header("accept", "application/graphql-response+json")
        .body(attack.body.clone());
    if let Some(authorization) = &attack.authorization
        && let Ok(value) = reqwest::header::HeaderValue::from_str(authorization)
    {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("the server answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

const FUNDS_QUERY: &str = "query { account(id: \"victim\") { wallet { balance held }
    usage(first: 1) { totalCount totalCredits } } }";

/// Checks one request: its answer, and that the balance moved by exactly
/// what it charged if it is a valid charge, else not at all. `charged` (the
/// valid charges so far, by key) and `balance` follow what the server did,
/// also when a check fails, so that shrinking replays against the truth.
fn check(
    app: &TestApp,
    runtime: &tokio::runtime::Runtime,
    (charged, balance): (&RefCell<HashMap<String, Generation>>, &RefCell<i64>),
    (attack, service): (&Attack, &str),
) -> Result<(), TestCaseError> {
    let (status, body) = runtime.block_on(send(app, attack));
    // First what the server did, then the checks.
    let funds = runtime.block_on(app.graphql(Some(service), FUNDS_QUERY, json!({})));
    let wallet = &funds["data"]["account"]["wallet"];
    let now = wallet["balance"].as_i64().unwrap_or_default();
    let moved = balance.replace(now) - now;
    let response: Value = serde_json::from_str(&body).unwrap_or_default();
    let payload = &response["data"]["consumeCredits"];
    let first = attack.charge.as_ref().and_then(|(key, _)| charged.borrow().get(key).cloned());
    if let Some((key, generation)) = &attack.charge
        && first.is_none()
        && payload["usageEvent"].is_object()
    {
        charged.borrow_mut().insert(key.clone(), generation.clone());
    }

    prop_assert!(status < 500, "status {status} for {attack:?}: {body}");
    prop_assert!(!body.contains("INTERNAL_SERVER_ERROR"), "{attack:?}: {body}");
    if status == 200 {
        prop_assert!(serde_json::from_str::<Value>(&body).is_ok(), "not JSON: {body}");
    }
    prop_assert_eq!(&wallet["held"], &json!(0), "{:?}", attack);
    let Some((_, generation)) = &attack.charge else {
        prop_assert_eq!(moved, 0, "a hostile request moved credits: {:?}: {}", attack, body);
        return Ok(());
    };
    let (expected, cost) = match first {
        _ if attack.authorization != Some(format!("Bearer {service}")) => (Value::Null, 0),
        None => (json!({ "usageEvent": { "credits": generation.cost() }, "errors": [] }), generation.cost()),
        Some(first) if first.same_request(generation) => {
            (json!({ "usageEvent": { "credits": first.cost() }, "errors": [] }), 0)
        }
        Some(_) => (json!({ "usageEvent": null, "errors": [{ "code": "IDEMPOTENCY_CONFLICT" }] }), 0),
    };
    prop_assert_eq!(payload, &expected, "{:?}: {}", attack, body);
    prop_assert_eq!(moved, cost, "the balance moved by {} for {:?}", moved, attack);
    Ok(())
}

#[test]
fn hostile_requests_never_break_the_server_and_move_credits_only_for_valid_charges() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(TestApp::start());
    let before = runtime.block_on(async {
        app.subscribe("victim", "STARTER", "pay-1").await;
        app.purchase("victim", "tokens-500", "pay-2", "buy-1").await;
        let funds = json!({ "credits": FUNDS, "proEligible": true, "reason": "fuzz", "idempotencyKey": "funds" });
        assert_eq!(app.grant("victim", funds).await["errors"], json!([]));
        app.balance("victim").await
    });
    let cases = std::env::var("FUZZ_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000);
    let regressions = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/proptest-regressions/fuzz.txt");
    let persistence = Some(Box::new(FileFailurePersistence::Direct(regressions)) as Box<_>);
    let mut runner =
        TestRunner::new(Config { cases, failure_persistence: persistence, max_shrink_iters: 32, ..Config::default() });
    let (charged, balance) = (RefCell::new(HashMap::new()), RefCell::new(before));
    let token = app.token(Role::Service, "fuzzer");
    let result =
        runner.run(&attack(token.clone()), |attack| check(&app, &runtime, (&charged, &balance), (&attack, &token)));
    if let Err(failure) = result {
        panic!("{failure}");
    }
    runtime.block_on(async {
        let spent: i64 = charged.borrow().values().map(Generation::cost).sum();
        let account = &app.graphql(Some(&token), FUNDS_QUERY, json!({})).await["data"]["account"];
        assert_eq!(account["wallet"]["balance"], json!(before - spent), "exactly the valid charges moved credits");
        let usage = json!({ "totalCount": charged.borrow().len(), "totalCredits": spent });
        assert_eq!(account["usage"], usage, "one usage event per valid key");
        app.assert_ledger_clean().await;
        assert_eq!(reqwest::get(format!("{}/healthz", app.base_url)).await.unwrap().status(), 200);
    });
}

async fn refusal(app: &TestApp, query: String) -> String {
    let response = app.graphql(None, &query, json!({})).await;
    let shown: String = response.to_string().chars().take(300).collect();
    assert!(response.get("data").is_none(), "not refused: {shown}");
    response["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn depth_complexity_aliases_and_batches_are_limited() {
    let app = TestApp::start().await;
    let deep =
        format!("{{ __schema {{ types {{ fields {{ type {}{{ name }}{}", "{ ofType ".repeat(20), " }".repeat(24));
    assert!(refusal(&app, deep).await.contains("nested too deep"));
    let aliases = |n: usize| (0..n).map(|i| format!("a{i}: tokenPacks {{ id }} ")).collect::<String>();
    assert!(refusal(&app, format!("{{ {} }}", aliases(101))).await.contains("aliases"));
    assert_eq!(app.data(None, &format!("{{ {} }}", aliases(100)), json!({})).await.as_object().unwrap().len(), 100);
    // Within the alias cap, aliases of wide subtrees still hit the complexity limit.
    let wide =
        "studios { kind name tools { code name unit } models { id name pro tools } options { name values { value } } }";
    let flood: String = (0..90).map(|i| format!("s{i}: {wide} ")).collect();
    assert!(refusal(&app, format!("{{ {flood} }}")).await.contains("too complex"));
    // Introspection stays on for GraphiQL.
    let schema = app.data(None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(schema["__schema"]["queryType"]["name"], "Query");
}
