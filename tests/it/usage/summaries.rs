//! Usage summaries in any zone and grouping, and the platform view.
use chrono::{Duration, TimeZone, Utc};
use credits::auth::Role;
use serde_json::{Value, json};

use super::{charge, charge_all, mixed_history, page};
use crate::support::{TestApp, graphql_error_code, start_time};

const SUMMARY: &str = "query($id: ID!, $groupBy: [UsageDimension!]!, $tz: String, $filter: UsageFilter) {
  account(id: $id) { usageSummary(groupBy: $groupBy, timeZone: $tz, filter: $filter) {
    periodStart studio tool model { id } generations outputs credits } } }";

async fn summary(app: &TestApp, account: &str, group_by: Value, tz: &str) -> Vec<(String, i64)> {
    let data = app.as_service(SUMMARY, json!({ "id": account, "groupBy": group_by, "tz": tz })).await;
    data["account"]["usageSummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["periodStart"].as_str().unwrap_or("").to_owned(), b["credits"].as_i64().unwrap()))
        .collect()
}

/// On PostgreSQL, summaries and totals are read with COPY, which takes no
/// bind parameters: the filter's values are written into the SQL as escaped
/// literals.
#[tokio::test]
async fn filter_values_with_quotes_and_backslashes_match_only_themselves() {
    let app = TestApp::start().await;
    let charges = mixed_history();
    charge_all(&app, "q", &charges).await;
    let hostile = ["it's", r"back\slash", r"\'", "'); DELETE FROM usage_rollups; --", "é\u{1F600}"];
    let with = |real: &'static str| hostile.iter().copied().chain([real]).collect::<Vec<_>>();
    let cases = [
        (json!({ "tools": with("text-to-video") }), json!(["TOOL"]), "tool", json!("text-to-video"), 19),
        (json!({ "modelIds": with("wan-2") }), json!(["MODEL"]), "model", json!({ "id": "wan-2" }), 10),
    ];
    for (filter, group_by, field, value, credits) in cases {
        let variables = json!({ "id": "q", "groupBy": group_by, "filter": filter });
        let data = app.as_service(SUMMARY, variables).await;
        let buckets = data["account"]["usageSummary"].as_array().unwrap();
        assert_eq!(buckets.len(), 1, "{filter}: {buckets:?}");
        assert_eq!((&buckets[0][field], buckets[0]["credits"].as_i64()), (&value, Some(credits)), "{filter}");
        let totals = page(&app, json!({ "id": "q", "first": 0, "filter": filter })).await;
        assert_eq!(totals["totalCredits"], credits, "{filter}");
        let platform = app
            .as_admin(
                "query($filter: UsageFilter) { platformUsage(filter: $filter, groupBy: []) { credits } }",
                json!({ "filter": filter }),
            )
            .await;
        assert_eq!(platform["platformUsage"], json!([{ "credits": credits.to_string() }]), "{filter}");
        let nothing = json!({ "tools": hostile, "modelIds": hostile });
        let totals = page(&app, json!({ "id": "q", "first": 0, "filter": nothing })).await;
        assert_eq!((&totals["totalCount"], &totals["totalCredits"]), (&json!(0), &json!(0)));
    }
    // PostgreSQL text cannot hold NUL: such a value is refused on both databases.
    for filter in [json!({ "tools": ["a\u{0}b"] }), json!({ "modelIds": ["\u{0}"] })] {
        let variables = json!({ "id": "q", "groupBy": ["DAY"], "filter": filter });
        let response = app.graphql(Some(&app.token(Role::Service, "s")), SUMMARY, variables).await;
        assert_eq!(graphql_error_code(&response), json!("INVALID_INPUT"), "{filter}: {response}");
    }
    // Nothing was changed by any of it.
    let all = page(&app, json!({ "id": "q", "first": 0 })).await;
    assert_eq!(all["totalCredits"], charges.iter().map(|c| c.credits).sum::<i64>());
}

#[tokio::test]
async fn summaries_follow_the_time_zone_across_day_and_month_boundaries() {
    let app = TestApp::start().await;
    let utc = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
    let charges = [
        charge(utc(3, 31, 23, 30), "upscale", None, "IMAGE", 2, json!({})),
        charge(utc(4, 1, 0, 30), "upscale", None, "IMAGE", 4, json!({ "count": 2 })),
        charge(utc(4, 1, 3, 15), "upscale", None, "IMAGE", 6, json!({ "count": 3 })),
    ];
    charge_all(&app, "tz", &charges).await;
    let day = |s: &str, c| (s.to_owned(), c);
    assert_eq!(
        summary(&app, "tz", json!(["DAY"]), "UTC").await,
        vec![day("2026-03-31T00:00:00+00:00", 2), day("2026-04-01T00:00:00+00:00", 10)]
    );
    // New York is at UTC-4: 19:30, 20:30 and 23:15 on March 31.
    assert_eq!(
        summary(&app, "tz", json!(["DAY"]), "America/New_York").await,
        vec![day("2026-03-31T04:00:00+00:00", 12)]
    );
    assert_eq!(
        summary(&app, "tz", json!(["MONTH"]), "America/New_York").await,
        vec![day("2026-03-01T05:00:00+00:00", 12)]
    );
    assert_eq!(
        summary(&app, "tz", json!(["MONTH"]), "UTC").await,
        vec![day("2026-03-01T00:00:00+00:00", 2), day("2026-04-01T00:00:00+00:00", 10)]
    );
    // Kolkata (UTC+5:30) is served from the events: 05:00, 06:00 and 08:45 on April 1.
    assert_eq!(summary(&app, "tz", json!(["DAY"]), "Asia/Kolkata").await, vec![day("2026-03-31T18:30:00+00:00", 12)]);
    // Tokyo (UTC+9): 08:30, 09:30 and 12:15 on April 1.
    assert_eq!(summary(&app, "tz", json!(["WEEK"]), "Asia/Tokyo").await, vec![day("2026-03-29T15:00:00+00:00", 12)]);
    let bad = app
        .graphql(
            Some(&app.token(Role::Service, "s")),
            SUMMARY,
            json!({ "id": "tz", "groupBy": ["DAY"], "tz": "Mars/Olympus" }),
        )
        .await;
    assert_eq!(graphql_error_code(&bad), json!("INVALID_INPUT"));
}

/// A figure as an account's `Int` or the platform's `BigInt` (a decimal string) gives it.
fn whole(figure: &Value) -> i64 {
    figure.as_i64().or_else(|| figure.as_str()?.parse().ok()).unwrap_or_else(|| panic!("not a whole number: {figure}"))
}

/// A local day's bucket as the API names it: when it starts, and its model.
type DayModel = (String, Option<String>);

const PLATFORM_SUMMARY: &str = "query($groupBy: [UsageDimension!]!, $tz: String, $filter: UsageFilter) {
  platformUsage(groupBy: $groupBy, timeZone: $tz, filter: $filter) { periodStart model { id } generations credits } }";

