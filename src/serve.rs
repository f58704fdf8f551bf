//! Running the commands: the server with logs and graceful shutdown, and the
//! one-shot commands.
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::app::{App, AppOptions, RequestLimits};
use crate::auth::Role;
use crate::cli::{CatalogCommand, Command, EventsCommand, ExportArgs, ImportArgs, TailArgs, TokenArgs};
use crate::clock::Clock;
use crate::config::{DatabaseArgs, ServeArgs};
use crate::error::{Error, Result};
use crate::store::{self, Store};

pub async fn run(command: Command) -> Result<i32> {
    match command {
        Command::Serve(args) => serve(*args).await.map(|()| 0),
        Command::Migrate(database) => {
            store::migrate(&database.options()).await?;
            println!("migrations applied");
            Ok(0)
        }
        Command::Check(database) => check(database).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(0)
        }
        Command::Token(args) => token(args).await.map(|()| 0),
        Command::DemoData(args) => crate::demo::run(args).await,
        Command::Events(EventsCommand::Tail(args)) => tail_events(args).await.map(|()| 0),
        Command::Catalog(CatalogCommand::Export(args)) => export_catalog(args).await,
        Command::Catalog(CatalogCommand::Import(args)) => import_catalog(args).await,
    }
}

pub fn init_logs(format: &str) {
    let filter = EnvFilter::try_from_env("CREDITS_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}

async fn serve(args: ServeArgs) -> Result<()> {
    init_logs(&args.log_format);
    let options = AppOptions {
        database: args.database.options(),
        rules: args.rules.rules(),
        jwt_secret: args.auth.jwt_secret.clone(),
        limits: RequestLimits {
            body_bytes: args.body_limit_bytes,
            timeout: std::time::Duration::from_secs(args.request_timeout_seconds),
        },
        webhooks: args.webhooks.options(),
    };
    let app = App::new(options, Clock::system()).await?;
    let listener =
        TcpListener::bind(args.listen).await.map_err(|e| Error::internal(format!("bind {}: {e}", args.listen)))?;
    let address = listener.local_addr().map_err(|e| Error::internal(e.to_string()))?;
    tracing::info!(%address, "listening");
    println!("credits: GraphiQL at http://{address}/ , API at http://{address}/graphql");
    if app.generated_secret {
        let token = app.auth.issue(Role::Admin, "admin", None)?;
        println!("credits: no CREDITS_JWT_SECRET set; a secret was generated and kept in the database.");
        println!("credits: admin token (paste into GraphiQL's headers as {{\"Authorization\": \"Bearer ...\"}}):");
        println!("{token}");
    }
    let metrics = match args.metrics_listen {
        Some(address) => Some(serve_metrics(&app, address).await?),
        None => None,
    };
    let scheduler = tokio::spawn(schedule(app.clone(), std::time::Duration::from_secs(args.scheduler_seconds)));
    let catalog = app.spawn_catalog_watcher();
    let webhooks = app.spawn_webhook_worker()?;
    axum::serve(listener, app.router())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| Error::internal(format!("server: {e}")))?;
    scheduler.abort();
    catalog.abort();
    // An attempt cut off here keeps its lease; after it, any process retries it.
    webhooks.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    tracing::info!("stopped");
    Ok(())
}

/// Serves `/metrics` on a listener of its own until the main server stops
/// (a scrape has nothing to finish). A bad address fails the start, loudly.
async fn serve_metrics(app: &App, address: std::net::SocketAddr) -> Result<tokio::task::JoinHandle<()>> {
    let listener =
        TcpListener::bind(address).await.map_err(|e| Error::internal(format!("bind metrics {address}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::internal(e.to_string()))?;
    tracing::info!(%address, "serving metrics");
    println!("credits: metrics at http://{address}/metrics");
    let router = app.metrics_router();
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the metrics listener stopped");
        }
    }))
}

