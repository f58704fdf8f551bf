//! What partitioning `usage_events` and `ledger_entries` by month costs a
//! charge (issue 22; `--phases partitions`, PostgreSQL only): the same
//! `consumeCredits` through two servers in one run, one on the schema as
//! migrated (partitioned) and one on a schema without the feature (the
//! partitioning migration undone and recorded as applied, so that its
//! server does not partition it again). Both servers run throughout, so
//! each side's idle neighbour costs the same; the phases go A B B A, spread
//! then hot, and each side's figure is the mean of its two.
use std::sync::Arc;
use std::time::Duration;

use credits::auth::{Auth, Role};
use credits::store::DatabaseOptions;
use migration::{Migrator, MigratorTrait};
use sea_orm::ConnectionTrait;

use crate::scratch::{Choice, Scratch};
use crate::server::Server;
use crate::{BoxError, GRANT_CREDITS, Target, http, stats};

/// The partitioning migration's name, as `seaql_migrations` records it.
const MIGRATION: &str = "m20261208_000001_time_partitions";

/// A server and the token its secret signs.
struct Side {
    name: &'static str,
    server: Server,
    token: String,
}

/// Runs the comparison on `options` (migrated by its server) and a second
/// schema it makes and drops.
pub async fn compare(
    choice: &Choice,
    options: &DatabaseOptions,
    clients: usize,
    seconds: u64,
    accounts: usize,
) -> Result<(), BoxError> {
    if !choice.postgres {
        return Err("--phases partitions compares PostgreSQL schemas: add --database postgres".into());
    }
    let (flat_scratch, flat) = Scratch::create(choice, "load_flat", options.acquire_timeout).await?;
    let outcome = measure(options, &flat, clients, seconds, accounts).await;
    flat_scratch.remove().await?;
    outcome
}

async fn measure(
    partitioned: &DatabaseOptions,
    flat: &DatabaseOptions,
    clients: usize,
    seconds: u64,
    accounts: usize,
) -> Result<(), BoxError> {
    unpartition(flat).await?;
    let accounts: Arc<Vec<String>> = Arc::new((0..accounts).map(|i| format!("load-{i:07}")).collect());
    let mut sides = Vec::new();
    for (name, options) in [("partitioned", partitioned), ("unpartitioned", flat)] {
        let secret = format!("load-partitions-{name}-{}", std::process::id());
        let server = Server::start(options, &secret).await?;
        let token = Auth::new(&secret).issue(Role::Admin, "load-benchmark", None)?;
        http::grant_all(&server.base_url, &token, accounts.clone(), GRANT_CREDITS, clients).await?;
        sides.push(Side { name, server, token });
    }
    println!("\npartitioned tables against the same schema without them, A B B A (both servers up throughout):");
    let duration = Duration::from_secs(seconds);
    let run = format!("{}-partitions", std::process::id());
    let spread = Target { clients, duration, accounts: accounts.clone(), run: format!("{run}-spread") };
    let hot = Target { clients, duration, accounts: Arc::new(vec![accounts[0].clone()]), run: format!("{run}-hot") };
    let mut shares = Vec::new();
    for (workload, target) in [("spread", &spread), ("hot account", &hot)] {
        let mut per_second = [0.0f64; 2];
        for (round, side) in [0, 1, 1, 0].into_iter().enumerate() {
            let Side { name, server, token } = &sides[side];
            let target =
                Target { run: format!("{}-{round}", target.run), accounts: target.accounts.clone(), ..*target };
            let label = format!("{workload}, {name}");
            let phase = http::drive(&label, &server.base_url, token, &target, server.pid()).await?;
            phase.print();
            per_second[side] += phase.per_second() / 2.0;
        }
        shares.push((workload, per_second));
    }
    for side in sides {
        side.server.stop().await;
    }
    println!("\nsummary (PostgreSQL, {clients} clients, {seconds} s per phase):");
    for (workload, [with, without]) in shares {
        let share = 100.0 * with / without.max(1e-9);
        println!(
            "  partitioned / unpartitioned, {workload:<12} {with:>7.0} / {without:>7.0} consumes/s = {share:>5.1}%"
        );
    }
    println!("load average at the end {}", stats::load_average());
    Ok(())
}

/// The schema as it was before the partitioning migration: migrated, that
/// migration undone, and recorded as applied.
async fn unpartition(options: &DatabaseOptions) -> Result<(), BoxError> {
    credits::store::migrate(options).await?;
    let last = Migrator::migrations().last().map(|migration| migration.name().to_owned());
    if last.as_deref() != Some(MIGRATION) {
        return Err(format!("the last migration is {last:?}, not {MIGRATION}: undo that one by name").into());
    }
    let db = credits::store::connect_for_tests(options).await?;
    Migrator::down(&db, Some(1)).await?;
    let applied = format!("INSERT INTO seaql_migrations (version, applied_at) VALUES ('{MIGRATION}', 0)");
    db.execute_unprepared(&applied).await?;
    db.close().await?;
    Ok(())
}
