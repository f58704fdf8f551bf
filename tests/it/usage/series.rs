//! `usageSeries` and `platformUsageSeries`, checked against sums worked out
//! here from the events the tests charged.
use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use credits::auth::Role;
use serde_json::{Value, json};

use super::{Charge, charge, charge_all};
use crate::support::{TestApp, graphql_error_code};

const LINES: &str = "periods generations outputs credits
    series { key label other studio tool model { id } generations outputs credits totalCredits }";

fn series_query(field: &str) -> String {
    let args = "filter: $filter, interval: $interval, by: $by, top: $top, timeZone: $tz";
    let vars = "$filter: UsageFilter, $interval: UsageInterval! = DAY, $by: UsageDimension, $top: Int = 8, $tz: String";
    match field {
        "account" => format!("query($id: ID!, {vars}) {{ account(id: $id) {{ usageSeries({args}) {{ {LINES} }} }} }}"),
        "viewer" => format!("query({vars}) {{ viewer {{ usageSeries({args}) {{ {LINES} }} }} }}"),
        _ => format!("query({vars}) {{ platformUsageSeries({args}) {{ {LINES} }} }}"),
    }
}

async fn series(app: &TestApp, account: &str, variables: Value) -> Value {
    let mut variables = variables;
    variables["id"] = json!(account);
    app.as_service(&series_query("account"), variables).await["account"]["usageSeries"].take()
}

fn at(text: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// The start of the period of `date` as this test works it out.
fn period_start(date: NaiveDate, interval: &str) -> NaiveDate {
    match interval {
        "DAY" => date,
        "WEEK" => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        _ => date.with_day(1).unwrap(),
    }
}

fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap()).earliest().unwrap().with_timezone(&Utc)
}

/// A line's key as the contract names it, for a charged event.
fn key_of(by: Option<&str>, event: &Value) -> String {
    match by {
        None => "all".into(),
        Some("STUDIO") => format!("studio:{}", event["studio"].as_str().unwrap()),
        Some("TOOL") => format!("tool:{}", event["tool"].as_str().unwrap()),
        _ => format!("model:{}", event["model"]["id"].as_str().unwrap_or("")),
    }
}

type Figures = (Vec<i64>, Vec<i64>, Vec<i64>);

