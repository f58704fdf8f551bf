//! The usage benchmark of issue 5: a database with a million usage events
//! (one heavy account with 200,000), served by the real router on a local
//! port, and the dashboard's reads timed through HTTP and GraphQL.
//!
//! ```sh
//! cargo bench --bench usage                            # SQLite in a temporary directory
//! cargo bench --bench usage -- --database postgres     # a fresh schema, dropped after
//! cargo bench --bench usage -- --events 100000 --heavy 20000 --iterations 50
//! ```
//!
//! It prints median and p99 latencies against the targets of the issue and
//! exits 0 whether they are met or not: it is a benchmark, not a test.
#[path = "usage/dashboard.rs"]
mod dashboard;
#[path = "usage/export.rs"]
mod export;
#[path = "usage/load.rs"]
mod load;
#[path = "usage/measure.rs"]
mod measure;
#[path = "usage/report.rs"]
mod report;
#[path = "common/scratch.rs"]
mod scratch;
#[path = "usage/write.rs"]
mod write;

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use credits::app::{App, AppOptions};
use credits::auth::Role;
use credits::clock::Clock;
use credits::domain::analytics::UsageFilter;
use credits::domain::catalog::StudioKind;
use credits::domain::rules::Rules;
use credits::store::DatabaseOptions;
use serde_json::{Value, json};

use load::{Facts, Loaded, Plan};
use measure::{Case, Client, Kind, Measured, StoreCall};

pub use scratch::BoxError;
use scratch::{Choice, Scratch, args_or_exit, number};

const USAGE: &str = "usage: cargo bench --bench usage -- [--database sqlite|postgres] [--postgres-url URL]
       [--events N] [--heavy N] [--accounts N] [--iterations N] [--keep]
--keep leaves the database (SQLite file or PostgreSQL schema) in place and prints where.";

