//! The catalog's versions. Each is one row of `catalog_versions`: the whole
//! catalog and plans as TOML, with the audit of the change that made it.
//! The current version (the highest) is held in memory as an immutable
//! snapshot, swapped whole when a newer one commits, so pricing reads no
//! table and a charge that holds one snapshot uses it wholly.
//!
//! Freshness across processes: a change announces itself (PostgreSQL
//! `NOTIFY`, `postgres/catalog_listener.rs`) and every process checks the
//! version once a second (`watch`). Neither is what keeps a charge from a
//! stale price: every account transaction reads the current version with
//! its account lock (`AccountTx::open`), and a transaction that finds a
//! version newer than its snapshot loads it first.
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::catalog_versions;
use futures_util::FutureExt;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, FromQueryResult, QueryOrder, QuerySelect, SqlErr};

use super::Store;
use super::keyset::KeysetRead;
use crate::clock::{from_ms, to_ms};
use crate::domain::catalog::{Catalog, CatalogChange, CatalogDiff, parse_document};
use crate::error::{Error, Result};

/// A change that another process made first is retried on the new version.
const CHANGE_ATTEMPTS: usize = 5;
const RACED: &str = "another process changed the catalog first";

/// A change as the audit shows it.
#[derive(Clone, Debug)]
pub struct CatalogChangeEntry {
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub actor: String,
    pub change: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// What a change did: the version now current, and what it changed
/// (empty when the catalog already was so: no version is made).
#[derive(Clone, Debug)]
pub struct CatalogChanged {
    pub version: i64,
    pub diff: CatalogDiff,
}

fn version_of(row: catalog_versions::Model) -> Result<Catalog> {
    let document =
        parse_document(&row.document).map_err(|e| Error::internal(format!("catalog {}: {e}", row.version)))?;
    Catalog::from_document(document, row.version).map_err(|e| Error::internal(format!("catalog {}: {e}", row.version)))
}

/// The current catalog as `db` sees it: one row, so one consistent version.
pub(crate) async fn load(db: &impl ConnectionTrait) -> Result<Catalog> {
    let row = catalog_versions::Entity::find().order_by_desc(catalog_versions::Column::Version).one(db).await?;
    version_of(row.ok_or_else(|| Error::internal("the catalog has no version"))?)
}

#[derive(FromQueryResult)]
struct Newest {
    version: Option<i64>,
}

/// The SQL of the current version, for a statement to read beside its own.
pub(crate) fn current_version_expr() -> Expr {
    Expr::cust("(SELECT MAX(version) FROM catalog_versions)")
}

async fn current_version(db: &impl ConnectionTrait) -> Result<i64> {
    let newest = catalog_versions::Entity::find()
        .select_only()
        .expr_as(Expr::cust("MAX(version)"), "version")
        .into_model::<Newest>()
        .one(db)
        .await?;
    Ok(newest.and_then(|n| n.version).unwrap_or(0))
}

impl Store {
    /// The catalog in effect: an immutable snapshot, cheap to take.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Holds `catalog` unless a newer version is held already.
    pub(crate) fn install_catalog(&self, catalog: Arc<Catalog>) {
        self.catalog.rcu(|held| if catalog.version > held.version { catalog.clone() } else { held.clone() });
    }

    /// The catalog of the version `version` an account transaction read,
    /// loaded through that transaction when the snapshot held is another.
    pub(crate) async fn catalog_for(&self, db: &impl ConnectionTrait, version: Option<i64>) -> Result<Arc<Catalog>> {
        let held = self.catalog();
        match version {
            Some(version) if version != held.version => {
                let loaded = Arc::new(load(db).await?);
                self.install_catalog(loaded.clone());
                Ok(loaded)
            }
            _ => Ok(held),
        }
    }

    /// Loads the current version if it is not the one held (the safety net
    /// beside the notifications; also how a change the import command made
    /// reaches a running SQLite server). Answers whether it changed.
    pub async fn refresh_catalog(&self) -> Result<bool> {
        let version = current_version(self.reader()).await?;
        if version == self.catalog().version {
            return Ok(false);
        }
        let loaded = Arc::new(load(self.reader()).await?);
        // The database is the truth: held may even be ahead of it.
        self.catalog.store(loaded);
        Ok(true)
    }

