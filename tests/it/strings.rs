//! String inputs (issue 16, point 2): each has a length limit and refuses
//! what a database cannot store (NUL) or an identifier has no use for
//! (control characters), with INVALID_INPUT naming the field, the same on
//! SQLite and PostgreSQL, and a refused request moves nothing. One table of
//! every string input of every operation drives the tests; the limits are
//! written out here, as the README gives them, so changing one is seen.
use credits::auth::Role;
use credits::graphql::checks::{StringInput, string_inputs};
use serde_json::{Value, json};

use crate::live::{open, receive, send};
use crate::support::TestApp;

/// The account the operations act on.
const ACCOUNT: &str = "strings";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    /// Letters, digits and `- _ . : @ |`.
    AccountId,
    /// No control character.
    Identifier,
    /// No control character but tab, line feed and carriage return.
    FreeText,
}

/// How an operation answers a value exactly at the limit: it passes the
/// string check and the operation goes on as it would.
#[derive(Clone, Copy, Debug)]
enum AtLimit {
    Accepted,
    /// Refused by a later rule with this code, not by the string check.
    Refused(&'static str),
}

/// Real ids for the inputs that name one.
struct Fixture {
    usage_event_id: Value,
    reservation_id: Value,
}

struct Operation {
    name: &'static str,
    role: Role,
    kind: Kind,
}

enum Kind {
    /// Takes `$input`, valid as this makes it, and answers a refusal in its payload.
    Mutation(fn(&Fixture) -> Value),
    /// This document, with the variables of `query_variables`; answers a
    /// refusal with a GraphQL error.
    Query(&'static str),
}

impl Operation {
    /// The document, and valid variables with `value` at `pointer`.
    fn request(&self, fixture: &Fixture, pointer: &str, value: &str) -> (String, Value) {
        let (document, mut variables) = match self.kind {
            Kind::Mutation(input) => {
                let name = self.name;
                let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
                let fields = "errors { code message field }";
                let document = format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ {fields} }} }}");
                (document, json!({ "input": input(fixture) }))
            }
            Kind::Query(document) => (document.to_owned(), query_variables()),
        };
        let at = variables.pointer_mut(pointer).unwrap_or_else(|| panic!("{} has no {pointer}", self.name));
        *at = json!(value);
        (document, variables)
    }
}

const fn mutation(name: &'static str, role: Role, input: fn(&Fixture) -> Value) -> Operation {
    Operation { name, role, kind: Kind::Mutation(input) }
}

const fn query(name: &'static str, role: Role, document: &'static str) -> Operation {
    Operation { name, role, kind: Kind::Query(document) }
}

fn generation() -> Value {
    json!({ "tool": "text-to-image", "modelId": "sdxl", "options": [{ "name": "resolution", "value": "512" }] })
}

/// Valid variables of every query (each declares those it takes).
fn query_variables() -> Value {
    let filter = json!({ "tools": ["text-to-image"], "modelIds": ["sdxl"] });
    let events = json!({ "types": ["tokens.purchased"], "accountId": ACCOUNT });
    json!({ "id": ACCOUNT, "input": generation(), "after": null, "before": null, "tz": "Europe/Paris", "filter": filter,
        "events": events })
}

static CONSUME: Operation = mutation(
    "consumeCredits",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "generation": generation(), "idempotencyKey": "consume" }),
);
static RESERVE: Operation = mutation(
    "reserveCredits",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "generation": generation(), "idempotencyKey": "reserve" }),
);
static CAPTURE: Operation =
    mutation("captureReservation", Role::Service, |f| json!({ "reservationId": f.reservation_id }));
static RELEASE: Operation =
    mutation("releaseReservation", Role::Service, |f| json!({ "reservationId": f.reservation_id }));
static REFUND: Operation =
    mutation("refundUsage", Role::Service, |f| json!({ "usageEventId": f.usage_event_id, "reason": "failed" }));
static PURCHASE: Operation = mutation(
    "purchaseTokens",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "packId": "tokens-500", "paymentReference": "pay", "idempotencyKey": "buy" }),
);
static GRANT: Operation = mutation(
    "grantCredits",
    Role::Admin,
    |_| json!({ "accountId": ACCOUNT, "credits": 10, "reason": "gift", "idempotencyKey": "grant" }),
);
static SUBSCRIBE: Operation = mutation(
    "subscribe",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "planCode": "CREATOR", "paymentReference": "upgrade" }),
);
static CANCEL: Operation = mutation("cancelSubscription", Role::Service, |_| json!({ "accountId": ACCOUNT }));
static THRESHOLD: Operation =
    mutation("setLowBalanceThreshold", Role::Service, |_| json!({ "accountId": ACCOUNT, "threshold": 5 }));