/// The periods and each line's figures that the events in `[from, to)`, less
/// the refunded ones, add up to.
fn expected(
    charges: &[Charge],
    events: &[Value],
    refunded: &[usize],
    (tz, interval, by): (Tz, &str, Option<&str>),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> (Vec<DateTime<Utc>>, BTreeMap<String, Figures>) {
    let mut starts = Vec::new();
    let mut date = period_start(from.with_timezone(&tz).date_naive(), interval);
    while midnight(date, tz) < to {
        starts.push(date);
        date = match interval {
            "DAY" => date + Days::new(1),
            "WEEK" => date + Days::new(7),
            _ => date.checked_add_months(chrono::Months::new(1)).unwrap(),
        };
    }
    let mut lines = BTreeMap::<String, Figures>::new();
    if by.is_none() {
        lines.insert("all".into(), (vec![0; starts.len()], vec![0; starts.len()], vec![0; starts.len()]));
    }
    for (i, (charge, event)) in charges.iter().zip(events).enumerate() {
        if refunded.contains(&i) || charge.at < from || charge.at >= to {
            continue;
        }
        let start = period_start(charge.at.with_timezone(&tz).date_naive(), interval);
        let index = starts.iter().position(|s| *s == start).unwrap();
        let n = starts.len();
        let line = lines.entry(key_of(by, event)).or_insert_with(|| (vec![0; n], vec![0; n], vec![0; n]));
        line.0[index] += 1;
        line.1[index] += event["count"].as_i64().unwrap();
        line.2[index] += event["credits"].as_i64().unwrap();
    }
    (starts.into_iter().map(|d| midnight(d, tz)).collect(), lines)
}

fn numbers(value: &Value) -> Vec<i64> {
    value.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect()
}

/// Charges over 18 days around a month's end (March 31) and a week's
/// (Sunday April 5), at hours that fall on other days in New York and
/// Kolkata, on three studios and five models; every fifth refunded.
async fn history(app: &TestApp, account: &str) -> (Vec<Charge>, Vec<Value>, Vec<usize>) {
    let first = Utc.with_ymd_and_hms(2026, 3, 24, 0, 0, 0).unwrap();
    let kinds = [
        ("text-to-image", Some("sdxl"), "IMAGE", 6, json!({ "count": 2 })),
        ("text-to-image", Some("flux-schnell"), "IMAGE", 2, json!({})),
        ("text-to-video", Some("wan-2"), "VIDEO", 10, json!({ "durationSeconds": 5 })),
        ("text-to-speech", Some("standard-tts"), "VOICE", 3, json!({ "characters": 1000 })),
        ("upscale", None, "IMAGE", 4, json!({ "count": 2 })),
    ];
    let mut charges = Vec::new();
    for day in 0..18i64 {
        for (n, hour) in [1, 4, 12, 19, 23].into_iter().enumerate() {
            if (day + n as i64) % 3 == 0 {
                continue;
            }
            let (tool, model, studio, credits, extra) = &kinds[(day as usize * 2 + n) % kinds.len()];
            let when = first + Duration::days(day) + Duration::hours(hour) + Duration::minutes(day * 3);
            charges.push(charge(when, tool, *model, studio, *credits, extra.clone()));
        }
    }
    let events = charge_all(app, account, &charges).await;
    let refunded: Vec<usize> = (0..charges.len()).filter(|i| i % 5 == 2).collect();
    for &i in &refunded {
        app.refund(&events[i]["id"]).await;
    }
    (charges, events, refunded)
}

/// Compares a series with what the events add up to; `top` is large enough
/// that no line is left out.
fn assert_series(series: &Value, (periods, lines): &(Vec<DateTime<Utc>>, BTreeMap<String, Figures>), what: &str) {
    let got: Vec<DateTime<Utc>> = series["periods"].as_array().unwrap().iter().map(at).collect();
    assert_eq!(&got, periods, "{what}: periods");
    let mut got = BTreeMap::new();
    let mut last_total = i64::MAX;
    for line in series["series"].as_array().unwrap() {
        let total = line["totalCredits"].as_i64().unwrap();
        assert!(total <= last_total, "{what}: lines by credits, most first");
        last_total = total;
        assert_eq!(line["other"], false, "{what}");
        assert_eq!(numbers(&line["credits"]).iter().sum::<i64>(), total, "{what}");
        let figures = (numbers(&line["generations"]), numbers(&line["outputs"]), numbers(&line["credits"]));
        got.insert(line["key"].as_str().unwrap().to_owned(), figures);
    }
    assert_eq!(&got, lines, "{what}: lines");
    let sum = |pick: fn(&Figures) -> &Vec<i64>| lines.values().map(|f| pick(f).iter().sum::<i64>()).sum::<i64>();
    assert_eq!(series["generations"], sum(|f| &f.0), "{what}");
    assert_eq!(series["outputs"], sum(|f| &f.1), "{what}");
    assert_eq!(series["credits"], sum(|f| &f.2), "{what}");
}

#[tokio::test]
async fn series_add_up_the_events_by_local_day_week_and_month_without_refunds() {
    let app = TestApp::start().await;
    let (charges, events, refunded) = history(&app, "s").await;
    let utc = |m, d, h, min| Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap();
    let ranges = [(utc(3, 23, 0, 0), utc(4, 13, 0, 0)), (utc(3, 26, 7, 41), utc(4, 6, 2, 30))];
    for zone in ["America/New_York", "Asia/Kolkata", "UTC"] {
        let tz: Tz = zone.parse().unwrap();
        for interval in ["DAY", "WEEK", "MONTH"] {
            for by in [None, Some("MODEL"), Some("STUDIO"), Some("TOOL")] {
                for (from, to) in ranges {
                    let filter = json!({ "from": from.to_rfc3339(), "to": to.to_rfc3339() });
                    let variables = json!({ "filter": filter, "interval": interval, "by": by, "top": 50, "tz": zone });
                    let got = series(&app, "s", variables).await;
                    let want = expected(&charges, &events, &refunded, (tz, interval, by), (from, to));
                    assert_series(&got, &want, &format!("{zone} {interval} by {by:?} from {from}"));
                }
            }
        }
    }
    // The platform's series is the same, as this is the only account.
    let filter = json!({ "from": ranges[0].0.to_rfc3339(), "to": ranges[0].1.to_rfc3339() });
    let variables = json!({ "filter": filter, "interval": "WEEK", "by": "MODEL", "top": 50, "tz": "Asia/Kolkata" });
    let platform = app.as_admin(&series_query("platform"), variables.clone()).await["platformUsageSeries"].take();
    assert_eq!(platform, series(&app, "s", variables).await);
}

#[tokio::test]
async fn series_fill_the_last_thirty_days_with_zeros_and_keep_the_top_lines_then_other() {
    let app = TestApp::start().await;
    let (charges, events, refunded) = history(&app, "t").await;
    // 2026-04-20 10:00 in New York: the last 30 days are March 22 to April 20.
    let now = Utc.with_ymd_and_hms(2026, 4, 20, 14, 0, 0).unwrap();
    app.clock.set(now);
    let ny: Tz = "America/New_York".parse().unwrap();
    let got = series(&app, "t", json!({ "by": "MODEL", "top": 2, "tz": "America/New_York" })).await;
    let from = midnight(NaiveDate::from_ymd_opt(2026, 3, 22).unwrap(), ny);
    let (periods, lines) = expected(&charges, &events, &refunded, (ny, "DAY", Some("MODEL")), (from, now));
    assert_eq!(periods.len(), 30);
    assert_eq!(got["periods"].as_array().unwrap().iter().map(at).collect::<Vec<_>>(), periods);
    // The last days have no usage: zeros.
    let lines_got = got["series"].as_array().unwrap();
    assert!(lines_got.iter().all(|l| numbers(&l["credits"])[25..] == [0; 5]), "{got}");
    // The top two by credits, ties by key, then the rest in one line.
    let mut ranked: Vec<(&String, i64)> = lines.iter().map(|(k, f)| (k, f.2.iter().sum())).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    assert!(ranked.len() > 2);
    let keys: Vec<&str> = lines_got.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec![ranked[0].0.as_str(), ranked[1].0.as_str(), "other"]);
    assert_eq!((&lines_got[2]["other"], &lines_got[2]["model"]), (&json!(true), &Value::Null));
    let rest: i64 = ranked[2..].iter().map(|r| r.1).sum();
    assert_eq!(lines_got[2]["totalCredits"], rest);
    let mut other = vec![0; 30];
    for (key, figures) in &lines {
        if key != ranked[0].0 && key != ranked[1].0 {
            other.iter_mut().zip(&figures.2).for_each(|(o, c)| *o += c);
        }
    }
    assert_eq!(numbers(&lines_got[2]["credits"]), other);
    assert_eq!(lines_got[0]["model"]["id"], ranked[0].0.trim_start_matches("model:"));
    // Nothing left over: no `other` line.
    let all = series(&app, "t", json!({ "by": "STUDIO", "top": 3, "tz": "America/New_York" })).await;
    assert!(all["series"].as_array().unwrap().iter().all(|l| l["other"] == false), "{all}");
    // An account without usage: one line of zeros, or none when split.
    let empty = series(&app, "nobody", json!({})).await;
    assert_eq!(empty["series"].as_array().unwrap().len(), 1);
    assert_eq!((&empty["series"][0]["key"], &empty["credits"]), (&json!("all"), &json!(0)));
    assert_eq!(numbers(&empty["series"][0]["credits"]), vec![0; 30]);
    let split = series(&app, "nobody", json!({ "by": "TOOL" })).await;
    assert_eq!(split["series"], json!([]));
}