struct Args {
    database: Choice,
    events: u64,
    heavy: u64,
    accounts: u32,
    iterations: usize,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        database: Choice::default(),
        events: 1_000_000,
        heavy: 200_000,
        accounts: 10_000,
        iterations: 200,
        keep: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        // `cargo bench` passes --bench to every bench binary.
        if flag == "--bench" {
            continue;
        }
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if flag == "--keep" {
            args.keep = true;
            continue;
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        if args.database.take(&flag, &value, USAGE)? {
            continue;
        }
        match flag.as_str() {
            "--events" => args.events = number(&flag, &value)?,
            "--heavy" => args.heavy = number(&flag, &value)?,
            "--accounts" => args.accounts = number(&flag, &value)?.clamp(1, 99_999) as u32,
            "--iterations" => args.iterations = number(&flag, &value)?.max(1) as usize,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if args.heavy > args.events {
        return Err("--heavy cannot exceed --events".into());
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = args_or_exit(parse_args());
    let (scratch, options) = Scratch::create_or_exit(&args.database, "bench", Duration::from_secs(30), "usage").await;
    // Ctrl-C still drops the PostgreSQL schema.
    let outcome = tokio::select! {
        outcome = run(&args, options) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
    };
    if args.keep {
        println!("kept the database: {}", scratch.keep());
    } else if let Err(error) = scratch.remove().await {
        eprintln!("usage benchmark: could not drop the PostgreSQL schema: {error}");
    }
    if let Err(error) = outcome {
        eprintln!("usage benchmark failed: {error}");
        std::process::exit(1);
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn run(args: &Args, options: DatabaseOptions) -> Result<(), BoxError> {
    let database = args.database.name();
    let now = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).single().ok_or("bad now")?;
    let app_options = AppOptions {
        database: options,
        rules: Rules::default(),
        jwt_secret: None,
        limits: credits::app::RequestLimits::default(),
        webhooks: credits::config::WebhookOptions::default(),
    };
    let app = App::new(app_options, Clock::manual(now)).await?;

    let plan = Plan { now, events: args.events, heavy: args.heavy, accounts: args.accounts };
    println!(
        "usage benchmark on {database}: loading {} events ({} of account {}) over {} light accounts, 12 months before {}",
        plan.events,
        plan.heavy,
        load::HEAVY,
        plan.accounts,
        rfc3339(now)
    );
    let started = Instant::now();
    let loaded = load::load(&app.store, &plan).await?;
    print_load(&loaded, started.elapsed());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let router = app.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let token = app.auth.issue(Role::Service, "bench", None)?;
    let client = Client::new(&base_url, token.clone());

    let results = measure_all(&client, &app, &loaded, now, args.iterations).await;
    let first_view = match results {
        Ok(_) => Some(dashboard::first_view(&base_url, &client, &loaded.heavy.id, now, 21).await),
        Err(_) => None,
    };
    let exported = match results {
        Ok(_) => Some(export::export(&base_url, &token, &loaded.heavy.id).await),
        Err(_) => None,
    };
    server.abort();
    let results = results?;
    report::print(database, &results, args.iterations);
    if let Some(first_view) = first_view {
        dashboard::print(&loaded.heavy.id, &first_view?);
    }
    if let Some(exported) = exported {
        let exported = exported?;
        if exported.rows != loaded.heavy.events as u64 {
            return Err(
                format!("the export has {} rows, the account {} events", exported.rows, loaded.heavy.events).into()
            );
        }
        export::print(&loaded.heavy.id, &exported);
    }
    Ok(())
}

fn print_load(loaded: &Loaded, total: Duration) {
    let s = |d: Duration| d.as_secs_f64();
    println!(
        "loaded in {:.1} s: generated {:.1} s, events {:.1} s, {} rollup rows {:.1} s, indexes and {} {:.1} s",
        s(total),
        s(loaded.generate),
        s(loaded.insert_events),
        loaded.rollup_rows,
        s(loaded.insert_rollups),
        if loaded.postgres { "VACUUM ANALYZE" } else { "checkpoint" },
        s(loaded.finish)
    );
    for facts in [&loaded.heavy, &loaded.twin, &loaded.light] {
        println!(
            "  {}: {} events, {} credits; IMAGE in the last 30 days: {} events, {} credits",
            facts.id, facts.events, facts.credits, facts.filtered_events, facts.filtered_credits
        );
    }
}

/// Checks that the API's totals are the generated ones (rollups and events agree).
async fn check_totals(client: &Client, facts: &Facts, filter: &Value) -> Result<(), BoxError> {
    for (filter, events, credits) in
        [(Value::Null, facts.events, facts.credits), (filter.clone(), facts.filtered_events, facts.filtered_credits)]
    {
        let (_, data) = client.send(measure::TOTALS_QUERY, &json!({ "id": facts.id, "filter": filter })).await?;
        let usage = &data["account"]["usage"];
        if usage["totalCount"] != json!(events) || usage["totalCredits"] != json!(credits) {
            return Err(format!(
                "{} under {filter}: API says {usage}, generated {events} events, {credits} credits",
                facts.id
            )
            .into());
        }
    }
    Ok(())
}

async fn measure_all(
    client: &Client,
    app: &App,
    loaded: &Loaded,
    now: DateTime<Utc>,
    iterations: usize,
) -> Result<Vec<Measured>, BoxError> {
    let from = now - chrono::Duration::days(30);
    let filtered = json!({ "studios": ["IMAGE"], "from": rfc3339(from), "to": rfc3339(now) });
    let filtered_domain = UsageFilter {
        from: Some(from),
        to: Some(now),
        studios: Some(vec![StudioKind::Image]),
        ..UsageFilter::default()
    };
    let year = json!({ "from": rfc3339(now - chrono::Duration::days(365)), "to": rfc3339(now) });
    let year_domain =
        UsageFilter { from: Some(now - chrono::Duration::days(365)), to: Some(now), ..UsageFilter::default() };
    let (heavy, twin, light) = (&loaded.heavy.id, &loaded.twin.id, &loaded.light.id);
    // The first request creates the accounts; then the figures must match.
    check_totals(client, &loaded.heavy, &filtered).await?;
    check_totals(client, &loaded.light, &filtered).await?;

    let mut cases = Vec::new();
    for (label, filter, domain) in
        [("", Value::Null, UsageFilter::default()), (", IMAGE 30 days", filtered.clone(), filtered_domain.clone())]
    {
        let page = |name: String, after: Option<String>| -> Result<Case, BoxError> {
            let position = after.as_deref().map(measure::position).transpose()?;
            Ok(Case {
                name,
                kind: Kind::Page,
                account: heavy.clone(),
                filter: domain.clone(),
                query: measure::PAGE_QUERY,
                variables: json!({ "id": heavy, "first": measure::PAGE_SIZE, "after": after, "filter": filter }),
                store: StoreCall::Page { after: position },
            })
        };
        cases.push(page(format!("page 1{label}"), None)?);
        let after = measure::walk(client, heavy, &filter, 49).await?;
        cases.push(page(format!("page 50{label}"), Some(after))?);
    }
    for (label, filter, domain) in
        [("", Value::Null, UsageFilter::default()), (", IMAGE 30 days", filtered, filtered_domain)]
    {
        cases.push(Case {
            name: format!("totalCount totalCredits{label}"),
            kind: Kind::Totals,
            account: heavy.clone(),
            filter: domain,
            query: measure::TOTALS_QUERY,
            variables: json!({ "id": heavy, "filter": filter }),
            store: StoreCall::Totals,
        });
    }
    // A dashboard in New York reads local days: UTC-5 (UTC-4 in summer).
    let new_york = chrono_tz::America::New_York;
    for (label, account, time_zone) in [
        ("heavy", heavy, Tz::UTC),
        ("twin", twin, Tz::UTC),
        ("light", light, Tz::UTC),
        ("heavy, New York", heavy, new_york),
        ("light, New York", light, new_york),
    ] {
        cases.push(Case {
            name: format!("usageSummary DAY x MODEL 12 months, {label}"),
            kind: Kind::Summary,
            account: account.clone(),
            filter: year_domain.clone(),
            query: measure::SUMMARY_QUERY,
            variables: json!({ "id": account, "filter": year, "timeZone": time_zone.name() }),
            store: StoreCall::Summary { time_zone },
        });
    }
    for (label, account) in [("heavy", heavy), ("twin", twin)] {
        cases.push(Case {
            name: format!("usageSeries DAY by MODEL top 8, 12 months, {label}"),
            kind: Kind::Series,
            account: account.clone(),
            filter: year_domain.clone(),
            query: measure::SERIES_QUERY,
            variables: json!({ "id": account, "filter": year }),
            store: StoreCall::Series,
        });
    }

    let warmup = (iterations / 10).clamp(3, 20);
    let mut results = Vec::new();
    for case in cases {
        let name = case.name.clone();
        let measured = measure::measure(client, &app.store, now, case, iterations, warmup).await?;
        eprintln!("  measured {name}");
        results.push(measured);
    }
    Ok(results)
}
