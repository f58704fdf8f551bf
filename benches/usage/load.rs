//! Builds the benchmark's database fast: usage events drawn from the seeded
//! catalog and their hourly and daily rollups, written with multi-row INSERTs
//! straight through the store's write connection.
//!
//! This is not how the server writes (`Store::consume` goes through an
//! `AccountTx` that also draws on credit lots and writes ledger entries): a
//! million charges that way take far too long for a benchmark. The queries
//! measured here read only `usage_events` and `usage_rollups` (plus the
//! account, which the first request creates), so lots and ledger entries are
//! left out; `credits check` would not pass on this database, and need not.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use credits::domain::catalog::{Catalog, StudioKind};
use credits::domain::pricing::price;
use credits::store::Store;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::{BoxError, write};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
pub const HEAVY: &str = "heavy";
/// One event for each (day, model) the heavy account used: the same buckets
/// in a DAY x MODEL summary, from a fortieth of the events.
pub const TWIN: &str = "heavy-twin";
const TWIN_INDEX: u32 = u32::MAX;
/// Share of light accounts on a paid plan (they may use Pro models).
const PAID_PERCENT: u32 = 55;
/// Distinct generations drawn (and priced) per pool; events pick among them.
const TEMPLATES: usize = 4_096;

/// What the benchmark generates.
pub struct Plan {
    pub now: DateTime<Utc>,
    pub events: u64,
    pub heavy: u64,
    pub accounts: u32,
}

/// Figures of one account, to check the API's answers against.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub id: String,
    pub events: i64,
    pub credits: i64,
    /// Of the IMAGE studio in the 30 days before now.
    pub filtered_events: i64,
    pub filtered_credits: i64,
}

pub struct Loaded {
    pub postgres: bool,
    pub heavy: Facts,
    pub twin: Facts,
    /// The light account the summary is compared with.
    pub light: Facts,
    pub rollup_rows: usize,
    pub generate: Duration,
    pub insert_events: Duration,
    pub insert_rollups: Duration,
    /// Indexes made, then VACUUM ANALYZE (PostgreSQL) or a WAL checkpoint (SQLite).
    pub finish: Duration,
}

/// What a rollup row is per: studio, tool and model.
type Kind = (StudioKind, String, Option<String>);

/// One kind of generation as priced by the catalog.
struct Template {
    kind: u16,
    count: i64,
    units: Option<i64>,
    credits: i64,
}

#[derive(Clone, Copy)]
struct Event {
    at_ms: i64,
    account: u32,
    template: u32,
}

fn account_id(index: u32) -> String {
    match index {
        0 => HEAVY.to_owned(),
        TWIN_INDEX => TWIN.to_owned(),
        _ => format!("light-{index:05}"),
    }
}

pub async fn load(store: &Store, plan: &Plan) -> Result<Loaded, BoxError> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(5);
    let catalog = store.catalog();
    let mut kinds: Vec<Kind> = Vec::new();
    let mut templates = Vec::with_capacity(2 * TEMPLATES);
    // Paid pool first (indexes below TEMPLATES), then the free pool.
    for pro in [true, false] {
        for _ in 0..TEMPLATES {
            templates.push(template(&mut rng, &catalog, pro, &mut kinds)?);
        }
    }
    let mut events = events(&mut rng, plan);
    events.extend(twin(&events, &templates, &kinds));
    events.sort_unstable_by_key(|e| (e.at_ms, e.account, e.template));
    let generate = started.elapsed();

    let db = store.writer_for_tests();
    let sqlite = db.get_database_backend() == DbBackend::Sqlite;
    if sqlite {
        // For the load only (the write pool has one connection), set back
        // before anything is measured: a page cache larger than the default
        // 2 MB, and no fsync at each commit.
        db.execute_unprepared("PRAGMA cache_size = -262144").await?;
        db.execute_unprepared("PRAGMA synchronous = OFF").await?;
    }
    // Indexes are built once at the end: much faster than kept up row by row.
    let indexes = write::drop_indexes(db).await?;
    let started = Instant::now();
    insert_events(db, &events, &templates, &kinds).await?;
    let insert_events = started.elapsed();

    let started = Instant::now();
    let rollups = rollups(&events, &templates);
    insert_rollups(db, &rollups, &kinds).await?;
    let insert_rollups = started.elapsed();

    let started = Instant::now();
    for sql in &indexes {
        db.execute_unprepared(sql).await?;
    }
    if sqlite {
        // The server never runs ANALYZE on SQLite, so neither does the benchmark.
        db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        db.execute_unprepared("PRAGMA synchronous = FULL").await?;
        db.execute_unprepared("PRAGMA cache_size = -2000").await?;
    } else {
        // What autovacuum would soon do by itself: statistics and the visibility map.
        db.execute_unprepared("VACUUM ANALYZE usage_events").await?;
        db.execute_unprepared("VACUUM ANALYZE usage_rollups").await?;
    }
    let finish = started.elapsed();

    let light_index = 1.min(plan.accounts);
    let facts = |account: u32| account_facts(account, plan, &events, &templates, &kinds);
    Ok(Loaded {
        postgres: !sqlite,
        heavy: facts(0),
        twin: facts(TWIN_INDEX),
        light: facts(light_index),
        rollup_rows: rollups.len(),
        generate,
        insert_events,
        insert_rollups,
        finish,
    })
}