#[tokio::test]
async fn series_refuse_more_than_a_thousand_periods_a_period_as_split_and_a_top_out_of_bounds() {
    let app = TestApp::start().await;
    let from = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let range = |days| json!({ "from": from.to_rfc3339(), "to": (from + Duration::days(days)).to_rfc3339() });
    let ok = series(&app, "l", json!({ "filter": range(1000) })).await;
    assert_eq!(ok["periods"].as_array().unwrap().len(), 1000);
    let weeks = series(&app, "l", json!({ "filter": range(3000), "interval": "WEEK" })).await;
    assert_eq!(weeks["periods"].as_array().unwrap().len(), 429);
    let token = app.token(Role::Service, "s");
    let cases = [
        (json!({ "filter": range(1001) }), "filter"),
        (json!({ "by": "DAY" }), "by"),
        (json!({ "by": "MONTH" }), "by"),
        (json!({ "top": 0 }), "top"),
        (json!({ "top": 51 }), "top"),
        (json!({ "tz": "Mars/Olympus" }), "timeZone"),
    ];
    for (mut variables, field) in cases {
        variables["id"] = json!("l");
        let response = app.graphql(Some(&token), &series_query("account"), variables.clone()).await;
        assert_eq!(graphql_error_code(&response), json!("INVALID_INPUT"), "{variables}: {response}");
        assert_eq!(response["errors"][0]["extensions"]["field"], field, "{variables}: {response}");
    }
}

#[tokio::test]
async fn a_user_sees_only_their_own_series_and_the_platform_series_is_for_admins() {
    let app = TestApp::start().await;
    let day = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    charge_all(&app, "alice", &[charge(day, "text-to-image", Some("sdxl"), "IMAGE", 3, json!({}))]).await;
    charge_all(&app, "bob", &[charge(day, "text-to-image", Some("sdxl"), "IMAGE", 6, json!({ "count": 2 }))]).await;
    let alice = app.token(Role::User, "alice");
    let own = app.data(Some(&alice), &series_query("viewer"), json!({})).await;
    assert_eq!(own["viewer"]["usageSeries"]["credits"], 3);
    let other = app.graphql(Some(&alice), &series_query("account"), json!({ "id": "bob" })).await;
    assert_eq!(graphql_error_code(&other), json!("FORBIDDEN"), "{other}");
    for token in [alice, app.token(Role::Service, "s")] {
        let platform = app.graphql(Some(&token), &series_query("platform"), json!({})).await;
        assert_eq!(graphql_error_code(&platform), json!("FORBIDDEN"), "{platform}");
    }
    let anonymous = app.graphql(None, &series_query("platform"), json!({})).await;
    assert_eq!(graphql_error_code(&anonymous), json!("UNAUTHENTICATED"), "{anonymous}");
    let platform = app.as_admin(&series_query("platform"), json!({ "by": "MODEL" })).await;
    let line = &platform["platformUsageSeries"]["series"][0];
    assert_eq!(
        (&line["key"], &line["model"]["id"], &line["totalCredits"]),
        (&json!("model:sdxl"), &json!("sdxl"), &json!(9))
    );
    assert!(line["label"].as_str().is_some_and(|label| !label.is_empty()), "{line}");
    assert_eq!(platform["platformUsageSeries"]["generations"], 2);
}