static SPEND_LIMIT: Operation =
    mutation("setSpendLimit", Role::Admin, |_| json!({ "accountId": ACCOUNT, "daily": 100 }));
static REQUEST_TOP_UP: Operation = mutation(
    "requestTopUp",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "packId": "tokens-500", "idempotencyKey": "top-up" }),
);
/// No such top-up: its other strings are checked before it is looked for.
static COMPLETE_TOP_UP: Operation =
    mutation("completeTopUp", Role::Service, |_| json!({ "topUpId": "999999", "paymentReference": "pay" }));
static FAIL_TOP_UP: Operation =
    mutation("failTopUp", Role::Service, |_| json!({ "topUpId": "999999", "reason": "declined" }));
static AUTO_TOP_UP: Operation = mutation(
    "setAutoTopUp",
    Role::Service,
    |_| json!({ "accountId": ACCOUNT, "enabled": false, "packId": "tokens-500" }),
);
static TOP_UPS: Operation = query(
    "topUps",
    Role::Service,
    "query($id: ID!, $after: String) { account(id: $id) { topUps(after: $after) { edges { cursor } } } }",
);
static QUOTE: Operation = query(
    "quote",
    Role::Service,
    "query($input: GenerationInput!, $id: ID) { quote(input: $input, accountId: $id) { credits } }",
);
static ACCOUNT_QUERY: Operation = query("account", Role::Service, "query($id: ID!) { account(id: $id) { id } }");
static USAGE: Operation = query(
    "usage",
    Role::Service,
    "query($id: ID!, $after: String, $before: String, $filter: UsageFilter) {
        account(id: $id) { usage(after: $after, before: $before, filter: $filter) { totalCount } } }",
);
static SUMMARY: Operation = query(
    "usageSummary",
    Role::Service,
    "query($id: ID!, $tz: String, $filter: UsageFilter) {
        account(id: $id) { usageSummary(groupBy: [DAY], timeZone: $tz, filter: $filter) { credits } } }",
);
static LEDGER: Operation = query(
    "ledger",
    Role::Service,
    "query($id: ID!, $after: String, $before: String) {
        account(id: $id) { ledger(after: $after, before: $before) { totalCount } } }",
);
static PLATFORM: Operation = query(
    "platformUsage",
    Role::Admin,
    "query($tz: String, $filter: UsageFilter) { platformUsage(groupBy: [DAY], timeZone: $tz, filter: $filter) { credits } }",
);
static SERIES: Operation = query(
    "usageSeries",
    Role::Service,
    "query($id: ID!, $tz: String, $filter: UsageFilter) {
        account(id: $id) { usageSeries(timeZone: $tz, filter: $filter) { credits } } }",
);
static PLATFORM_SERIES: Operation = query(
    "platformUsageSeries",
    Role::Admin,
    "query($tz: String, $filter: UsageFilter) { platformUsageSeries(timeZone: $tz, filter: $filter) { credits } }",
);
static TOP_ACCOUNTS: Operation =
    query("topAccounts", Role::Admin, "query($filter: UsageFilter) { topAccounts(filter: $filter) { credits } }");
static TOP_MODELS: Operation =
    query("topModels", Role::Admin, "query($filter: UsageFilter) { topModels(filter: $filter) { credits } }");

static CREATE_ENDPOINT: Operation = mutation(
    "createWebhookEndpoint",
    Role::Admin,
    |_| json!({ "url": "https://example.com/hook", "eventTypes": ["tokens.purchased"] }),
);
/// No such endpoint: its other strings are checked before it is looked for.
static UPDATE_ENDPOINT: Operation = mutation(
    "updateWebhookEndpoint",
    Role::Admin,
    |_| json!({ "id": "999999", "url": "https://example.com/", "eventTypes": ["tokens.purchased"] }),
);
static ROTATE_SECRET: Operation = mutation("rotateWebhookSecret", Role::Admin, |_| json!({ "id": "999999" }));
static DELETE_ENDPOINT: Operation = mutation("deleteWebhookEndpoint", Role::Admin, |_| json!({ "id": "999999" }));
static REPLAY: Operation =
    mutation("replayEvent", Role::Admin, |_| json!({ "eventId": "evt_999999", "endpointId": "999999" }));
