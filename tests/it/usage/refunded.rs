//! Refunded credits in summaries, series and the platform view: read from
//! the rollups (and, at a range's edges, the events), checked against sums
//! made here from the usage events and their refunds.
use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::{charge_all, mixed_history};
use crate::support::{TestApp, start_time};

const SUMMARY: &str = "query($id: ID!, $tz: String, $filter: UsageFilter) {
  account(id: $id) { usageSummary(groupBy: [DAY], timeZone: $tz, filter: $filter) {
    periodStart generations credits refundedCredits } } }";

const SERIES: &str = "query($id: ID!, $tz: String, $filter: UsageFilter) {
  account(id: $id) { usageSeries(interval: DAY, timeZone: $tz, filter: $filter) {
    periods refundedCredits series { key refundedCredits credits } } } }";

const EVENTS: &str = "query($id: ID!) { account(id: $id) { usage(first: 100) { edges { node {
    createdAt credits refundedCredits status refunds { credits cause } } } } } }";

/// (credits, or all that is left; cause) of each refund of the i-th charge
/// of the mixed history.
fn refunds_of(i: usize) -> Vec<(Option<i64>, &'static str)> {
    match i {
        0 => vec![(Some(2), "TIMEOUT"), (Some(1), "OUTPUT_MODERATED")],
        1 => vec![(None, "PROVIDER_ERROR")],
        2 => vec![(Some(4), "TIMEOUT"), (None, "USER_CANCELLED")],
        3 => vec![(Some(1), "OTHER")],
        6 => vec![(Some(5), "TIMEOUT")],
        _ => vec![],
    }
}

/// A zone, the start of the range and the refund causes to count.
type Case = (&'static str, DateTime<Utc>, Option<&'static [&'static str]>);

/// Per local day: (generations, credits, refunded credits of `causes`).
type Days = BTreeMap<String, (i64, i64, i64)>;

fn by_day(events: &[Value], tz: Tz, from: DateTime<Utc>, causes: Option<&[&str]>) -> Days {
    let mut days = Days::new();
    for event in events {
        let at: DateTime<Utc> = event["createdAt"].as_str().unwrap().parse().unwrap();
        if at < from {
            continue;
        }
        let day = at.with_timezone(&tz).date_naive().to_string();
        let refunded: i64 = event["refunds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| causes.is_none_or(|causes| causes.contains(&r["cause"].as_str().unwrap())))
            .map(|r| r["credits"].as_i64().unwrap())
            .sum();
        let whole = event["status"] == "REFUNDED";
        let net = event["credits"].as_i64().unwrap() - event["refundedCredits"].as_i64().unwrap();
        let totals = days.entry(day).or_default();
        *totals = (totals.0 + i64::from(!whole), totals.1 + net, totals.2 + refunded);
    }
    days.retain(|_, (generations, _, refunded)| *generations != 0 || *refunded != 0);
    days
}

fn summary_days(buckets: &Value, tz: Tz) -> Days {
    let field = |b: &Value, name: &str| b[name].as_i64().unwrap();
    buckets
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let start: DateTime<Utc> = b["periodStart"].as_str().unwrap().parse().unwrap();
            let day = start.with_timezone(&tz).date_naive().to_string();
            (day, (field(b, "generations"), field(b, "credits"), field(b, "refundedCredits")))
        })
        .collect()
}

#[tokio::test]
async fn refunded_credits_add_up_by_day_cause_and_zone() {
    let app = TestApp::start().await;
    let history = mixed_history();
    let charged = charge_all(&app, "r", &history).await;
    // Refunds count in the day of the generation, whenever they are made.
    for (i, event) in charged.iter().enumerate() {
        for (credits, cause) in refunds_of(i) {
            let refund = app.refund_with(&event["id"], json!({ "credits": credits, "cause": cause })).await;
            assert_eq!(refund["errors"], json!([]), "{refund}");
        }
    }
    let data = app.as_service(EVENTS, json!({ "id": "r" })).await;
    let events: Vec<Value> =
        data["account"]["usage"]["edges"].as_array().unwrap().iter().map(|e| e["node"].clone()).collect();
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    // A mid-day start reads its first day's part from the events.
    let mid_day = start_time() + Duration::hours(13);
    let cases: [Case; 5] = [
        ("UTC", epoch, None),
        ("America/New_York", epoch, None),
        ("Asia/Tokyo", epoch, Some(&["TIMEOUT"])),
        ("UTC", mid_day, Some(&["TIMEOUT", "USER_CANCELLED"])),
        ("Asia/Kolkata", epoch, Some(&["PROVIDER_ERROR"])),
    ];
    for (zone, from, causes) in cases {
        let tz: Tz = zone.parse().unwrap();
        let mut filter = json!({ "refundCauses": causes });
        if from != epoch {
            filter["from"] = json!(from.to_rfc3339());
        }
        let variables = json!({ "id": "r", "tz": zone, "filter": filter });
        let data = app.as_service(SUMMARY, variables.clone()).await;
        let expected = by_day(&events, tz, from, causes);
        assert_eq!(summary_days(&data["account"]["usageSummary"], tz), expected, "{zone} from {from} {causes:?}");
        let total: i64 = expected.values().map(|day| day.2).sum();
        assert!(total > 0 || causes.is_some(), "the history has refunds");
        // The series over the same range: each period's refunded credits.
        let mut series_filter = filter.clone();
        series_filter["from"] = json!((start_time() - Duration::days(1)).to_rfc3339());
        series_filter["to"] = json!((start_time() + Duration::days(45)).to_rfc3339());
        if from != epoch {
            series_filter["from"] = json!(from.to_rfc3339());
        }
        let data = app.as_service(SERIES, json!({ "id": "r", "tz": zone, "filter": series_filter })).await;
        let series = &data["account"]["usageSeries"];
        assert_eq!(series["refundedCredits"], total, "{zone} {causes:?}");
        let line = &series["series"][0]["refundedCredits"];
        let shown: i64 = line.as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).sum();
        assert_eq!(shown, total, "{zone} {causes:?}");
    }
    // Every cause: the platform view agrees.
    let data = app.as_admin("{ platformUsage(groupBy: []) { credits refundedCredits } }", json!({})).await;
    let all = by_day(&events, Tz::UTC, epoch, None);
    let (credits, refunded) = all.values().fold((0, 0), |(c, r), day| (c + day.1, r + day.2));
    assert_eq!(
        data["platformUsage"],
        json!([{ "credits": credits.to_string(), "refundedCredits": refunded.to_string() }])
    );
    assert_eq!(refunded, 2 + 1 + 2 + 10 + 1 + 5, "every refund of the history");
    app.assert_ledger_clean().await;
}
