//! `credits demo-data`: months of realistic usage for GraphiQL and benchmarks,
//! made through the same store functions the API calls (never raw inserts),
//! so the data obeys every rule the server enforces and the ledger check holds.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use chrono::{DateTime, Duration, Months, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::task::JoinSet;

use crate::config::{DatabaseArgs, RulesArgs};
use crate::domain::catalog::Plan;
use crate::domain::error::DomainError;
use crate::domain::pricing::GenerationRequest;
use crate::domain::subscription::Subscription;
use crate::error::{Error, Result};
use crate::store::{Charge, GrantRequest, Store};

mod plan;
pub use plan::generation;
use plan::{Op, Profile, account_id, profiles, timeline};

const PREFIX: &str = "demo-";
/// Share of generations that reserve first, then capture or release.
const HELD_SHARE: f64 = 0.05;
const REFUND_SHARE: f64 = 0.02;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Accounts to create: demo-0001, ... (numbering continues after existing demo accounts).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub accounts: u32,
    /// Generations to attempt in all, spread unevenly over the accounts.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=100_000_000))]
    pub events: u64,
    /// Months of history, ending now.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=60))]
    pub months: u32,
    /// Seed of every random choice: the same seed makes the same data (relative to now).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Accounts filled at the same time (PostgreSQL runs them in parallel; SQLite queues the writes).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub rules: RulesArgs,
}

/// What the summary counts, in the order it prints them.
#[derive(Clone, Copy)]
enum Tally {
    Charged,
    Refused,
    Captured,
    Released,
    Refunds,
    Purchases,
    Promos,
    Subscriptions,
    PlanChanges,
    Cancellations,
}

const TALLY_NAMES: [&str; 10] = [
    "generations charged",
    "refused for lack of credits",
    "holds captured (included above)",
    "holds released",
    "refunds",
    "token purchases",
    "promo grants",
    "subscriptions",
    "plan changes",
    "cancellations",
];

struct Job {
    store: Store,
    profiles: Vec<Profile>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    next: AtomicUsize,
    tallies: [AtomicU64; TALLY_NAMES.len()],
}

impl Job {
    fn count(&self, tally: Tally) {
        self.tallies[tally as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn tally(&self, tally: Tally) -> u64 {
        self.tallies[tally as usize].load(Ordering::Relaxed)
    }
}

pub async fn run(args: DemoArgs) -> Result<i32> {
    let started = Instant::now();
    let store = Store::open(&args.database.options(), args.rules.rules()).await?;
    let seed = args.seed.unwrap_or_else(rand::random);
    let first = last_demo_account(&store).await? + 1;
    let now = Utc::now();
    // Follow-ups (captures, refunds) land minutes after their generation:
    // the margin keeps all of them in the past, so the server never sees an
    // account whose history is ahead of its clock.
    let end = now - Duration::minutes(15);
    let start = now.checked_sub_months(Months::new(args.months)).unwrap_or(end);
    let profiles = profiles(seed, first, args.accounts, args.events);
    let tallies = Default::default();
    let job = Arc::new(Job { store: store.clone(), profiles, start, end, next: AtomicUsize::new(0), tallies });
    let progress = tokio::spawn(report_progress(job.clone(), args.events));
    let mut workers = JoinSet::new();
    for _ in 0..args.concurrency.min(args.accounts) {
        workers.spawn(work(job.clone()));
    }
    while let Some(joined) = workers.join_next().await {
        // Returning drops `workers`, which aborts the accounts still running.
        joined.map_err(|e| Error::internal(format!("demo-data worker: {e}")))??;
    }
    progress.abort();
    let elapsed = started.elapsed().as_secs_f64();
    let (from, to) = (account_id(first), account_id(first + u64::from(args.accounts) - 1));
    println!("demo-data: accounts {from} to {to}, {} months up to now, seed {seed}", args.months);
    println!("  generations attempted: {}", args.events);
    for (name, count) in TALLY_NAMES.iter().zip(&job.tallies) {
        println!("  {name}: {}", count.load(Ordering::Relaxed));
    }
    println!("  elapsed: {elapsed:.1} s ({:.0} generations/s)", args.events as f64 / elapsed.max(0.001));
    let audit = store.audit().await?;
    for problem in &audit.problems {
        println!("  ledger problem, account {}: {}", problem.account_id, problem.problem);
    }
    let verdict = if audit.is_clean() { "clean" } else { "NOT CLEAN" };
    println!("ledger check of {} accounts: {verdict}", audit.accounts_checked);
    Ok(if audit.is_clean() { 0 } else { 1 })
}

/// The highest number of an existing `demo-NNNN` account, so that a second run
/// adds accounts instead of replaying keys on old ones, out of time order.
async fn last_demo_account(store: &Store) -> Result<u64> {
    let ids: Vec<String> = entity::accounts::Entity::find()
        .select_only()
        .column(entity::accounts::Column::Id)
        .filter(entity::accounts::Column::Id.starts_with(PREFIX))
        .into_tuple()
        .all(store.reader())
        .await?;
    Ok(ids.iter().filter_map(|id| id.strip_prefix(PREFIX)?.parse().ok()).max().unwrap_or(0))
}

/// Fills accounts one after the other until none is left.
async fn work(job: Arc<Job>) -> Result<()> {
    while let Some(profile) = job.profiles.get(job.next.fetch_add(1, Ordering::Relaxed)) {
        let mut rng = StdRng::seed_from_u64(profile.seed);
        let timeline = timeline(&mut rng, profile, job.start, job.end);
        let mut account =
            DemoAccount { job: &job, id: &profile.id, rng, subscription: None, now: job.start, serial: 0 };
        for (at, op) in timeline {
            account.advance_to(at);
            let now = account.now;
            account.apply(op).await.map_err(|error| {
                let detail = match error {
                    Error::Internal(detail) | Error::Unavailable(detail) => detail,
                    other => other.to_string(),
                };
                Error::internal(format!("demo-data stopped: {op:?} on account {} at {now}: {detail}", profile.id))
            })?;
        }
    }
    Ok(())
}

async fn report_progress(job: Arc<Job>, events: u64) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(5));
    interval.tick().await;
    loop {
        interval.tick().await;
        let done = job.tally(Tally::Charged) + job.tally(Tally::Refused) + job.tally(Tally::Released);
        eprintln!("demo-data: {done} of {events} generations done");
    }
}

