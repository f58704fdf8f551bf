//! The dashboard's usage analytics in Chromium, on demo data: what the
//! chart, the totals and the list show is what the API answers for the
//! view's filter, before and after changing the range and a filter and
//! turning a page; the address keeps the view; the CSV holds the filter's
//! rows; an admin sees the platform's top accounts and opens one.
use credits::auth::Role;
use fantoccini::Client;
use serde_json::{Value, json};

use super::dashboard::{busiest_account, click, demo_app, open, page};
use super::{screenshot, wait_for, with_browser, with_browser_and_downloads};
use crate::support::TestApp;

const ANALYTICS: &str = "query($filter: UsageFilter, $interval: UsageInterval!, $by: UsageDimension, $timeZone: String,
    $first: Int, $after: String, $last: Int, $before: String) { viewer {
    usageSeries(filter: $filter, interval: $interval, by: $by, top: 8, timeZone: $timeZone) {
      periods generations outputs credits series { key label credits totalCredits } }
    usage(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
      totalCount pageInfo { endCursor } edges { node { id credits } } } } }";

const ALL_USAGE: &str =
    "query($filter: UsageFilter, $after: String) { viewer { usage(filter: $filter, first: 100, after: $after) {
    pageInfo { hasNextPage endCursor } edges { node { id credits } } } } }";

/// The variables of the analytics' last answer, once the page shows it and
/// `ready` (a script on `query`, the variables) holds.
pub async fn shown_query(browser: &Client, what: &str, ready: &str) -> Value {
    let script = format!(
        "const section = document.querySelector('[data-query]');
         if (!section || !section.dataset.query || section.dataset.loading === 'true') return null;
         const query = JSON.parse(section.dataset.query);
         return ({ready}) ? query : null;"
    );
    wait_for(browser, what, &script).await
}

/// What the page shows: chart, totals and list.
async fn shown(browser: &Client) -> Value {
    let script = "const field = (name) => Number(document.querySelector(`[data-field=${name}]`).dataset.value);
        const chart = document.querySelector('[data-chart]');
        return {
          chart: chart ? JSON.parse(chart.dataset.chart) : null,
          totals: [field('totalCredits'), field('generations'), field('outputs'), field('listTotalCount')],
          list: [...document.querySelectorAll('[data-usage-id]')].map((row) => [row.dataset.usageId, Number(row.dataset.credits)]),
        };";
    page(browser, script).await
}

/// What the API answers for `variables`, in the shape of `shown`; and the
/// list's end cursor.
async fn answered(app: &TestApp, token: &str, variables: &Value) -> (Value, Value) {
    let data = app.data(Some(token), ANALYTICS, variables.clone()).await;
    let (series, usage) = (&data["viewer"]["usageSeries"], &data["viewer"]["usage"]);
    let list: Vec<Value> =
        usage["edges"].as_array().unwrap().iter().map(|e| json!([e["node"]["id"], e["node"]["credits"]])).collect();
    let chart = json!({ "periods": series["periods"], "series": series["series"] });
    let totals = json!([series["credits"], series["generations"], series["outputs"], usage["totalCount"]]);
    (json!({ "chart": chart, "totals": totals, "list": list }), usage["pageInfo"]["endCursor"].clone())
}

