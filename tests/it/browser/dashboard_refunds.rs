//! Refunds and spend limits on the dashboard, in Chromium on demo data:
//! refunded generations show their status and each refund's credits and
//! cause as `usage` answers them, and the totals the range's
//! `refundedCredits`; the wallet card shows the limits `wallet.spendLimit`
//! answers, follows a charge live, and sets and clears the user's own daily
//! limit (showing the API's refusal above an admin's).
use credits::auth::Role;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::dashboard::{busiest_account, click, demo_app, open, page, shown_wallet, until_live};
use super::dashboard_usage::shown_query;
use super::{screenshot, wait_for, with_browser};
use crate::spend_limits::{admin_sets, charge, limits_of, set_limit_as};
use crate::support::{TestApp, image};

const REFUNDS: &str = "query($filter: UsageFilter, $interval: UsageInterval!, $by: UsageDimension, $timeZone: String,
    $first: Int, $after: String, $last: Int, $before: String) { viewer {
    usageSeries(filter: $filter, interval: $interval, by: $by, top: 8, timeZone: $timeZone) { refundedCredits }
    usage(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      edges { node { id credits status refunds { credits cause } } } } } }";

/// The list's rows as `[id, credits, status, [[credits, cause], ...]]`, and
/// the refunded total.
async fn shown_refunds(browser: &Client) -> (Value, Value) {
    let script = "return [
        [...document.querySelectorAll('[data-usage-id]')].map((row) => [
          row.dataset.usageId, Number(row.dataset.credits), row.dataset.status,
          [...row.querySelectorAll('[data-refund-cause]')]
            .map((refund) => [Number(refund.dataset.refundCredits), refund.dataset.refundCause])]),
        Number(document.querySelector('[data-field=refundedCredits]').dataset.value)];";
    let shown = page(browser, script).await;
    (shown[0].clone(), shown[1].clone())
}

/// What the API answers for the page's variables, in the shape of `shown_refunds`.
async fn answered_refunds(app: &TestApp, token: &str, variables: &Value) -> (Value, Value) {
    let data = app.data(Some(token), REFUNDS, variables.clone()).await;
    let rows: Vec<Value> = data["viewer"]["usage"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            let refunds: Vec<Value> =
                node["refunds"].as_array().unwrap().iter().map(|r| json!([r["credits"], r["cause"]])).collect();
            json!([node["id"], node["credits"], node["status"], refunds])
        })
        .collect();
    (json!(rows), data["viewer"]["usageSeries"]["refundedCredits"].clone())
}