/// A generation a paid (`pro`) or free account could ask for, as `credits
/// demo-data` draws them, without options (so at the default price).
fn template(rng: &mut StdRng, catalog: &Catalog, pro: bool, kinds: &mut Vec<Kind>) -> Result<Template, BoxError> {
    let mut request = credits::demo::generation(rng, catalog, pro)?;
    request.options.clear();
    let priced = price(catalog, &request, chrono::Utc::now()).map_err(|e| format!("pricing {request:?}: {e:?}"))?;
    let key = (priced.studio, priced.tool.clone(), priced.model_id.clone());
    let kind = match kinds.iter().position(|k| *k == key) {
        Some(kind) => kind,
        None => {
            kinds.push(key);
            kinds.len() - 1
        }
    };
    Ok(Template { kind: kind as u16, count: priced.count, units: priced.units, credits: priced.credits.get() })
}

/// Events over the 365 days before now, oldest first (their ids will grow
/// with time, as in production): `plan.heavy` of the heavy account, the rest
/// spread evenly over the light accounts.
fn events(rng: &mut StdRng, plan: &Plan) -> Vec<Event> {
    let end = plan.now.timestamp_millis();
    let start = end - 365 * DAY_MS;
    let mut events: Vec<Event> = (0..plan.events)
        .map(|i| {
            let account = if i < plan.heavy { 0 } else { rng.random_range(1..=plan.accounts) };
            let paid = account == 0 || account % 100 < PAID_PERCENT;
            let template = rng.random_range(0..TEMPLATES as u32) + if paid { 0 } else { TEMPLATES as u32 };
            Event { at_ms: rng.random_range(start..end), account, template }
        })
        .collect();
    events.sort_unstable_by_key(|e| (e.at_ms, e.account, e.template));
    events
}

/// The heavy account's twin: its first event of each (UTC day, model).
fn twin(events: &[Event], templates: &[Template], kinds: &[Kind]) -> Vec<Event> {
    let mut seen = std::collections::HashSet::new();
    let model = |event: &Event| kinds[templates[event.template as usize].kind as usize].2.clone();
    events
        .iter()
        .filter(|e| e.account == 0 && seen.insert((e.at_ms.div_euclid(DAY_MS), model(e))))
        .map(|e| Event { account: TWIN_INDEX, ..*e })
        .collect()
}

async fn insert_events(
    db: &DatabaseConnection,
    events: &[Event],
    templates: &[Template],
    kinds: &[Kind],
) -> Result<(), BoxError> {
    let columns = [
        "id",
        "account_id",
        "created_at_ms",
        "studio",
        "tool",
        "model_id",
        "count",
        "units",
        "options",
        "credits",
        "status",
        "idempotency_key",
        "lot_split",
    ];
    let row = |i: usize| {
        let e = &events[i];
        let template = &templates[e.template as usize];
        let (studio, tool, model) = &kinds[template.kind as usize];
        vec![
            (i as i64 + 1).into(),
            account_id(e.account).into(),
            e.at_ms.into(),
            studio.as_str().into(),
            tool.clone().into(),
            model.clone().into(),
            template.count.into(),
            template.units.into(),
            "[]".into(),
            template.credits.into(),
            "CHARGED".into(),
            format!("bench-{i}").into(),
            "[]".into(),
        ]
    };
    write::insert_rows(db, "usage_events", &columns, events.len(), row).await
}

/// (account, bucket_ms, bucket_start_ms, kind).
type RollupKey = (u32, i64, i64, u16);
/// (events, outputs, credits).
type Sums = (i64, i64, i64);
type Rollups = Vec<(RollupKey, Sums)>;

/// The rollups `Store::consume` would have written for these events.
fn rollups(events: &[Event], templates: &[Template]) -> Rollups {
    let mut sums: HashMap<RollupKey, Sums> = HashMap::new();
    for event in events {
        let template = &templates[event.template as usize];
        for bucket_ms in [HOUR_MS, DAY_MS] {
            let start = event.at_ms.div_euclid(bucket_ms) * bucket_ms;
            let sum = sums.entry((event.account, bucket_ms, start, template.kind)).or_default();
            *sum = (sum.0 + 1, sum.1 + template.count, sum.2 + template.credits);
        }
    }
    let mut rows: Rollups = sums.into_iter().collect();
    // In the order of the unique index (account ids sort as their numbers),
    // the fastest to insert.
    rows.sort_unstable_by_key(|(key, _)| *key);
    rows
}

async fn insert_rollups(db: &DatabaseConnection, rollups: &Rollups, kinds: &[Kind]) -> Result<(), BoxError> {
    let columns =
        ["account_id", "bucket_ms", "bucket_start_ms", "studio", "tool", "model_id", "events", "outputs", "credits"];
    let row = |i: usize| {
        let ((account, bucket_ms, start, kind), (events, outputs, credits)) = &rollups[i];
        let (studio, tool, model) = &kinds[*kind as usize];
        vec![
            account_id(*account).into(),
            (*bucket_ms).into(),
            (*start).into(),
            studio.as_str().into(),
            tool.clone().into(),
            model.clone().unwrap_or_default().into(),
            (*events).into(),
            (*outputs).into(),
            (*credits).into(),
        ]
    };
    write::insert_rows(db, "usage_rollups", &columns, rollups.len(), row).await
}

fn account_facts(account: u32, plan: &Plan, events: &[Event], templates: &[Template], kinds: &[Kind]) -> Facts {
    let end = plan.now.timestamp_millis();
    let mut facts = Facts { id: account_id(account), ..Facts::default() };
    for event in events.iter().filter(|e| e.account == account) {
        let template = &templates[event.template as usize];
        facts.events += 1;
        facts.credits += template.credits;
        if kinds[template.kind as usize].0 == StudioKind::Image && event.at_ms >= end - 30 * DAY_MS {
            facts.filtered_events += 1;
            facts.filtered_credits += template.credits;
        }
    }
    facts
}