/// Applies what time makes due even to accounts nobody touches: a crashed
/// generation backend cannot keep credits held, a period ends on time.
async fn schedule(app: App, every: std::time::Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        match app.store.run_scheduler(app.clock.now()).await {
            Ok(run) if run.accounts + run.failed == 0 => {}
            Ok(run) => tracing::info!(accounts = run.accounts, failed = run.failed, "settled what time made due"),
            Err(error) => tracing::warn!(%error, "the scheduler's run failed"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

async fn check(database: DatabaseArgs) -> Result<i32> {
    let store = Store::open(&database.options(), Default::default()).await?;
    let report = store.audit().await?;
    for problem in &report.problems {
        println!("account {}: {}", problem.account_id, problem.problem);
    }
    if report.is_clean() {
        println!("ledger check: {} accounts, all consistent", report.accounts_checked);
        Ok(0)
    } else {
        println!("ledger check: {} problems in {} accounts checked", report.problems.len(), report.accounts_checked);
        Ok(1)
    }
}

async fn token(args: TokenArgs) -> Result<()> {
    let secret = match args.auth.jwt_secret.filter(|s| !s.is_empty()) {
        Some(secret) => secret,
        None => Store::open(&args.database.options(), args.rules.rules()).await?.generated_jwt_secret().await?,
    };
    let token = crate::auth::Auth::new(&secret).issue(args.role, &args.sub, args.ttl)?;
    if args.dashboard {
        // In the fragment: a browser sends no fragment to any server, and
        // the page moves the token to the tab's storage and out of the address.
        println!("http://{}/dashboard#token={token}", args.listen);
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `credits events tail`: polls the log by id, so it sees every process's
/// events in the order they were numbered, and prints each as a JSON line.
async fn tail_events(args: TailArgs) -> Result<()> {
    use std::io::Write;
    let store = Store::open(&args.database.options(), Default::default()).await?;
    let mut after = if args.from_start { 0 } else { store.latest_event_id().await? };
    let types = Some(args.types).filter(|types| !types.is_empty());
    loop {
        let events = store.events_after(after, types.as_deref(), 500).await?;
        let mut out = std::io::stdout().lock();
        for event in &events {
            after = event.id;
            let line = serde_json::json!({
                "id": crate::store::webhooks::public_event_id(event.id),
                "type": event.event_type,
                "accountId": event.account_id,
                "sequence": event.sequence,
                "createdAt": crate::domain::events::timestamp(event.created_at),
                "data": event.data,
            });
            // A closed pipe (`| head`) ends the command.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
        if events.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// `credits catalog export`: a version's document, as TOML.
async fn export_catalog(args: ExportArgs) -> Result<i32> {
    let store = Store::open(&args.database.options(), Default::default()).await?;
    let version = args.version.unwrap_or_else(|| store.catalog().version);
    match store.catalog_at(version).await? {
        Some(catalog) => {
            print!("{}", crate::domain::catalog::print_document(catalog.document()));
            Ok(0)
        }
        None => {
            eprintln!("no catalog version {version}");
            Ok(1)
        }
    }
}

/// `credits catalog import FILE [--dry-run]`: one change, validated whole;
/// a refused file changes nothing (exit 1, the reason printed).
async fn import_catalog(args: ImportArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::internal(format!("cannot read {}: {e}", args.file.display())))?;
    let store = Store::open(&args.database.options(), Default::default()).await?;
    let document = match crate::domain::catalog::parse_document(&text) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("{}: {error}; nothing was changed", args.file.display());
            return Ok(1);
        }
    };
    let change = crate::domain::catalog::CatalogChange::Import(Box::new(document));
    match store.change_catalog("import", change, Clock::system().now(), args.dry_run).await {
        Ok(changed) => {
            for line in changed.diff.lines() {
                println!("{line}");
            }
            let verb = if args.dry_run { "would make" } else { "made" };
            match changed.diff.is_empty() {
                true => println!("nothing to change: the catalog stays version {}", changed.version),
                false => println!("{verb} catalog version {}", changed.version),
            }
            Ok(0)
        }
        Err(Error::Domain(error)) => {
            eprintln!("{}: {error}; nothing was changed", args.file.display());
            Ok(1)
        }
        Err(other) => Err(other),
    }
}