/// The visible text of the row of usage event `id`.
async fn row_text(browser: &Client, id: &Value) -> String {
    let script = format!("return document.querySelector('[data-usage-id=\"' + {id} + '\"]').innerText;");
    page(browser, &script).await.as_str().unwrap().to_owned()
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn refunded_generations_show_their_status_credits_and_causes_and_the_totals_the_refunded_credits() {
    let app = demo_app().await;
    let account = busiest_account(&app).await;
    let grant = json!({ "credits": 200, "reason": "browser test", "idempotencyKey": "refunds" });
    assert_eq!(app.grant(&account, grant).await["errors"], json!([]));
    // A whole refund, and a generation refunded in two parts of two causes.
    let whole = app.consume(&account, image(2), "refunded-whole").await["usageEvent"]["id"].clone();
    let parts = app.consume(&account, image(3), "refunded-parts").await["usageEvent"]["id"].clone();
    for (id, input) in [
        (&whole, json!({ "cause": "PROVIDER_ERROR" })),
        (&parts, json!({ "cause": "OUTPUT_MODERATED", "credits": 4 })),
        (&parts, json!({ "cause": "TIMEOUT", "credits": 2 })),
    ] {
        assert_eq!(app.refund_with(id, input).await["errors"], json!([]));
    }
    let token = app.token(Role::User, &account);
    with_browser(async |browser| {
        open(&browser, &app.base_url, &token, "").await;
        let variables = shown_query(&browser, "the analytics", "true").await;
        let (rows, refunded) = shown_refunds(&browser).await;
        assert_eq!((rows.clone(), refunded.clone()), answered_refunds(&app, &token, &variables).await);
        let row = |id: &Value| rows.as_array().unwrap().iter().find(|row| row[0] == *id).cloned();
        assert_eq!(row(&whole), Some(json!([whole, 6, "REFUNDED", [[6, "PROVIDER_ERROR"]]])));
        assert_eq!(
            row(&parts),
            Some(json!([parts, 9, "PARTIALLY_REFUNDED", [[4, "OUTPUT_MODERATED"], [2, "TIMEOUT"]]]))
        );
        assert!(refunded.as_i64().unwrap() >= 12, "the range's refunds include these: {refunded}");
        // In words, as a person reads them.
        let text = row_text(&browser, &parts).await;
        for words in ["partly refunded", "−4 · output moderated", "−2 · timed out"] {
            assert!(text.contains(words), "{words:?} in {text:?}");
        }
        let text = row_text(&browser, &whole).await;
        assert!(text.contains("refunded") && text.contains("−6 · provider error"), "{text:?}");
        let list = "const top = document.querySelector('.generations').getBoundingClientRect().top;
            window.scrollTo(0, top + window.scrollY - 110); return true;";
        page(&browser, list).await;
        screenshot(&browser, "dashboard-refunds").await;

        // A filter narrows the refunded total as the API does.
        page(&browser, "window.scrollTo(0, 0); return true;").await;
        click(&browser, "[data-filter=studios] summary").await;
        click(&browser, "[data-filter=studios] input[value=VIDEO]").await;
        let videos =
            shown_query(&browser, "the video studio", "JSON.stringify(query.filter.studios) === '[\"VIDEO\"]'").await;
        let (video_rows, video_refunded) = shown_refunds(&browser).await;
        assert_eq!((video_rows, video_refunded.clone()), answered_refunds(&app, &token, &videos).await);
        assert_ne!(video_refunded, refunded, "the image refunds are not videos'");
    })
    .await;
}

/// The limits the wallet card shows, as numbers (missing ones null).
async fn shown_limits(browser: &Client) -> Value {
    let shown = shown_wallet(browser).await;
    let field = |name: &str| shown[name].as_str().map_or(Value::Null, |v| json!(v.parse::<i64>().unwrap()));
    json!({ "daily": field("dailyLimit"), "dailyLeft": field("dailyLeft"), "dailySpent": field("dailySpent"),
        "perGeneration": field("perGenerationLimit"), "dailyResetsAt": shown["dailyResetsAt"] })
}

fn expected_limits(limits: &Value) -> Value {
    json!({ "daily": limits["daily"], "dailyLeft": limits["dailyLeft"], "dailySpent": limits["dailySpent"],
        "perGeneration": limits["perGeneration"], "dailyResetsAt": limits["dailyResetsAt"] })
}

/// Saves the page scrolled down to the wallet card's limits.
async fn screenshot_limits(browser: &Client, name: &str) {
    page(browser, "document.querySelector('.limits').scrollIntoView({ block: 'end' }); return true;").await;
    screenshot(browser, name).await;
}

/// Types `daily` into the form of the user's own daily limit and saves it.
async fn set_own_limit(browser: &Client, daily: i64) {
    click(browser, "[data-action=set-limit]").await;
    let input = browser.find(Locator::Css("input[name=daily]")).await.expect("the daily limit's input");
    input.clear().await.expect("clear the input");
    input.send_keys(&daily.to_string()).await.expect("type the limit");
    click(browser, "[data-action=save-limit]").await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_wallet_shows_the_spend_limits_follows_a_charge_and_sets_the_users_own_daily_limit() {
    let app = demo_app().await;
    let account = busiest_account(&app).await;
    let grant = json!({ "credits": 200, "reason": "browser test", "idempotencyKey": "limits" });
    assert_eq!(app.grant(&account, grant).await["errors"], json!([]));
    let token = app.token(Role::User, &account);
    with_browser(async |browser| {
        // Without limits, none is shown; only the way to set one.
        open(&browser, &app.base_url, &token, "").await;
        assert_eq!(shown_limits(&browser).await, expected_limits(&json!({})));
        let only_the_link = "return !!document.querySelector('[data-action=set-limit]')
            && !document.querySelector('.limits h3');";
        assert_eq!(page(&browser, only_the_link).await, json!(true));

        // An admin's limits, 20 credits above what today counts already.
        let spent = admin_sets(&app, &account, json!({ "daily": 1_000_000 })).await["dailySpent"].as_i64().unwrap();
        let admin_daily = spent + 20;
        let limits = admin_sets(&app, &account, json!({ "daily": admin_daily, "perGeneration": 40 })).await;
        browser.refresh().await.expect("reload");
        wait_for(&browser, "the limits", "return !!document.querySelector('[data-field=dailyLimit]');").await;
        assert_eq!(shown_limits(&browser).await, expected_limits(&limits));
        assert_eq!(limits["dailyLeft"], json!(20));

        // A charge moves what is left, live (walletUpdated carries the limits).
        until_live(&app, &browser, &account).await;
        let charged = charge(&app, &account, image(2), "limited-charge").await;
        assert_eq!(charged["errors"], json!([]));
        let left = charged["wallet"]["spendLimit"]["dailyLeft"].clone();
        assert_eq!(left, json!(14));
        let script = format!("return document.querySelector('[data-field=dailyLeft]')?.dataset.value === '{left}';");
        wait_for(&browser, "what is left after the charge", &script).await;
        assert_eq!(shown_limits(&browser).await, expected_limits(&limits_of(&app, &account).await));
        screenshot_limits(&browser, "dashboard-spend-limits").await;

        // Above the admin's limit, the page says what the API says, and nothing changes.
        set_own_limit(&browser, admin_daily + 1).await;
        let refusal = "return document.querySelector('[data-error=spend-limit]')?.textContent;";
        let refusal = wait_for(&browser, "the refusal", refusal).await;
        let api = set_limit_as(&app, &token, json!({ "daily": admin_daily + 1 })).await;
        assert_eq!(refusal, api["data"]["setSpendLimit"]["errors"][0]["message"]);
        assert_eq!(limits_of(&app, &account).await["userDaily"], Value::Null);
        screenshot_limits(&browser, "dashboard-spend-limit-refused").await;
        click(&browser, ".limit-form button.link").await;

        // At today's count: the limit is reached, and the page says so.
        let spent = limits_of(&app, &account).await["dailySpent"].as_i64().unwrap();
        set_own_limit(&browser, spent).await;
        wait_for(&browser, "the reached limit", "return !!document.querySelector('[data-notice=daily-limit]');").await;
        let limits = limits_of(&app, &account).await;
        assert_eq!(
            [&limits["userDaily"], &limits["daily"], &limits["dailyLeft"]],
            [&json!(spent), &json!(spent), &json!(0)]
        );
        assert_eq!(shown_limits(&browser).await, expected_limits(&limits));
        page(&browser, "window.scrollTo(0, 0); return true;").await;
        screenshot(&browser, "dashboard-spend-limit-reached").await;

        // Cleared: the admin's limit applies again.
        click(&browser, "[data-action=clear-limit]").await;
        wait_for(&browser, "the cleared limit", "return !document.querySelector('[data-notice=daily-limit]');").await;
        let limits = limits_of(&app, &account).await;
        assert_eq!((limits["userDaily"].clone(), limits["daily"].clone()), (Value::Null, json!(admin_daily)));
        assert_eq!(shown_limits(&browser).await, expected_limits(&limits));
    })
    .await;
}