static EVENTS: Operation = query(
    "events",
    Role::Admin,
    "query($after: String, $events: EventFilter) { events(after: $after, filter: $events) { edges { cursor } } }",
);
static ACCOUNT_EVENTS: Operation = query(
    "events",
    Role::Service,
    "query($id: ID!, $after: String, $events: EventFilter) {
        account(id: $id) { events(after: $after, filter: $events) { edges { cursor } } } }",
);

static UPSERT_TOOL: Operation = mutation(
    "upsertTool",
    Role::Admin,
    |_| json!({ "code": "strings-tool", "name": "Tool", "studio": "IMAGE", "unit": "OUTPUT", "requiresModel": true }),
);
static UPSERT_MODEL: Operation = mutation(
    "upsertModel",
    Role::Admin,
    |_| json!({ "id": "strings-model", "name": "Model", "studio": "IMAGE", "pro": false, "tools": ["text-to-image"] }),
);
static SET_PRICE: Operation = mutation(
    "setPrice",
    Role::Admin,
    |_| json!({ "tool": "text-to-image", "modelId": "sdxl", "millicreditsPerUnit": 3000 }),
);
static UPSERT_OPTION: Operation = mutation(
    "upsertOptionMultiplier",
    Role::Admin,
    |_| json!({ "studio": "IMAGE", "name": "resolution", "value": "4096", "multiplierPermille": 1000 }),
);
static UPSERT_PLAN: Operation = mutation(
    "upsertPlan",
    Role::Admin,
    |_| json!({ "code": "STRINGS", "name": "Plan", "priceCents": 100, "monthlyCredits": 100, "proAccess": true, "canBuyTokens": true }),
);
static UPSERT_PACK: Operation =
    mutation("upsertTokenPack", Role::Admin, |_| json!({ "id": "strings-pack", "tokens": 10, "priceCents": 100 }));
static RETIRE: Operation = mutation("retire", Role::Admin, |_| json!({ "kind": "TOKEN_PACK", "id": "no-such-pack" }));
static CATALOG_CHANGES: Operation = query(
    "catalogChanges",
    Role::Admin,
    "query($after: String) { catalogChanges(after: $after) { edges { cursor } } }",
);

/// The catalog operations, whose `name`, `value` and `id` are their own.
const CATALOG_OPERATIONS: [&str; 7] =
    ["upsertTool", "upsertModel", "setPrice", "upsertOptionMultiplier", "upsertPlan", "upsertTokenPack", "retire"];

