//! The dashboard at `/dashboard` in Chromium, against the real server on
//! demo data: the wallet as `viewer { wallet }` says it and following a
//! charge live, "Buy tokens", and the errors a person can meet (an expired
//! or refused token, an empty account, a server that went away). The
//! analytics and the admin's views are in `dashboard_usage`.
use std::time::{Duration, Instant};

use chrono::Utc;
use credits::auth::Role;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::{requests_elsewhere, screenshot, wait_for, with_browser};
use crate::proxy::Proxy;
use crate::support::{SECRET, TestApp, image};

/// A server over demo data: a few accounts with three months of usage up to
/// now (the server's clock is set to now, as the data's end).
pub async fn demo_app() -> TestApp {
    let app = TestApp::start().await;
    let database = &app.database.options;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_credits"));
    command.args(["demo-data", "--accounts", "4", "--events", "600", "--months", "3", "--seed", "19"]);
    command.args(["--database-url", &database.url]);
    if let Some(schema) = &database.schema {
        command.args(["--database-schema", schema]);
    }
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run credits demo-data");
    assert!(output.status.success(), "demo-data failed: {}", String::from_utf8_lossy(&output.stderr));
    app.clock.set(Utc::now());
    app
}

/// The demo account that spent the most credits.
pub async fn busiest_account(app: &TestApp) -> String {
    let filter = json!({ "from": (Utc::now() - chrono::Duration::days(400)).to_rfc3339() });
    let query = "query($filter: UsageFilter) { topAccounts(filter: $filter, limit: 1) { accountId } }";
    let data = app.as_admin(query, json!({ "filter": filter })).await;
    data["topAccounts"][0]["accountId"].as_str().expect("a demo account with usage").to_owned()
}

/// Opens the dashboard at `base` (the server, or a proxy to it) with the
/// token in the address, and the query string `view` (may be empty).
pub async fn open(browser: &Client, base: &str, token: &str, view: &str) {
    browser.goto(&format!("{base}/dashboard{view}#token={token}")).await.expect("open the dashboard");
}

pub async fn page(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect("read the page")
}

pub async fn click(browser: &Client, selector: &str) {
    let what = format!("the element {selector}");
    wait_for(browser, &what, &format!("return !!document.querySelector({});", json!(selector))).await;
    browser.find(Locator::Css(selector)).await.expect("the element").click().await.expect("click");
}

/// The wallet card's figures, by their `data-field`, as numbers.
pub async fn shown_wallet(browser: &Client) -> Value {
    let script = "const shown = {};
        document.querySelectorAll('.wallet [data-field]').forEach((e) => { shown[e.dataset.field] = e.dataset.value; });
        return shown;";
    wait_for(browser, "the wallet", "return !!document.querySelector('.wallet [data-field=balance]');").await;
    page(browser, script).await
}

async fn shown_balance(browser: &Client) -> Option<i64> {
    let script = "return document.querySelector('.wallet [data-field=balance]')?.dataset.value ?? null;";
    page(browser, script).await.as_str().and_then(|value| value.parse().ok())
}

/// Waits until the page follows `account`'s wallet live. Until a change
/// reaches the page, the subscription may not have started on the server:
/// grants a credit at a time until one shows.
pub async fn until_live(app: &TestApp, browser: &Client, account: &str) {
    wait_for(browser, "the live wallet", "return !!document.querySelector('.live-live');").await;
    let mut grants = 0;
    loop {
        grants += 1;
        let grant = json!({ "credits": 1, "reason": "browser test", "idempotencyKey": format!("warm-{grants}") });
        let balance = app.grant(account, grant).await["wallet"]["balance"].as_i64();
        let started = Instant::now();
        while shown_balance(browser).await != balance && started.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if shown_balance(browser).await == balance {
            break;
        }
        assert!(grants < 30, "no wallet change reached the page");
    }
}

const WALLET: &str =
    "balance proBalance dailyFree dailyFreeResetsAt subscriptionCredits subscriptionPercentLeft tokens promo held";

