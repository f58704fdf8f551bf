//! The load benchmark of issues 6, 18 and 22: the real `credits` server as
//! a separate process, `--accounts` accounts given credits through the API,
//! then `consumeCredits` over HTTP from `--clients` concurrent clients for
//! `--seconds`, spread over all accounts and then all on one hot account;
//! then the events phase (every charge writes an event), without and with a
//! webhook endpoint whose receiver runs in this process. In the same run it
//! measures two references at the same concurrency, with the server
//! stopped (so SQLite has one writer): the same charge through
//! `Store::consume`, and the honest limit, the charge written directly with
//! the database driver (`load/plain.rs`); and the server's peak memory.
//!
//! ```sh
//! cargo bench --bench load                            # SQLite in a temporary directory
//! cargo bench --bench load -- --database postgres     # a fresh schema, dropped after
//! cargo bench --bench load -- --clients 16 --seconds 5 --accounts 2000
//! cargo bench --bench load -- --database postgres --phases partitions   # partitioned tables or not
//! ```
//!
//! It prints the figures against the targets of the issues and exits 0
//! whether they are met or not: it is a benchmark, not a test.
#[path = "load/direct.rs"]
mod direct;
#[path = "load/events.rs"]
mod events;
#[path = "load/http.rs"]
mod http;
#[path = "load/partitions.rs"]
mod partitions;
#[path = "load/plain.rs"]
mod plain;
#[path = "common/scratch.rs"]
mod scratch;
#[path = "load/server.rs"]
mod server;
#[path = "load/stats.rs"]
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use credits::auth::{Auth, Role};
use credits::domain::rules::Rules;
use credits::store::{DatabaseOptions, Store};

use server::Server;
use stats::Phase;

pub use scratch::BoxError;
use scratch::{Choice, Scratch, args_or_exit, number};

const USAGE: &str = "usage: cargo bench --bench load -- [--database sqlite|postgres] [--postgres-url URL]
       [--clients N] [--seconds S] [--accounts N] [--phases all|events|charges|partitions]";

/// Credits granted to each account: far more than a run can spend.
pub const GRANT_CREDITS: i64 = 1_000_000;