/// A string input's limit as the README gives it: the field an error
/// names, the most characters, the class.
#[derive(Clone, Copy, Debug)]
struct Limit(&'static str, usize, Class);

const ACCOUNT_ID: Limit = Limit("accountId", 128, Class::AccountId);
const IDEMPOTENCY_KEY: Limit = Limit("idempotencyKey", 200, Class::Identifier);
const PAYMENT_REFERENCE: Limit = Limit("paymentReference", 200, Class::Identifier);
const REASON: Limit = Limit("reason", 500, Class::FreeText);
const TOOL: Limit = Limit("tool", 64, Class::Identifier);
const MODEL_ID: Limit = Limit("modelId", 64, Class::Identifier);
const OPTION: Limit = Limit("options", 64, Class::Identifier);
const PLAN_CODE: Limit = Limit("planCode", 64, Class::Identifier);
const PACK_ID: Limit = Limit("packId", 64, Class::Identifier);
const RESERVATION_ID: Limit = Limit("reservationId", 20, Class::Identifier);
const USAGE_EVENT_ID: Limit = Limit("usageEventId", 20, Class::Identifier);
const TOP_UP_ID: Limit = Limit("topUpId", 20, Class::Identifier);
const TOOLS: Limit = Limit("tools", 64, Class::Identifier);
const MODEL_IDS: Limit = Limit("modelIds", 64, Class::Identifier);
const AFTER: Limit = Limit("after", 128, Class::Identifier);
const BEFORE: Limit = Limit("before", 128, Class::Identifier);
const TIME_ZONE: Limit = Limit("timeZone", 64, Class::Identifier);
const URL: Limit = Limit("url", 2048, Class::Identifier);
const EVENT_TYPES: Limit = Limit("eventTypes", 64, Class::Identifier);
const TYPES: Limit = Limit("types", 64, Class::Identifier);
const ENDPOINT_AS_ID: Limit = Limit("id", 20, Class::Identifier);
const ENDPOINT_ID: Limit = Limit("endpointId", 20, Class::Identifier);
const EVENT_ID: Limit = Limit("eventId", 24, Class::Identifier);
const CODE: Limit = Limit("code", 64, Class::Identifier);
const CATALOG_ID: Limit = Limit("id", 64, Class::Identifier);
const NAME: Limit = Limit("name", 200, Class::Identifier);
const OPTION_NAME: Limit = Limit("name", 64, Class::Identifier);
const OPTION_VALUE: Limit = Limit("value", 64, Class::Identifier);

/// One string input of one operation: where it is in the variables, its
/// limit, and how the operation answers a value at that limit.
struct Case {
    operation: &'static Operation,
    pointer: String,
    limit: Limit,
    at_limit: AtLimit,
}

fn case(operation: &'static Operation, pointer: &str, limit: Limit, at_limit: AtLimit) -> Case {
    Case { operation, pointer: pointer.to_owned(), limit, at_limit }
}

fn cases() -> Vec<Case> {
    use AtLimit::{Accepted, Refused};
    let mut cases = Vec::new();
    for (operation, at) in [(&CONSUME, "/input/generation"), (&RESERVE, "/input/generation"), (&QUOTE, "/input")] {
        cases.extend([
            case(operation, &format!("{at}/tool"), TOOL, Refused("UNKNOWN_TOOL")),
            case(operation, &format!("{at}/modelId"), MODEL_ID, Refused("UNKNOWN_MODEL")),
            // No option has such a name or value.
            case(operation, &format!("{at}/options/0/name"), OPTION, Refused("INVALID_INPUT")),
            case(operation, &format!("{at}/options/0/value"), OPTION, Refused("INVALID_INPUT")),
        ]);
    }
    for operation in [&USAGE, &SUMMARY, &PLATFORM, &SERIES, &PLATFORM_SERIES, &TOP_ACCOUNTS, &TOP_MODELS] {
        cases.push(case(operation, "/filter/tools/0", TOOLS, Accepted));
        cases.push(case(operation, "/filter/modelIds/0", MODEL_IDS, Accepted));
    }
    let not_a_cursor = Refused("INVALID_INPUT");
    let no_such_zone = Refused("INVALID_INPUT");
    cases.extend([
        case(&CONSUME, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&CONSUME, "/input/idempotencyKey", IDEMPOTENCY_KEY, Accepted),
        case(&RESERVE, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&RESERVE, "/input/idempotencyKey", IDEMPOTENCY_KEY, Accepted),
        case(&CAPTURE, "/input/reservationId", RESERVATION_ID, Refused("NOT_FOUND")),
        case(&RELEASE, "/input/reservationId", RESERVATION_ID, Refused("NOT_FOUND")),
        case(&REFUND, "/input/usageEventId", USAGE_EVENT_ID, Refused("NOT_FOUND")),
        case(&REFUND, "/input/reason", REASON, Accepted),
        case(&PURCHASE, "/input/accountId", ACCOUNT_ID, Refused("SUBSCRIPTION_REQUIRED")),
        case(&PURCHASE, "/input/packId", PACK_ID, Refused("UNKNOWN_PACK")),
        case(&PURCHASE, "/input/paymentReference", PAYMENT_REFERENCE, Accepted),
        case(&PURCHASE, "/input/idempotencyKey", IDEMPOTENCY_KEY, Accepted),
        case(&GRANT, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&GRANT, "/input/reason", REASON, Accepted),
        case(&GRANT, "/input/idempotencyKey", IDEMPOTENCY_KEY, Accepted),
        case(&SUBSCRIBE, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&SUBSCRIBE, "/input/planCode", PLAN_CODE, Refused("UNKNOWN_PLAN")),
        case(&SUBSCRIBE, "/input/paymentReference", PAYMENT_REFERENCE, Accepted),
        case(&CANCEL, "/input/accountId", ACCOUNT_ID, Refused("SUBSCRIPTION_REQUIRED")),
        case(&THRESHOLD, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&SPEND_LIMIT, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&QUOTE, "/id", ACCOUNT_ID, Accepted),
        case(&ACCOUNT_QUERY, "/id", ACCOUNT_ID, Accepted),
        case(&USAGE, "/after", AFTER, not_a_cursor),
        case(&USAGE, "/before", BEFORE, not_a_cursor),
        case(&SUMMARY, "/tz", TIME_ZONE, no_such_zone),
        case(&PLATFORM, "/tz", TIME_ZONE, no_such_zone),
        case(&SERIES, "/tz", TIME_ZONE, no_such_zone),
        case(&PLATFORM_SERIES, "/tz", TIME_ZONE, no_such_zone),
        case(&LEDGER, "/after", AFTER, not_a_cursor),
        case(&LEDGER, "/before", BEFORE, not_a_cursor),
        case(&REQUEST_TOP_UP, "/input/accountId", ACCOUNT_ID, Refused("SUBSCRIPTION_REQUIRED")),
        case(&REQUEST_TOP_UP, "/input/packId", PACK_ID, Refused("UNKNOWN_PACK")),
        case(&REQUEST_TOP_UP, "/input/idempotencyKey", IDEMPOTENCY_KEY, Accepted),
        case(&COMPLETE_TOP_UP, "/input/topUpId", TOP_UP_ID, Refused("NOT_FOUND")),
        case(&COMPLETE_TOP_UP, "/input/paymentReference", PAYMENT_REFERENCE, Refused("NOT_FOUND")),
        case(&FAIL_TOP_UP, "/input/topUpId", TOP_UP_ID, Refused("NOT_FOUND")),
        case(&FAIL_TOP_UP, "/input/reason", REASON, Refused("NOT_FOUND")),
        case(&AUTO_TOP_UP, "/input/accountId", ACCOUNT_ID, Accepted),
        case(&AUTO_TOP_UP, "/input/packId", PACK_ID, Refused("UNKNOWN_PACK")),
        case(&TOP_UPS, "/after", AFTER, not_a_cursor),
        case(&CREATE_ENDPOINT, "/input/url", URL, Refused("INVALID_INPUT")),
        case(&CREATE_ENDPOINT, "/input/eventTypes/0", EVENT_TYPES, Refused("INVALID_INPUT")),
        case(&UPDATE_ENDPOINT, "/input/id", ENDPOINT_AS_ID, Refused("NOT_FOUND")),
        case(&UPDATE_ENDPOINT, "/input/url", URL, Refused("INVALID_INPUT")),
        case(&ROTATE_SECRET, "/input/id", ENDPOINT_AS_ID, Refused("NOT_FOUND")),
        case(&DELETE_ENDPOINT, "/input/id", ENDPOINT_AS_ID, Refused("NOT_FOUND")),
        case(&REPLAY, "/input/eventId", EVENT_ID, Refused("NOT_FOUND")),
        case(&REPLAY, "/input/endpointId", ENDPOINT_ID, Refused("NOT_FOUND")),
    ]);
    for operation in [&EVENTS, &ACCOUNT_EVENTS] {
        cases.push(case(operation, "/after", AFTER, not_a_cursor));
        cases.push(case(operation, "/events/types/0", TYPES, Accepted));
        cases.push(case(operation, "/events/accountId", ACCOUNT_ID, Accepted));
    }
    cases.push(case(&UPDATE_ENDPOINT, "/input/eventTypes/0", EVENT_TYPES, Refused("INVALID_INPUT")));
    let no_such_entry = Refused("INVALID_INPUT");
    cases.extend([
        case(&UPSERT_TOOL, "/input/code", CODE, Accepted),
        case(&UPSERT_TOOL, "/input/name", NAME, Accepted),
        case(&UPSERT_MODEL, "/input/id", CATALOG_ID, Accepted),
        case(&UPSERT_MODEL, "/input/name", NAME, Accepted),
        case(&UPSERT_MODEL, "/input/tools/0", TOOLS, no_such_entry),
        case(&SET_PRICE, "/input/tool", TOOL, no_such_entry),
        case(&SET_PRICE, "/input/modelId", MODEL_ID, no_such_entry),
        case(&UPSERT_OPTION, "/input/name", OPTION_NAME, Accepted),
        case(&UPSERT_OPTION, "/input/value", OPTION_VALUE, Accepted),
        case(&UPSERT_PLAN, "/input/code", CODE, Accepted),
        case(&UPSERT_PLAN, "/input/name", NAME, Accepted),
        case(&UPSERT_PACK, "/input/id", CATALOG_ID, Accepted),
        case(&RETIRE, "/input/id", CATALOG_ID, no_such_entry),
        case(&CATALOG_CHANGES, "/after", AFTER, not_a_cursor),
    ]);
    cases
}

/// Values every class refuses, and those only identifiers refuse.
fn refused_values(Limit(_, limit, class): Limit) -> Vec<String> {
    let mut controls = vec!['\0', '\u{1}', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'];
    if class != Class::FreeText {
        controls.extend(['\t', '\n', '\r']);
    }
    let mut values: Vec<String> = controls.iter().map(|c| format!("a{c}b")).collect();
    values.extend(["\0".to_owned(), "a".repeat(limit + 1), "é".repeat(limit + 1)]);
    values
}

/// A value of exactly `limit` characters, unique to case `index` (so keys
/// and references are new), of the characters the class allows: for
/// identifiers and free text, multi-byte ones, quotes and backslashes.
fn at_limit_value(Limit(_, limit, class): Limit, index: usize) -> String {
    let (start, fill) = match class {
        Class::AccountId => (format!("{index}-:@|._"), 'a'),
        Class::Identifier => (format!("{index}'\"\\\u{1F600}"), 'é'),
        Class::FreeText => (format!("{index} line\tone\r\nline two\n"), 'é'),
    };
    let mut value: String = start.chars().take(limit).collect();
    value.extend(std::iter::repeat_n(fill, limit - value.chars().count()));
    value
}

/// How a request was answered: null, or the first error as
/// `{ via, code, message, field }`, `via` saying whether it came in the
/// payload or as a GraphQL error.
async fn answer(app: &TestApp, case: &Case, fixture: &Fixture, value: &str) -> Value {
    let operation = case.operation;
    let (document, variables) = operation.request(fixture, &case.pointer, value);
    let response = app.graphql(Some(&app.token(operation.role, "caller")), &document, variables).await;
    if let Some(error) = response["errors"].get(0) {
        let code = &error["extensions"]["code"];
        let field = &error["extensions"]["field"];
        return json!({ "via": "graphql", "code": code, "message": error["message"], "field": field });
    }
    let error = match operation.kind {
        Kind::Mutation(_) => response["data"][operation.name]["errors"].get(0),
        Kind::Query(_) => None,
    };
    let payload =
        |e: &Value| json!({ "via": "payload", "code": e["code"], "message": e["message"], "field": e["field"] });
    error.map_or(Value::Null, payload)
}

/// Whether `answer` is the string check's refusal: its message starts with
/// the field (or, for account ids, with what one is made of).
fn is_string_refusal(answer: &Value, Limit(field, _, class): Limit) -> bool {
    let message = answer["message"].as_str().unwrap_or_default();
    match class {
        Class::AccountId => message.starts_with("an account id is 1 to 128"),
        _ => message.starts_with(&format!("{field} must ")),
    }
}

/// Everything a refused request could have moved: the account's wallet and
/// ledger, and how many accounts there are.
async fn state(app: &TestApp) -> (Value, Vec<Value>, Value) {
    let check = app.as_admin("{ ledgerCheck { accountsChecked clean } }", json!({})).await;
    (app.wallet(ACCOUNT).await, app.ledger(ACCOUNT).await, check["ledgerCheck"].clone())
}

async fn fixture(app: &TestApp) -> Fixture {
    let subscribed = app.subscribe(ACCOUNT, "STARTER", "setup").await;
    assert_eq!(subscribed["errors"], json!([]), "{subscribed}");
    let charged = app.consume(ACCOUNT, json!({ "tool": "text-to-image", "modelId": "sdxl" }), "setup-charge").await;
    let held = app.reserve(ACCOUNT, json!({ "tool": "text-to-image", "modelId": "sdxl" }), "setup-hold", None).await;
    let fixture = Fixture {
        usage_event_id: charged["usageEvent"]["id"].clone(),
        reservation_id: held["reservation"]["id"].clone(),
    };
    assert!(fixture.usage_event_id.is_string() && fixture.reservation_id.is_string(), "{charged} {held}");
    fixture
}

#[tokio::test]
async fn every_string_input_refuses_control_characters_and_overlong_values_and_takes_one_at_its_limit() {
    let app = TestApp::start().await;
    let fixture = fixture(&app).await;
    let cases = cases();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    for (index, case) in cases.iter().enumerate() {
        let name = format!("{} {}", case.operation.name, case.pointer);
        let Limit(field, length_max, _) = case.limit;
        let before = state(&app).await;
        // And one far past any limit, well within the body limit.
        let huge = "x".repeat(100_000);
        for value in refused_values(case.limit).into_iter().chain([huge]) {
            let answer = answer(&app, case, &fixture, &value).await;
            let shown: String = value.chars().take(12).collect();
            let via = if matches!(case.operation.kind, Kind::Mutation(_)) { "payload" } else { "graphql" };
            let refused = (&answer["via"], &answer["code"]);
            assert_eq!(refused, (&json!(via), &json!("INVALID_INPUT")), "{name} {shown:?}: {answer}");
            assert_eq!(answer["field"], json!(field), "{name} {shown:?}: {answer}");
            assert!(is_string_refusal(&answer, case.limit), "{name} {shown:?}: {answer}");
            if value.chars().count() > length_max {
                let message = answer["message"].as_str().unwrap_or_default();
                assert!(message.contains(&length_max.to_string()), "{name}: the limit is said: {answer}");
            }
        }
        assert_eq!(state(&app).await, before, "{name}: a refused request moved something");
        let value = at_limit_value(case.limit, index);
        assert_eq!(value.chars().count(), length_max);
        let answer = answer(&app, case, &fixture, &value).await;
        match case.at_limit {
            AtLimit::Accepted => assert_eq!(answer, Value::Null, "{name} at its limit"),
            AtLimit::Refused(code) => {
                assert_eq!(answer["code"], json!(code), "{name} at its limit: {answer}");
                assert!(!is_string_refusal(&answer, case.limit), "{name} at its limit: {answer}");
            }
        }
    }
    app.assert_ledger_clean().await;
}

#[test]
fn the_table_reaches_every_string_input_of_every_operation() {
    let cases = cases();
    let inputs = string_inputs(&credits::graphql::sdl()).expect("the schema parses");
    assert!(inputs.len() >= 45, "the schema reader finds the inputs: {inputs:?}");
    for StringInput { field: operation, input, .. } in inputs {
        // An option's name and value are reported as `options`, `account(id)` as
        // `accountId`; a webhook endpoint's `id` as itself.
        let catalog = CATALOG_OPERATIONS.contains(&operation.as_str());
        let field = match input.as_str() {
            "name" | "value" if !catalog => "options",
            "id" if !operation.contains("Webhook") && !catalog => "accountId",
            other => other,
        };
        let subscription = operation == "walletUpdated" && field == "accountId";
        let covered = cases.iter().any(|case| case.operation.name == operation && case.limit.0 == field);
        assert!(covered || subscription, "no case for {operation}({input})");
    }
}

/// `walletUpdated(accountId)` answers over WebSocket: a refused id is an
/// error in the first message, and no stream starts.
#[tokio::test]
async fn a_wallet_subscription_refuses_a_bad_account_id() {
    let app = TestApp::start().await;
    let token = app.token(Role::Service, "caller");
    let query = "subscription($id: ID) { walletUpdated(accountId: $id) { balance } }";
    for value in refused_values(ACCOUNT_ID) {
        let mut socket = open(&app.base_url, Some("graphql-transport-ws")).await;
        let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
        send(&mut socket, init).await;
        assert_eq!(receive(&mut socket).await.expect("an ack")["type"], "connection_ack");
        let payload = json!({ "query": query, "variables": { "id": value } });
        send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": payload })).await;
        let refused = receive(&mut socket).await.expect("an answer");
        let shown: String = value.chars().take(12).collect();
        assert_eq!(refused["type"], "next", "{shown:?}: {refused}");
        assert_eq!(refused["payload"]["errors"][0]["extensions"]["code"], "INVALID_INPUT", "{shown:?}: {refused}");
        assert_eq!(refused["payload"]["data"], Value::Null, "{shown:?}");
    }
}