async fn assert_no_csp_violation_nor_foreign_request(browser: &Client, base: &str) {
    assert_eq!(page(browser, "return window.creditsDashboard.cspViolations;").await, json!([]));
    assert_eq!(requests_elsewhere(browser, base).await, Vec::<String>::new());
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_wallet_shows_what_the_api_says_and_follows_a_charge_without_a_reload() {
    let app = demo_app().await;
    let account = busiest_account(&app).await;
    assert_eq!(
        app.grant(&account, json!({ "credits": 200, "reason": "browser test", "idempotencyKey": "top" })).await["errors"],
        json!([])
    );
    let token = app.token(Role::User, &account);
    with_browser(async |browser| {
        open(&browser, &app.base_url, &token, "").await;
        let shown = shown_wallet(&browser).await;
        let wallet = app.data(Some(&token), &format!("{{ viewer {{ wallet {{ {WALLET} }} }} }}"), json!({})).await;
        let wallet = &wallet["viewer"]["wallet"];
        for field in ["balance", "proBalance", "dailyFree", "subscriptionCredits", "tokens", "promo", "held"] {
            assert_eq!(shown[field].as_str().map(str::parse::<i64>), Some(Ok(wallet[field].as_i64().unwrap())), "{field}: {shown}");
        }
        let percent: f64 = shown["subscriptionPercentLeft"].as_str().unwrap().parse().unwrap();
        assert_eq!(percent, wallet["subscriptionPercentLeft"].as_f64().unwrap());
        assert_eq!(shown["dailyFreeResetsAt"], wallet["dailyFreeResetsAt"]);
        // The token left the address for the tab's storage, and nowhere else.
        let kept = "return [location.hash, sessionStorage.getItem('credits.token'), document.cookie, JSON.stringify(localStorage)];";
        assert_eq!(page(&browser, kept).await, json!(["", token, "", "{}"]));

        until_live(&app, &browser, &account).await;
        // A charge through the API moves the balance on screen within two seconds.
        let charged = app.consume(&account, image(2), "dashboard-live-charge").await;
        assert_eq!(charged["errors"], json!([]));
        let balance = charged["wallet"]["balance"].as_i64();
        let started = Instant::now();
        while shown_balance(&browser).await != balance {
            assert!(started.elapsed() < Duration::from_secs(2), "the balance did not follow the charge: {:?}", shown_balance(&browser).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        screenshot(&browser, "dashboard-wallet").await;
        assert_no_csp_violation_nor_foreign_request(&browser, &app.base_url).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn buy_tokens_creates_a_pending_top_up_that_the_api_shows_and_follows_its_payment() {
    let app = demo_app().await;
    assert_eq!(app.subscribe("buyer", "STARTER", "pay-buyer").await["errors"], json!([]));
    let token = app.token(Role::User, "buyer");
    with_browser(async |browser| {
        open(&browser, &app.base_url, &token, "").await;
        click(&browser, ".balance button.primary").await;
        click(&browser, "dialog [data-pack]").await;
        let pack = page(&browser, "return document.querySelector('dialog [data-pack]').dataset.pack;").await;
        let script = "return document.querySelector('dialog [data-status=PENDING]')?.dataset.topUp ?? null;";
        let shown = wait_for(&browser, "a pending top-up", script).await;
        screenshot(&browser, "dashboard-buy-tokens").await;
        let query = "{ viewer { topUps(first: 10) { nodes { id status pack { id } } } } }";
        let top_ups = app.data(Some(&token), query, json!({})).await["viewer"]["topUps"]["nodes"].clone();
        assert_eq!(top_ups, json!([{ "id": shown, "status": "PENDING", "pack": { "id": pack } }]));

        // The payments backend completes it: the dialog and the wallet follow.
        let complete = "mutation($input: CompleteTopUpInput!) { completeTopUp(input: $input) { wallet { tokens } errors { code } } }";
        let done = app.as_service(complete, json!({ "input": { "topUpId": shown, "paymentReference": "pi-browser" } })).await;
        assert_eq!(done["completeTopUp"]["errors"], json!([]));
        wait_for(&browser, "the paid top-up", "return !!document.querySelector('dialog [data-status=SUCCEEDED]');").await;
        let tokens = done["completeTopUp"]["wallet"]["tokens"].to_string();
        let script = format!("return document.querySelector('.wallet [data-field=tokens]')?.dataset.value === {};", json!(tokens));
        wait_for(&browser, "the bought tokens in the wallet", &script).await;
        assert_no_csp_violation_nor_foreign_request(&browser, &app.base_url).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn an_expired_or_refused_token_an_empty_account_and_a_server_gone_away_are_said_clearly() {
    let app = demo_app().await;
    let expired = {
        let claims = credits::auth::Claims { sub: "alice".into(), role: Role::User, exp: Some(1_000), iat: None };
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    let foreign = credits::auth::Auth::new("another-secret").issue(Role::User, "alice", None).unwrap();
    // The page goes through a proxy, which the test cuts as if the server stopped.
    let proxy = Proxy::start(app.base_url.trim_start_matches("http://").parse().unwrap()).await;
    let base = format!("http://{}", proxy.address);
    with_browser(async |browser| {
        open(&browser, &base, &expired, "").await;
        let error = wait_for(
            &browser,
            "the token's error",
            "return document.querySelector('[data-error=token]')?.textContent;",
        )
        .await;
        assert!(error.as_str().unwrap().contains("expired on"), "{error}");
        screenshot(&browser, "dashboard-expired-token").await;

        open(&browser, &base, &foreign, "").await;
        let error =
            wait_for(&browser, "the refusal", "return document.querySelector('[data-error=token]')?.textContent;")
                .await;
        assert!(error.as_str().unwrap().contains("refused this token"), "{error}");

        open(&browser, &base, &app.token(Role::User, "newcomer"), "").await;
        let empty = wait_for(
            &browser,
            "the empty account",
            "return document.querySelector('[data-empty=account]')?.textContent;",
        )
        .await;
        assert!(empty.as_str().unwrap().contains("Nothing generated"), "{empty}");
        assert_eq!(shown_wallet(&browser).await["balance"], json!("50"), "a new account has its daily free credits");
        screenshot(&browser, "dashboard-empty-account").await;

        proxy.cut().await;
        click(&browser, "[data-range='7d']").await;
        let down = wait_for(
            &browser,
            "the unreachable server",
            "return document.querySelector('[data-error=unreachable]')?.textContent;",
        )
        .await;
        assert!(down.as_str().unwrap().contains("cannot be reached"), "{down}");
        screenshot(&browser, "dashboard-server-down").await;
        proxy.restore();
        click(&browser, "[data-error=unreachable] button").await;
        wait_for(&browser, "the server back", "return !document.querySelector('[data-error=unreachable]');").await;
    })
    .await;
}