    /// Makes `change` the next version, as `actor` at `now`, validated
    /// whole; a refused change writes nothing. With `dry_run`, only says
    /// what it would change.
    pub async fn change_catalog(
        &self,
        actor: &str,
        change: CatalogChange,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<CatalogChanged> {
        for _ in 0..CHANGE_ATTEMPTS {
            if let Some(changed) = self.try_change(actor, change.clone(), now, dry_run).await? {
                return Ok(changed);
            }
        }
        Err(Error::Unavailable("the catalog is changing too often: try again".into()))
    }

    async fn try_change(
        &self,
        actor: &str,
        change: CatalogChange,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<Option<CatalogChanged>> {
        let name = change.name();
        let actor = actor.to_owned();
        let engine = self.engine.clone();
        let result = self
            .transact("catalog", move |tx| {
                async move {
                    let current = load(tx).await?;
                    let (next, diff) = change.apply(&current, now)?;
                    if diff.is_empty() || dry_run {
                        return Ok((Arc::new(current), diff));
                    }
                    let row = catalog_versions::ActiveModel {
                        version: Set(next.version),
                        created_at_ms: Set(to_ms(now)),
                        actor: Set(actor),
                        change: Set(name.to_owned()),
                        before: Set(serde_json::Value::Object(diff.before.clone()).to_string()),
                        after: Set(serde_json::Value::Object(diff.after.clone()).to_string()),
                        document: Set(crate::domain::catalog::print_document(next.document())),
                    };
                    match catalog_versions::Entity::insert(row).exec_without_returning(tx).await {
                        // Another process made this version first: try again on it.
                        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                            return Err(Error::Unavailable(RACED.into()));
                        }
                        inserted => inserted?,
                    };
                    engine.announce_catalog(tx, next.version).await?;
                    Ok((Arc::new(next), diff))
                }
                .boxed()
            })
            .await;
        let (next, diff) = match result {
            Err(Error::Unavailable(detail)) if detail == RACED => return Ok(None),
            other => other?,
        };
        let version = if dry_run { next.version + i64::from(!diff.is_empty()) } else { next.version };
        self.install_catalog(next);
        Ok(Some(CatalogChanged { version, diff }))
    }

    /// The audit, newest first.
    pub async fn catalog_changes(&self, read: KeysetRead<i64>) -> Result<Vec<CatalogChangeEntry>> {
        let query = catalog_versions::Entity::find().select_only().columns([
            catalog_versions::Column::Version,
            catalog_versions::Column::CreatedAtMs,
            catalog_versions::Column::Actor,
            catalog_versions::Column::Change,
            catalog_versions::Column::Before,
            catalog_versions::Column::After,
        ]);
        let rows: Vec<(i64, i64, String, String, String, String)> =
            read.by_id(query, catalog_versions::Column::Version).into_tuple().all(self.reader()).await?;
        rows.into_iter()
            .map(|(version, created_at_ms, actor, change, before, after)| {
                Ok(CatalogChangeEntry {
                    version,
                    created_at: from_ms(created_at_ms),
                    actor,
                    change,
                    before: serde_json::from_str(&before).map_err(|e| Error::internal(e.to_string()))?,
                    after: serde_json::from_str(&after).map_err(|e| Error::internal(e.to_string()))?,
                })
            })
            .collect()
    }

    /// How many changes the audit holds (the seed included).
    pub async fn catalog_change_count(&self) -> Result<u64> {
        Ok(current_version(self.reader()).await?.max(0) as u64)
    }

    /// The catalog as it was at `version`, if there is one.
    pub async fn catalog_at(&self, version: i64) -> Result<Option<Arc<Catalog>>> {
        if version == self.catalog().version {
            return Ok(Some(self.catalog()));
        }
        let row = catalog_versions::Entity::find_by_id(version).one(self.reader()).await?;
        row.map(|row| version_of(row).map(Arc::new)).transpose()
    }
}

impl Store {
    /// Keeps the snapshot current, until dropped: on each announcement of
    /// another process's change (PostgreSQL), and every `every` (the safety
    /// net, and how SQLite learns of the import command's changes).
    pub async fn watch_catalog(self, every: std::time::Duration) {
        let mut listener = match self.engine.catalog_listener(&self.background).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for catalog changes: checking every {every:?} only");
                None
            }
        };
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let failed = tokio::select! {
                _ = interval.tick() => None,
                result = heard(&mut listener) => result.err(),
            };
            if let Some(error) = failed {
                tracing::warn!(%error, "the catalog listener failed: checking every {every:?} only");
                listener = None;
            }
            match self.refresh_catalog().await {
                Ok(true) => tracing::info!(version = self.catalog().version, "catalog version loaded"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "the catalog check failed"),
            }
        }
    }
}

/// The next announcement, or never without a listener.
async fn heard(listener: &mut Option<super::postgres::CatalogListener>) -> Result<()> {
    match listener.as_mut() {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}