async fn assert_shows_the_api(browser: &Client, app: &TestApp, token: &str, variables: &Value) -> (Value, Value) {
    let (expected, cursor) = answered(app, token, variables).await;
    assert_eq!(shown(browser).await, expected, "for {variables}");
    (expected, cursor)
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn changing_the_range_or_a_filter_shows_the_chart_totals_and_list_the_api_answers() {
    let app = demo_app().await;
    let token = app.token(Role::User, &busiest_account(&app).await);
    with_browser(async |browser| {
        open(&browser, &app.base_url, &token, "").await;
        let first = shown_query(&browser, "the analytics", "true").await;
        let (last_30_days, _) = assert_shows_the_api(&browser, &app, &token, &first).await;
        assert_eq!(first["interval"], "DAY");
        assert_eq!(first["by"], "MODEL");

        click(&browser, "[data-range='90d']").await;
        let ninety =
            shown_query(&browser, "90 days", &format!("query.filter.from !== {}", first["filter"]["from"])).await;
        let (all_studios, _) = assert_shows_the_api(&browser, &app, &token, &ninety).await;
        assert_ne!(all_studios, last_30_days);

        click(&browser, "[data-filter=studios] summary").await;
        click(&browser, "[data-filter=studios] input[value=IMAGE]").await;
        let images =
            shown_query(&browser, "the image studio", "JSON.stringify(query.filter.studios) === '[\"IMAGE\"]'").await;
        assert_eq!(images["filter"]["from"], ninety["filter"]["from"]);
        let (image_only, cursor) = assert_shows_the_api(&browser, &app, &token, &images).await;
        assert_ne!(image_only, all_studios, "the demo data has more than images");
        screenshot(&browser, "dashboard-analytics").await;

        // The next page, as the API pages it.
        click(&browser, "[data-page=older]").await;
        let older = shown_query(&browser, "the older page", "query.after !== null").await;
        assert_eq!(older["after"], cursor);
        assert_shows_the_api(&browser, &app, &token, &older).await;

        // The address keeps the view: opened again, it shows the same.
        let address = page(&browser, "return location.search;").await;
        assert!(
            address.as_str().unwrap().contains("range=90d") && address.as_str().unwrap().contains("studios=IMAGE"),
            "{address}"
        );
        browser.refresh().await.expect("reload");
        let again = shown_query(&browser, "the reloaded view", "true").await;
        assert_eq!(again, images);
        assert_shows_the_api(&browser, &app, &token, &again).await;

        click(&browser, "[data-interval=WEEK]").await;
        let weeks = shown_query(&browser, "weeks", "query.interval === 'WEEK'").await;
        assert_shows_the_api(&browser, &app, &token, &weeks).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn the_csv_download_holds_the_rows_and_credits_of_the_filter() {
    let app = demo_app().await;
    let token = app.token(Role::User, &busiest_account(&app).await);
    with_browser_and_downloads(async |browser, downloads| {
        open(&browser, &app.base_url, &token, "?range=90d&studios=IMAGE,VIDEO").await;
        let view = shown_query(&browser, "the filtered view", "query.filter.studios?.length === 2").await;
        click(&browser, "[data-action=csv]").await;
        let started = std::time::Instant::now();
        let csv = loop {
            let saved = std::fs::read_dir(&downloads)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == "csv"));
            if let Some(path) = saved {
                break std::fs::read_to_string(path).expect("the CSV");
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "no CSV was saved");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("id,createdAt,studio,tool,model,count,units,credits,status,idempotencyKey,lotSplit")
        );
        // Neither the id nor anything before the credits is ever quoted.
        let rows: Vec<Value> = lines
            .map(|line| {
                let fields: Vec<&str> = line.splitn(9, ',').collect();
                json!([fields[0], fields[7].parse::<i64>().unwrap()])
            })
            .collect();

        let mut expected = Vec::new();
        let mut after = Value::Null;
        loop {
            let data = app.data(Some(&token), ALL_USAGE, json!({ "filter": view["filter"], "after": after })).await;
            let usage = &data["viewer"]["usage"];
            expected.extend(
                usage["edges"].as_array().unwrap().iter().map(|e| json!([e["node"]["id"], e["node"]["credits"]])),
            );
            if usage["pageInfo"]["hasNextPage"] != json!(true) {
                break;
            }
            after = usage["pageInfo"]["endCursor"].clone();
        }
        assert!(!expected.is_empty(), "the demo account has images or videos");
        assert_eq!(rows, expected);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs chromium and chromedriver"]
async fn an_admin_sees_the_platform_and_its_top_accounts_and_opens_one() {
    let app = demo_app().await;
    let token = app.token(Role::Admin, "operator");
    with_browser(async |browser| {
        open(&browser, &app.base_url, &token, "").await;
        let view = shown_query(&browser, "the platform", "true").await;
        let query = "query($filter: UsageFilter, $interval: UsageInterval!, $by: UsageDimension, $timeZone: String) {
            platformUsageSeries(filter: $filter, interval: $interval, by: $by, top: 8, timeZone: $timeZone) {
              periods refundedCredits series { key label credits totalCredits } }
            topAccounts(filter: $filter, limit: 10) { accountId credits } }";
        let expected = app.as_admin(query, view.clone()).await;
        let rows = "return [...document.querySelectorAll('[data-leaders=accounts] [data-row]')]
            .map((row) => [row.dataset.row, Number(row.dataset.credits)]);";
        let leaders: Vec<Value> =
            expected["topAccounts"].as_array().unwrap().iter().map(|a| json!([a["accountId"], a["credits"].to_string().trim_matches('"').parse::<i64>().unwrap()])).collect();
        assert!(!leaders.is_empty(), "the demo accounts spent credits in the last 30 days");
        assert_eq!(page(&browser, rows).await, json!(leaders));
        let chart = page(&browser, "return JSON.parse(document.querySelector('[data-chart]').dataset.chart);").await;
        assert_eq!(chart, json!({ "periods": expected["platformUsageSeries"]["periods"], "series": expected["platformUsageSeries"]["series"] }));
        let refunded = "return Number(document.querySelector('[data-field=refundedCredits]').dataset.value);";
        assert_eq!(page(&browser, refunded).await, expected["platformUsageSeries"]["refundedCredits"]);
        screenshot(&browser, "dashboard-platform").await;

        // Opening the first account shows its wallet, as the API has it.
        let first = leaders[0][0].as_str().unwrap().to_owned();
        click(&browser, "[data-leaders=accounts] [data-row] button").await;
        let script = format!("return document.querySelector('.wallet[data-account={}] [data-field=balance]')?.dataset.value;", json!(first));
        let balance = wait_for(&browser, "the account's wallet", &script).await;
        assert_eq!(balance.as_str().map(str::parse::<i64>), Some(Ok(app.balance(&first).await)));
        assert!(page(&browser, "return location.search;").await.as_str().unwrap().contains(&format!("account={first}")));
        shown_query(&browser, "the account's analytics", "true").await;
        // An account without limits shows none, and an admin gets no form for them.
        assert_eq!(page(&browser, "return document.querySelector('.limits');").await, Value::Null);
        screenshot(&browser, "dashboard-admin-account").await;
    })
    .await;
}
