//! GraphiQL at `/` in Chromium, with every host but the server unreachable:
//! a query runs, the bearer token of `#token=` fills the headers editor and
//! stays in the tab, and a subscription runs over the page's WebSocket.
use credits::auth::Role;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::{requests_elsewhere, screenshot, wait_for, with_browser};
use crate::support::TestApp;

/// The CodeMirror editor inside the element `selector` names.
fn editor(selector: &str) -> String {
    format!("document.querySelector('{selector} .CodeMirror')?.CodeMirror")
}

const QUERY_EDITOR: &str = ".graphiql-query-editor";
const HEADERS_EDITOR: &str = ".graphiql-editor-tool .graphiql-editor:not(.hidden)";
const RESULT: &str = ".graphiql-response";

/// Opens GraphiQL and waits until its editors are there.
async fn open(browser: &Client, address: &str) {
    browser.goto(address).await.expect("open GraphiQL");
    editors_shown(browser).await;
}

async fn editors_shown(browser: &Client) {
    wait_for(browser, "the query editor", &format!("return !!{};", editor(QUERY_EDITOR))).await;
}

/// Puts `query` in the query editor and, once GraphiQL has parsed it (the
/// tab takes the operation's name, `<untitled>` for an anonymous one),
/// presses the run button: GraphiQL picks WebSocket or HTTP from the parsed
/// document, which trails the editor by a moment.
async fn run(browser: &Client, query: &str, tab_title: &str) {
    browser.execute(&format!("{}.setValue(arguments[0]);", editor(QUERY_EDITOR)), vec![json!(query)]).await.unwrap();
    let title =
        "return document.querySelector('.graphiql-tab-active .graphiql-tab-button')?.textContent === arguments[0];";
    let title = title.replace("arguments[0]", &json!(tab_title).to_string());
    wait_for(browser, &format!("the tab named {tab_title}"), &title).await;
    browser.find(Locator::Css(".graphiql-execute-button")).await.expect("the run button").click().await.unwrap();
}

/// The result pane's JSON, once it holds `expected` somewhere.
async fn result(browser: &Client, expected: &str) -> Value {
    let script =
        format!("const text = {}?.getValue() ?? ''; return text.includes(arguments[0]) && text;", editor(RESULT));
    let script = script.replace("arguments[0]", &json!(expected).to_string());
    let text = wait_for(browser, &format!("a result with {expected}"), &script).await;
    serde_json::from_str(text.as_str().expect("text")).expect("the result pane holds JSON")
}

async fn page_state(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect("read the page")
}

/// The headers editor's JSON.
async fn headers(browser: &Client) -> Value {
    let text = page_state(browser, &format!("return {}.getValue();", editor(HEADERS_EDITOR))).await;
    serde_json::from_str(text.as_str().expect("text")).expect("the headers editor holds JSON")
}

/// What the page's Content-Security-Policy refused, as the page noted it.
async fn csp_violations(browser: &Client) -> Value {
    page_state(browser, "return window.creditsGraphiQL.cspViolations;").await
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn graphiql_runs_a_query_with_the_network_to_anything_but_the_server_blocked() {
    let app = TestApp::start().await;
    let expected = app.data(None, "{ plans { code } }", json!({})).await;
    with_browser(async |browser| {
        open(&browser, &format!("{}/", app.base_url)).await;
        run(&browser, "{ plans { code } }", "<untitled>").await;
        let answer = result(&browser, "\"plans\"").await;
        screenshot(&browser, "graphiql").await;
        assert_eq!(answer, json!({ "data": expected }));
        assert_eq!(requests_elsewhere(&browser, &app.base_url).await, Vec::<String>::new());
        assert_eq!(csp_violations(&browser).await, json!([]));
        // The headers editor is open, ready for a token; a token typed in
        // is kept for the tab, and there again after a reload.
        assert_eq!(headers(&browser).await, json!({ "Authorization": "Bearer " }));
        let typed = json!({ "Authorization": "Bearer typed" }).to_string();
        browser
            .execute(&format!("{}.setValue(arguments[0]);", editor(HEADERS_EDITOR)), vec![json!(typed)])
            .await
            .unwrap();
        assert_eq!(page_state(&browser, "return sessionStorage.getItem('credits.token');").await, json!("typed"));
        browser.refresh().await.expect("reload");
        editors_shown(&browser).await;
        assert_eq!(headers(&browser).await, json!({ "Authorization": "Bearer typed" }));
    })
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn a_subscription_runs_from_graphiql_over_the_websocket_with_the_token_of_the_address() {
    let app = TestApp::start().await;
    let grant =
        |key: &str| json!({ "credits": 10, "reason": "browser test", "idempotencyKey": key, "proEligible": false });
    assert_eq!(app.grant("alice", grant("first")).await["errors"], json!([]));
    let token = app.token(Role::User, "alice");
    with_browser(async |browser| {
        open(&browser, &format!("{}/#token={token}", app.base_url)).await;
        assert_eq!(headers(&browser).await, json!({ "Authorization": format!("Bearer {token}") }));
        let kept = "return [location.hash, sessionStorage.getItem('credits.token'), document.cookie];";
        assert_eq!(page_state(&browser, kept).await, json!(["", token, ""]));

        run(&browser, "subscription Wallet { walletUpdated { balance } }", "Wallet").await;
        // The subscription starts when the server has the WebSocket's
        // `subscribe`; grant until a change reaches the page.
        let mut grants = 0;
        let text = loop {
            grants += 1;
            assert_eq!(app.grant("alice", grant(&format!("grant-{grants}"))).await["errors"], json!([]));
            let script = format!("return {}?.getValue() ?? '';", editor(RESULT));
            let text = page_state(&browser, &script).await;
            if text.as_str().is_some_and(|t| t.contains("walletUpdated")) {
                break text;
            }
            if grants == 100 {
                screenshot(&browser, "timeout-graphiql-subscription").await;
                panic!("no walletUpdated reached the page; its result pane: {text}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        };
        // The change came through the page's WebSocket, and only the
        // server's own origin resolves: the socket went to the server.
        screenshot(&browser, "graphiql-subscription").await;
        let answer: Value = serde_json::from_str(text.as_str().unwrap()).expect("JSON");
        let balance = answer["data"]["walletUpdated"]["balance"].as_i64().expect("a balance");
        assert!(balance > 10 && balance <= app.balance("alice").await, "{answer}");
        assert_eq!(requests_elsewhere(&browser, &app.base_url).await, Vec::<String>::new());
        assert_eq!(csp_violations(&browser).await, json!([]));
        let stored = page_state(&browser, "return JSON.stringify(localStorage);").await;
        assert!(!stored.as_str().unwrap().contains(&token), "the token reached localStorage: {stored}");
    })
    .await;
}