/// How a generation ended.
enum Outcome {
    /// The usage event, and whether it took the balance below the threshold.
    Charged {
        event_id: i64,
        crossed_low_balance: bool,
    },
    /// Reserved, then the generation failed: nothing charged.
    Released,
    Refused,
}

impl From<Charge> for Outcome {
    fn from(charge: Charge) -> Self {
        Outcome::Charged { event_id: charge.usage_event.id, crossed_low_balance: charge.crossed_low_balance }
    }
}

/// One account being filled. Every store call and every check of what the
/// plan allows read the same clock, `now`, so none can disagree on whether a
/// subscription has ended.
struct DemoAccount<'a> {
    job: &'a Job,
    id: &'a str,
    rng: StdRng,
    /// The subscription as the store last returned it: enough to know when it
    /// is active without asking, so no charge is refused for Pro access.
    subscription: Option<Subscription>,
    now: DateTime<Utc>,
    serial: u64,
}

impl<'a> DemoAccount<'a> {
    fn store(&self) -> &'a Store {
        &self.job.store
    }

    /// Time only moves forward on an account: the store settles days and
    /// periods on each access, and going back would grant a day twice.
    fn advance_to(&mut self, at: DateTime<Utc>) {
        self.now = self.now.max(at);
    }

    fn key(&mut self, kind: &str) -> String {
        self.serial += 1;
        format!("{}-{kind}-{}", self.id, self.serial)
    }

    /// The plan of the active subscription, if any.
    fn plan(&self) -> Option<Plan> {
        let ended = |s: &&Subscription| !s.is_active() || (s.cancel_at_period_end && self.now >= s.current_period_end);
        let catalog = self.store().catalog();
        self.subscription.as_ref().filter(|s| !ended(s)).and_then(|s| catalog.plan(&s.plan_code).cloned())
    }

    async fn apply(&mut self, op: Op) -> Result<()> {
        let (store, now) = (self.store(), self.now);
        match op {
            Op::Join => {
                store.account(self.id, now).await?;
            }
            Op::Subscribe | Op::ChangePlan => self.subscribe(op).await?,
            Op::Cancel(at_period_end) if self.plan().is_some() => {
                let change = store.cancel_subscription(self.id, at_period_end, now).await?;
                self.subscription = Some(change.subscription);
                self.job.count(Tally::Cancellations);
            }
            Op::Cancel(_) => {}
            Op::Promo => {
                let grant = GrantRequest {
                    credits: *[100, 250, 500].choose(&mut self.rng).unwrap_or(&100),
                    expires_at: Some(now + Duration::days(30)),
                    pro_eligible: self.rng.random_bool(0.3),
                    reason: "demo: seasonal promotion".into(),
                };
                store.grant_credits(self.id, &grant, &self.key("promo"), now).await?;
                self.job.count(Tally::Promos);
            }
            Op::BuyTokens => {
                self.top_up(1.0).await?;
            }
            Op::Generate => self.generate().await?,
        }
        Ok(())
    }

    /// Subscribes, or changes to another paid plan; cheaper plans are more
    /// popular. A change with no active subscription left is not made.
    async fn subscribe(&mut self, op: Op) -> Result<()> {
        let current = self.plan().map(|plan| plan.code);
        if matches!(op, Op::ChangePlan) != current.is_some() {
            return Ok(());
        }
        let catalog = self.store().catalog();
        let others: Vec<&Plan> =
            catalog.plans.iter().filter(|p| !p.is_free() && Some(&p.code) != current.as_ref()).collect();
        let Ok(plan) = others.choose_weighted(&mut self.rng, |p| 10_000 / p.price_cents.max(1)) else { return Ok(()) };
        let change = self.store().subscribe(self.id, &plan.code, &self.key("payment"), self.now).await?;
        self.subscription = Some(change.subscription);
        self.job.count(if current.is_some() { Tally::PlanChanges } else { Tally::Subscriptions });
        Ok(())
    }

    /// One generation; a subscriber who runs short may buy tokens and try
    /// again; a few charged ones are refunded a little later.
    async fn generate(&mut self) -> Result<()> {
        let pro = self.plan().is_some_and(|plan| plan.pro_access);
        let request = generation(&mut self.rng, &self.job.store.catalog(), pro)?;
        let mut outcome = self.charge(&request).await?;
        if matches!(outcome, Outcome::Refused) && self.top_up(0.6).await? {
            outcome = self.charge(&request).await?;
        }
        self.job.count(match outcome {
            Outcome::Charged { .. } => Tally::Charged,
            Outcome::Released => Tally::Released,
            Outcome::Refused => Tally::Refused,
        });
        let Outcome::Charged { event_id, crossed_low_balance } = outcome else { return Ok(()) };
        if crossed_low_balance {
            self.top_up(0.3).await?;
        }
        if self.rng.random_bool(REFUND_SHARE) {
            let later = self.now + Duration::minutes(self.rng.random_range(1..=10));
            self.advance_to(later);
            let causes = crate::domain::refunds::RefundCause::ALL;
            let request = crate::store::refunds::RefundRequest {
                usage_event_id: event_id.to_string(),
                reason: Some("demo: the generation failed".to_owned()),
                cause: causes[self.rng.random_range(0..causes.len())],
                credits: None,
            };
            self.store().refund(request, self.now).await?;
            self.job.count(Tally::Refunds);
        }
        Ok(())
    }

    /// Charges at once, or reserves and then captures (often for less) or
    /// releases, as a generation backend does.
    async fn charge(&mut self, request: &GenerationRequest) -> Result<Outcome> {
        let (store, key) = (self.store(), self.key("gen"));
        if !self.rng.random_bool(HELD_SHARE) {
            let charged = short_of_credits(store.consume(self.id, request, &key, self.now).await)?;
            return Ok(charged.map_or(Outcome::Refused, Outcome::from));
        }
        let Some(hold) = short_of_credits(store.reserve(self.id, request, &key, None, self.now).await)? else {
            return Ok(Outcome::Refused);
        };
        // The generation runs for a while, well within the hold's time limit.
        let ran = self.rng.random_range(2..store.rules().hold_ttl_seconds.min(120));
        self.advance_to(self.now + Duration::seconds(ran));
        let id = hold.reservation.id.to_string();
        if self.rng.random_bool(0.25) {
            store.release(&id, self.now).await?;
            return Ok(Outcome::Released);
        }
        let held = hold.reservation.credits.get();
        // Half the captures are for less: a video cut short, fewer outputs.
        let credits = if self.rng.random_bool(0.5) { held } else { self.rng.random_range((held + 1) / 2..=held) };
        self.job.count(Tally::Captured);
        Ok(store.capture(&id, Some(credits), self.now).await?.into())
    }

    /// Buys a token pack with the given probability, if the plan allows it.
    async fn top_up(&mut self, probability: f64) -> Result<bool> {
        if !self.plan().is_some_and(|plan| plan.can_buy_tokens) || !self.rng.random_bool(probability) {
            return Ok(false);
        }
        let catalog = self.store().catalog();
        let packs = &catalog.token_packs;
        let Ok(pack) = packs.choose_weighted(&mut self.rng, |p| 10_000 / p.price_cents.max(1)) else {
            return Ok(false);
        };
        let payment = self.key("payment");
        let key = format!("{payment}-purchase");
        self.store().purchase_tokens(self.id, &pack.id, &payment, &key, self.now).await?;
        self.job.count(Tally::Purchases);
        Ok(true)
    }
}

/// INSUFFICIENT_CREDITS is an expected outcome here; any other error is not.
fn short_of_credits<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::Domain(DomainError::InsufficientCredits { .. })) => Ok(None),
        Err(error) => Err(error),
    }
}