/// The summary `groupBy` asks for in `tz`, of an account or of the platform
/// (`None`), as `(period, model) -> (generations, credits)`.
async fn summary_by(
    app: &TestApp,
    account: Option<&str>,
    group_by: Value,
    tz: &str,
    filter: Value,
) -> std::collections::BTreeMap<DayModel, (i64, i64)> {
    let variables = json!({ "id": account, "groupBy": group_by, "tz": tz, "filter": filter });
    let buckets = match account {
        Some(_) => app.as_service(SUMMARY, variables).await["account"]["usageSummary"].take(),
        None => app.as_admin(PLATFORM_SUMMARY, variables).await["platformUsage"].take(),
    };
    let buckets = buckets.as_array().unwrap().iter();
    let keyed = buckets.map(|b| {
        let key = (b["periodStart"].as_str().unwrap().to_owned(), b["model"]["id"].as_str().map(str::to_owned));
        (key, (whole(&b["generations"]), whole(&b["credits"])))
    });
    let mut summary = std::collections::BTreeMap::new();
    for (key, counts) in keyed {
        assert!(summary.insert(key, counts).is_none(), "{tz}: one bucket per period and model");
    }
    summary
}

/// In a zone a whole number of hours from UTC, whole UTC days come from the
/// daily rollups and the hours they share with a neighbouring local day are
/// moved there from the hourly ones. Every generation must land on its own
/// local day, week and month, in zones either side of UTC, across their
/// daylight-saving changes, with refunds, with a range cut anywhere, for
/// the account and for the platform.
#[tokio::test]
async fn summaries_in_any_zone_count_each_generation_on_its_local_day() {
    let app = TestApp::start().await;
    let models = [("text-to-image", Some("sdxl"), 3), ("text-to-image", Some("flux-schnell"), 2), ("upscale", None, 2)];
    let first_day = Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap();
    let mut charges = Vec::new();
    // 72 days: ranges of 60 days and more are read as two halves at once.
    for day in 0..72i64 {
        for (n, hour) in [(day * 7) % 24, (day * 11 + 5) % 24, 23 - day % 3].into_iter().enumerate() {
            let (tool, model, credits) = models[(day as usize + n) % models.len()];
            let at = first_day
                + Duration::days(day)
                + Duration::hours(hour)
                + Duration::minutes((day * 13 + n as i64 * 29) % 60);
            charges.push(charge(at, tool, model, "IMAGE", credits, json!({})));
        }
    }
    charges.sort_by_key(|c| c.at);
    let events = charge_all(&app, "zones", &charges).await;
    let refunded: Vec<usize> = (0..charges.len()).filter(|i| i % 7 == 3).collect();
    for &i in &refunded {
        app.refund(&events[i]["id"]).await;
    }
    let at = |month, day, hour, minute| Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0).unwrap();
    let (cut, long_cut) = ((at(3, 13, 13, 37), at(4, 8, 7, 0)), (at(3, 12, 22, 13), at(5, 19, 3, 0)));
    let zones = [
        "UTC",
        "America/New_York",
        "America/Los_Angeles",
        "America/Santiago",
        "Europe/Berlin",
        "Asia/Tokyo",
        "Pacific/Auckland",
        "Asia/Kolkata",
        "Australia/Adelaide",
    ];
    for name in zones {
        let tz: chrono_tz::Tz = name.parse().unwrap();
        for (group_by, period) in [("DAY", 0), ("WEEK", 1), ("MONTH", 2)] {
            let cuts = [cut, long_cut].map(|cut| (Some(cut), json!({ "from": cut.0, "to": cut.1 })));
            for (range, filter) in [(None, Value::Null)].into_iter().chain(cuts) {
                let mut expected = std::collections::BTreeMap::<DayModel, (i64, i64)>::new();
                for (i, c) in charges.iter().enumerate() {
                    let inside = range.is_none_or(|(from, to)| from <= c.at && c.at < to);
                    if !inside {
                        continue;
                    }
                    // A wholly refunded generation keeps its bucket (for its
                    // refunded credits) and counts nothing else.
                    let (generations, credits) = if refunded.contains(&i) { (0, 0) } else { (1, c.credits) };
                    let date = c.at.with_timezone(&tz).date_naive();
                    let start = match period {
                        0 => date,
                        1 => {
                            date - chrono::Days::new(u64::from(chrono::Datelike::weekday(&date).num_days_from_monday()))
                        }
                        _ => chrono::Datelike::with_day(&date, 1).unwrap(),
                    };
                    let midnight = tz.from_local_datetime(&start.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap();
                    let model = c.generation["modelId"].as_str().map(str::to_owned);
                    let bucket = expected.entry((midnight.with_timezone(&Utc).to_rfc3339(), model)).or_default();
                    *bucket = (bucket.0 + generations, bucket.1 + credits);
                }
                // The platform's buckets are summed in SQL, the account's in Rust.
                for account in [Some("zones"), None] {
                    let actual = summary_by(&app, account, json!([group_by, "MODEL"]), name, filter.clone()).await;
                    assert_eq!(actual, expected, "{account:?} in {name}, by {group_by} and model, range {range:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn summaries_group_by_studio_tool_and_model_and_count_refunds_apart() {
    let app = TestApp::start().await;
    let charges = mixed_history();
    let events = charge_all(&app, "g", &charges).await;
    app.refund(&events[5]["id"]).await; // the second sdxl image, 3 credits
    let data = app.as_service(SUMMARY, json!({ "id": "g", "groupBy": ["MODEL"] })).await;
    let by_model: Vec<(Value, i64, i64)> = data["account"]["usageSummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["model"]["id"].clone(), b["generations"].as_i64().unwrap(), b["credits"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        by_model,
        vec![
            (json!("wan-2"), 1, 10),
            (json!("kling-1-6"), 1, 9),
            (json!("sdxl"), 1, 6),
            (Value::Null, 1, 4),
            (json!("standard-tts"), 1, 3),
            (json!("flux-schnell"), 1, 2),
        ]
    );
    let data = app
        .as_service(SUMMARY, json!({ "id": "g", "groupBy": ["STUDIO", "DAY"], "filter": { "studios": ["IMAGE"] } }))
        .await;
    let rows: Vec<(&str, &str, i64, i64)> = data["account"]["usageSummary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["periodStart"].as_str().unwrap(),
                b["studio"].as_str().unwrap(),
                b["outputs"].as_i64().unwrap(),
                b["credits"].as_i64().unwrap(),
            )
        })
        .collect();
    // The refunded image's day shows nothing charged (its refund apart).
    assert_eq!(
        rows,
        vec![
            ("2026-03-10T00:00:00+00:00", "IMAGE", 3, 8),
            ("2026-03-12T00:00:00+00:00", "IMAGE", 2, 4),
            ("2026-03-19T00:00:00+00:00", "IMAGE", 0, 0)
        ]
    );
    let totals = page(&app, json!({ "id": "g", "first": 1 })).await;
    assert_eq!((totals["totalCount"].clone(), totals["totalCredits"].clone()), (json!(6), json!(34)));
}

#[tokio::test]
async fn admins_see_platform_usage_and_the_top_accounts_and_models() {
    let app = TestApp::start().await;
    charge_all(&app, "big", &mixed_history()).await;
    app.clock.set(start_time());
    charge_all(
        &app,
        "small",
        &[charge(start_time() + Duration::days(41), "text-to-image", Some("sdxl"), "IMAGE", 3, json!({}))],
    )
    .await;
    let data = app
        .as_admin(
            "{ platformUsage(groupBy: [STUDIO]) { studio generations credits }
               topAccounts(limit: 2) { accountId generations credits }
               topModels(limit: 2) { model { id } credits } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["platformUsage"],
        json!([
            { "studio": "VIDEO", "generations": "2", "credits": "19" },
            { "studio": "IMAGE", "generations": "5", "credits": "18" },
            { "studio": "VOICE", "generations": "1", "credits": "3" }
        ])
    );
    assert_eq!(
        data["topAccounts"],
        json!([
            { "accountId": "big", "generations": "7", "credits": "37" },
            { "accountId": "small", "generations": "1", "credits": "3" }
        ])
    );
    assert_eq!(
        data["topModels"],
        json!([{ "model": { "id": "sdxl" }, "credits": "12" }, { "model": { "id": "wan-2" }, "credits": "10" }])
    );
    let user = app.graphql(Some(&app.token(Role::User, "big")), "{ topAccounts { credits } }", json!({})).await;
    assert_eq!(graphql_error_code(&user), json!("FORBIDDEN"));
}