struct Args {
    database: Choice,
    clients: usize,
    seconds: u64,
    accounts: usize,
    /// Only the events phase (`--phases events`), for work on webhooks.
    events_only: bool,
    /// Every phase but the events one (`--phases charges`), for work on
    /// the charge itself.
    charges_only: bool,
    /// Only the partitioned schema against the unpartitioned one
    /// (`--phases partitions`, PostgreSQL).
    partitions: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        database: Choice::default(),
        clients: 64,
        seconds: 10,
        accounts: 10_000,
        events_only: false,
        charges_only: false,
        partitions: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        // `cargo bench` passes --bench to every bench binary.
        if flag == "--bench" {
            continue;
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        if args.database.take(&flag, &value, USAGE)? {
            continue;
        }
        match flag.as_str() {
            "--clients" => args.clients = number(&flag, &value)?.clamp(1, 10_000) as usize,
            "--seconds" => args.seconds = number(&flag, &value)?.clamp(1, 3_600),
            "--accounts" => args.accounts = number(&flag, &value)?.clamp(1, 10_000_000) as usize,
            "--phases" => {
                (args.events_only, args.charges_only, args.partitions) = match value.as_str() {
                    "all" => (false, false, false),
                    "events" => (true, false, false),
                    "charges" => (false, true, false),
                    "partitions" => (false, false, true),
                    _ => return Err(format!("--phases is all, events, charges or partitions\n{USAGE}")),
                }
            }
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    Ok(args)
}

/// What a phase drives: this many clients, this long, on these accounts.
pub struct Target {
    pub clients: usize,
    pub duration: Duration,
    pub accounts: Arc<Vec<String>>,
    /// Makes the idempotency keys of this run unique.
    pub run: String,
}

#[tokio::main]
async fn main() {
    let args = args_or_exit(parse_args());
    let (scratch, options) = Scratch::create_or_exit(&args.database, "load", Duration::from_secs(2), "load").await;
    let outcome = match args.partitions {
        true => partitions::compare(&args.database, &options, args.clients, args.seconds, args.accounts).await,
        false => run(&args, &options).await,
    };
    if let Err(error) = scratch.remove().await {
        eprintln!("load benchmark: could not drop the PostgreSQL schema: {error}");
    }
    if let Err(error) = outcome {
        eprintln!("load benchmark failed: {error}");
        std::process::exit(1);
    }
}

/// The events phase: charges per second without and with a webhook
/// endpoint, and what the receiver saw.
struct EventFigures {
    without: f64,
    with: f64,
    expected: usize,
    delivered: usize,
    p99_ms: f64,
}

struct Limited {
    before: Phase,
    limited: Phase,
    after: Phase,
}

impl Limited {
    /// Charges per second with limits, of the mean of the runs around it.
    fn share(&self) -> f64 {
        let without = (self.before.per_second() + self.after.per_second()) / 2.0;
        100.0 * self.limited.per_second() / without.max(1e-9)
    }
}

struct Results {
    events: Option<EventFigures>,
    /// The spread phase with spend limits on every account (issue 21),
    /// between two without.
    limited: Option<Limited>,
    api: Vec<Phase>,
    limit: Vec<Phase>,
    plain: Vec<Phase>,
    peak_rss_kb: Option<u64>,
    check: (bool, String),
}

async fn run(args: &Args, options: &DatabaseOptions) -> Result<(), BoxError> {
    let started = Instant::now();
    let database = args.database.name();
    let run = format!("{}-{}", std::process::id(), Utc::now().timestamp_millis());
    let secret = format!("load-benchmark-secret-{run}");
    println!(
        "load benchmark on {database}: {} accounts, {} clients, {} s per phase ({} cores, load average {})",
        args.accounts,
        args.clients,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        stats::load_average()
    );

    let server = Server::start(options, &secret).await?;
    let token = Auth::new(&secret).issue(Role::Admin, "load-benchmark", None)?;
    let accounts: Arc<Vec<String>> = Arc::new((0..args.accounts).map(|i| format!("load-{i:07}")).collect());
    let granting = Instant::now();
    http::grant_all(&server.base_url, &token, accounts.clone(), GRANT_CREDITS, args.clients).await?;
    let granted = granting.elapsed();
    println!(
        "granted {GRANT_CREDITS} credits to each of {} accounts through the API in {:.1} s ({:.0}/s, not timed below)",
        args.accounts,
        granted.as_secs_f64(),
        args.accounts as f64 / granted.as_secs_f64()
    );

    let duration = Duration::from_secs(args.seconds);
    let spread = Target { clients: args.clients, duration, accounts: accounts.clone(), run: run.clone() };
    let hot = Target { clients: args.clients, duration, accounts: Arc::new(vec![accounts[0].clone()]), run };

    println!("\nthrough HTTP and GraphQL (server pid {}):", server.pid());
    let mut api = Vec::new();
    let phases = if args.events_only { vec![] } else { vec![("spread", &spread), ("hot account", &hot)] };
    for (name, target) in phases.iter().copied() {
        let phase = http::drive(name, &server.base_url, &token, target, server.pid()).await?;
        phase.print();
        api.push(phase);
    }
    let limited = if args.events_only { None } else { Some(limits_phase(&server, &token, &spread, args).await?) };
    let events = match args.charges_only {
        true => None,
        false => Some(events_phase(args, &server, &token, &spread).await?),
    };
    let peak_rss_kb = stats::peak_rss_kb(server.pid());
    server.stop().await;

    println!("\nthe limit, straight on the database in this process (server stopped):");
    let store = Store::open(options, Rules::default()).await?;
    let mut limit = Vec::new();
    for (name, target) in phases.iter().copied() {
        let phase = direct::drive(name, &store, target).await?;
        phase.print();
        limit.push(phase);
    }
    drop(store);

    println!("\nthe plain-SQL limit: the same charge written directly with the driver (server stopped):");
    let mut plain = Vec::new();
    for (name, target) in phases.iter().copied() {
        let phase = plain::drive(name, options, target).await?;
        phase.print();
        plain.push(phase);
    }

    let check = server::check(options)?;
    let results = Results { events, limited, api, limit, plain, peak_rss_kb, check };
    summary(args, &results, started.elapsed());
    Ok(())
}

/// Spend limits, bracketed: the spread phase again without limits, then
/// with a daily and a per-generation limit that no charge reaches on every
/// account, then without them once more. The reference is the mean of the
/// two runs around the limited one, on the same database, so the database's
/// growth over the three runs does not count against the limits.
async fn limits_phase(server: &Server, token: &str, spread: &Target, args: &Args) -> Result<Limited, BoxError> {
    let phase = |name: &'static str, suffix: &str| {
        let target = Target { accounts: spread.accounts.clone(), run: format!("{}-{suffix}", spread.run), ..*spread };
        async move {
            let phase = http::drive(name, &server.base_url, token, &target, server.pid()).await?;
            phase.print();
            Ok::<Phase, BoxError>(phase)
        }
    };
    let before = phase("spread, again", "again").await?;
    let setting = Instant::now();
    http::limit_all(&server.base_url, token, spread.accounts.clone(), args.clients, true).await?;
    println!(
        "set spend limits on {} accounts in {:.1} s (not timed below)",
        spread.accounts.len(),
        setting.elapsed().as_secs_f64()
    );
    let limited = phase("spread, spend limits", "limits").await?;
    http::limit_all(&server.base_url, token, spread.accounts.clone(), args.clients, false).await?;
    println!("cleared the spend limits");
    let after = phase("spread, once more", "after").await?;
    Ok(Limited { before, limited, after })
}

/// Charges that each write an event, without then with a webhook endpoint
/// whose local receiver takes every event.
async fn events_phase(args: &Args, server: &Server, token: &str, spread: &Target) -> Result<EventFigures, BoxError> {
    // Each half on accounts of its own, alike at the start: a cycle's grant
    // is a lot of its own that the charges leave for last, so an account
    // reused by the second half would open every transaction with the first
    // half's lots to read as well.
    let count = args.clients * 4;
    let halves: Vec<Arc<Vec<String>>> = (0..2)
        .map(|half| Arc::new(spread.accounts.iter().cycle().skip(half * count).take(count).cloned().collect()))
        .collect();
    let target = Target { accounts: halves[0].clone(), run: format!("{}-events", spread.run), ..*spread };
    println!(
        "\nevents: of 5 charges the last crosses its account's threshold, a grant crosses back (2 events a cycle);\n\
         {count} accounts without an endpoint, {count} others with one:"
    );
    events::prepare(&server.base_url, token, &target.accounts).await?;
    let written = Arc::new(AtomicUsize::new(0));
    let without = events::drive("events, no endpoint", &server.base_url, token, &target, server.pid(), written.clone());
    let without = without.await?;
    without.print();
    // The worker fans out what was written before the endpoint exists.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let target = Target { accounts: halves[1].clone(), run: format!("{}-webhooks", spread.run), ..target };
    events::prepare(&server.base_url, token, &target.accounts).await?;
    let receiver = events::Receiver::start().await?;
    events::register(&server.base_url, token, &receiver).await?;
    let written = Arc::new(AtomicUsize::new(0));
    let with = events::drive("events, endpoint", &server.base_url, token, &target, server.pid(), written.clone());
    let with = with.await?;
    with.print();
    let expected = written.load(Ordering::Relaxed);
    let (delivered, p50_ms, p99_ms) = receiver.settle(expected, Duration::from_secs(60)).await;
    receiver.stop();
    println!(
        "  receiver: {delivered} of the {expected} events written delivered; commit to delivery p50 {p50_ms:.1} ms, p99 {p99_ms:.1} ms"
    );
    Ok(EventFigures { without: without.per_second(), with: with.per_second(), expected, delivered, p99_ms })
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn summary(args: &Args, results: &Results, total: Duration) {
    let database = args.database.name();
    println!();
    let ratio = |api: &Phase, limit: &Phase| 100.0 * api.per_second() / limit.per_second().max(1e-9);
    for (reference, limits) in [("plain SQL", &results.plain), ("Store", &results.limit)] {
        for (api, limit) in results.api.iter().zip(limits.iter()) {
            println!(
                "API/{reference:<9} {:<12} {:>7.0} / {:>7.0} consumes/s = {:>5.1}%",
                format!("{}:", api.name.trim_start_matches("API, ")),
                api.per_second(),
                limit.per_second(),
                ratio(api, limit)
            );
        }
    }
    let rss_mb = results.peak_rss_kb.map(|kb| kb as f64 / 1024.0);
    match rss_mb {
        Some(mb) => println!("server peak resident memory (VmHWM) after the HTTP phases: {mb:.1} MB"),
        None => println!("server peak resident memory: unknown (no /proc/<pid>/status)"),
    }
    let (clean, line) = &results.check;
    println!("credits check: {} ({line})", if *clean { "clean" } else { "NOT CLEAN" });

    let mut rows: Vec<(String, String, bool)> = Vec::new();
    if args.events_only {
    } else if args.database.postgres {
        let spread = &results.api[0];
        let plain = [ratio(&results.api[0], &results.plain[0]), ratio(&results.api[1], &results.plain[1])];
        for (workload, share) in ["spread", "hot"].into_iter().zip(plain) {
            rows.push((format!("PostgreSQL API/plain SQL, {workload} >= 60%"), format!("{share:.1}%"), share >= 60.0));
        }
        rows.push(("PostgreSQL spread p99 < 100 ms".into(), format!("{:.2} ms", spread.p99_ms), spread.p99_ms < 100.0));
    } else {
        let spread = &results.api[0];
        let ratio = ratio(&results.api[0], &results.limit[0]);
        let clients = args.clients;
        rows.push((
            format!("SQLite spread, {clients} clients >= 3000/s"),
            format!("{:.0}/s", spread.per_second()),
            spread.per_second() >= 3000.0,
        ));
        rows.push(("SQLite spread p99 < 25 ms".into(), format!("{:.2} ms", spread.p99_ms), spread.p99_ms < 25.0));
        rows.push(("SQLite API/limit, spread >= 50%".into(), format!("{ratio:.1}%"), ratio >= 50.0));
    }
    if let Some(limited) = &results.limited {
        let share = limited.share();
        rows.push(("spread with spend limits / without (around) >= 95%".into(), format!("{share:.1}%"), share >= 95.0));
    }
    if let Some(events) = &results.events {
        let share = 100.0 * events.with / events.without.max(1e-9);
        rows.push(("events: with endpoint / without >= 90%".into(), format!("{share:.1}%"), share >= 90.0));
        rows.push((
            "events: commit to delivery p99 < 1 s".into(),
            format!("{:.0} ms", events.p99_ms),
            events.p99_ms < 1_000.0,
        ));
        rows.push((
            "events: each delivered".into(),
            format!("{} / {}", events.delivered, events.expected),
            events.delivered >= events.expected,
        ));
    }
    rows.push((
        "server peak RSS < 150 MB".into(),
        rss_mb.map_or("unknown".into(), |mb| format!("{mb:.1} MB")),
        rss_mb.is_some_and(|mb| mb < 150.0),
    ));
    rows.push(("credits check clean".into(), if *clean { "clean" } else { "not clean" }.into(), *clean));
    println!(
        "\nsummary ({database}, {} clients, {} s per phase, {} accounts):",
        args.clients, args.seconds, args.accounts
    );
    println!("  {:<40} {:>12}  result", "target", "measured");
    for (target, measured, pass) in rows {
        println!("  {target:<40} {measured:>12}  {}", verdict(pass));
    }
    println!("total run time {:.1} s; load average at the end {}", total.as_secs_f64(), stats::load_average());
}
