//! One write transaction on one account: the account is created if new and
//! held (row lock), its lots and subscription are loaded, time is settled
//! (ended periods, expired lots, the day's free credits: `settlement.rs`),
//! and every movement made through it is checked against the lot in the
//! database and appended to the ledger with the balance after it
//! (`movements.rs`).
use chrono::{DateTime, Utc};
use entity::{accounts, idempotency_records, ledger_entries};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait, FromQueryResult, QuerySelect};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::engine::{Staged, Turn};
use super::{Store, rows};
use crate::clock::to_ms;
use crate::domain::catalog::Catalog;
use crate::domain::events::Event;
use crate::domain::holds::Reservation;
use crate::domain::lots::Lot;
use crate::domain::money::Credits;
use crate::domain::pricing::{GenerationRequest, PricedGeneration, price};
use crate::domain::subscription::{Entitlement, Subscription};
use crate::domain::text::validate_account_id;
use crate::domain::wallet::{WalletInputs, WalletView, summarize};
use crate::error::{Error, Result};

mod batch;
mod holdings;
mod movements;
mod outbox;
mod settlement;
mod spend;

pub use batch::Batched;
pub(super) use holdings::{HoldingRows, Holdings, Prefetch, Prefetched, load};
pub use settlement::subscription_event;

pub struct AccountTx {
    tx: Batched,
    /// This account's turn, held until the transaction ends.
    _turn: Turn,
    store: Store,
    /// The catalog version current when the account was locked: everything
    /// this transaction prices or entitles uses it, and only it.
    catalog: std::sync::Arc<Catalog>,
    pub account: accounts::Model,
    pub now: DateTime<Utc>,
    /// Lots with credits left (expired ones are emptied by settlement).
    pub lots: Vec<Lot>,
    /// The latest subscription, active or not.
    pub subscription: Option<Subscription>,
    /// Open holds.
    pub holds: Vec<Reservation>,
    balance: Credits,
    entries: Vec<ledger_entries::ActiveModel>,
    /// Something the wallet shows changed without a ledger entry.
    changed: bool,
    /// `(kind, lot source, amount)` of each entry, counted once committed.
    moved: Vec<(&'static str, &'static str, i64)>,
    /// Events to write with the commit (the outbox: `outbox.rs`).
    events: Vec<Event>,
    /// The balance the last threshold check saw.
    watched: Credits,
    /// Lots whose coming expiry has not been considered for a notice.
    unnoticed: Vec<i64>,
    /// Columns of the account's row changed in memory, a bit each by their
    /// place in `accounts::Column`, written at commit (`spend.rs`:
    /// `save_account`).
    account_changes: u64,
    /// A refusal that wrote a notice commits it (`spend.rs`).
    keeps_refusal: bool,
    /// What opening read for the request (`Prefetch`).
    prefetched: holdings::Prefetched,
}

/// Where a ledger entry comes from, besides its lot.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub usage_event_id: Option<i64>,
    pub reservation_id: Option<i64>,
    pub reference: String,
}

impl Origin {
    pub fn reference(reference: impl Into<String>) -> Self {
        Origin { reference: reference.into(), ..Origin::default() }
    }
}

impl AccountTx {
    /// Opens the account on `tx`, a transaction of its own or a savepoint of
    /// a group commit; `turn` is its place in the per-account queue, if any.
    async fn open(
        store: &Store,
        tx: DatabaseTransaction,
        turn: Turn,
        account_id: &str,
        prefetch: &Prefetch,
        now: DateTime<Utc>,
    ) -> Result<AccountTx> {
        let (account, catalog_version) = match lock_account(&tx, account_id).await? {
            Some(locked) => locked,
            None => {
                let new_account = accounts::ActiveModel {
                    id: Set(account_id.to_owned()),
                    created_at_ms: Set(to_ms(now)),
                    daily_free_day: Set(None),
                    low_balance_threshold: Set(None),
                    ..Default::default()
                };
                // Two first requests may race to create it: one insert wins.
                accounts::Entity::insert(new_account)
                    .on_conflict(OnConflict::column(accounts::Column::Id).do_nothing().to_owned())
                    .exec_without_returning(&tx)
                    .await?;
                lock_account(&tx, account_id)
                    .await?
                    .ok_or_else(|| Error::internal(format!("account {account_id} vanished inside its transaction")))?
            }
        };
        let catalog = store.catalog_for(&tx, catalog_version).await?;
        let Holdings { lots, subscription, holds, unnoticed, prefetched } =
            load(&store.engine, &tx, account_id, prefetch).await?;
        let balance = lots.iter().map(|lot| lot.remaining).sum();
        let mut account_tx = AccountTx {
            tx: Batched::new(tx, store.engine.joins_writes()),
            _turn: turn,
            store: store.clone(),
            catalog,
            account,
            now,
            lots,
            subscription,
            holds,
            balance,
            entries: Vec::new(),
            changed: false,
            moved: Vec::new(),
            events: Vec::new(),
            watched: balance,
            unnoticed,
            account_changes: 0,
            keeps_refusal: false,
            prefetched,
        };
        account_tx.settle().await?;
        Ok(account_tx)
    }

    /// The transaction: what goes through it sends the deferred writes
    /// first (`batch.rs`).
    pub fn tx(&self) -> &Batched {
        &self.tx
    }

    /// The record of `key`, if opening read it: `None` when it did not.
    pub fn key_record(&self, key: &str) -> Option<Option<&idempotency_records::Model>> {
        let (read, record) = self.prefetched.key_record.as_ref()?;
        (read == key).then_some(record.as_ref())
    }

    /// The id opening took for this request's usage event, once.
    pub fn take_usage_event_id(&mut self) -> Option<i64> {
        self.prefetched.usage_event_id.take()
    }

    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// `priced` as this transaction's catalog prices it: priced again when
    /// the catalog changed between the caller's snapshot and the lock, so a
    /// change committed before the lock is never missed.
    pub fn reprice(&self, priced: PricedGeneration, request: &GenerationRequest) -> Result<PricedGeneration> {
        if priced.catalog_version == self.catalog.version {
            return Ok(priced);
        }
        Ok(price(&self.catalog, request, self.now)?)
    }

    pub fn rules(&self) -> &crate::domain::rules::Rules {
        self.store.rules()
    }

    pub fn active_subscription(&self) -> Option<&Subscription> {
        self.subscription.as_ref().filter(|s| s.is_active())
    }

    pub fn entitlement(&self) -> Entitlement {
        Entitlement::of(&self.catalog, self.subscription.as_ref())
    }

    pub fn wallet(&self) -> WalletView {
        let held = self.holds.iter().map(|hold| hold.credits).sum();
        let catalog = &self.catalog;
        wallet_view(&self.store, catalog, &self.account, &self.lots, self.subscription.as_ref(), held, self.now)
    }

    /// Credits on the lots now, for the ledger's running balance.
    pub fn balance(&self) -> Credits {
        self.balance
    }

    /// Something the wallet shows changed without a ledger entry.
    pub fn mark_changed(&mut self) {
        self.changed = true;
    }

    /// Writes the ledger entries and commits (or releases the savepoint).
    /// Returns what to announce once the change is durable: the metrics of
    /// the credits moved and the wallet watchers' notification.
    async fn commit(mut self) -> Result<AfterCommit> {
        self.watch_balance().await?;
        self.notice_expiries().await?;
        if !self.entries.is_empty() {
            let entries = std::mem::take(&mut self.entries);
            let rows = entries.len() as u64;
            self.tx.defer(&ledger_entries::Entity::insert_many(entries).into_query(), rows).await?;
        }
        let written = self.write_events().await?;
        self.save_account().await?;
        self.tx.commit().await?;
        let changed = self.changed || !self.moved.is_empty();
        let (store, account_id, moved) = (self.store, self.account.id, self.moved);
        Ok(Box::new(move || {
            for (kind, source, amount) in moved {
                crate::metrics::credits_moved(kind, source, amount);
            }
            if !written.is_empty() {
                for event_type in written {
                    crate::metrics::event_written(event_type);
                }
                store.outbox_signal().notify_one();
            }
            if changed {
                store.publish_change(&account_id);
            }
        }))
    }

    /// Commits what succeeded; rolls back what failed, so a failure leaves
    /// nothing behind. A refusal that wrote a notice (a spend limit, refused
    /// before anything moved) commits it, and what opening settled.
    async fn finish<T>(self, result: Result<T>) -> Staged<T> {
        if result.is_ok() || self.keeps_refusal {
            return match self.commit().await {
                Ok(after_commit) => Staged { result, after_commit: Some(after_commit) },
                Err(error) => Staged { result: result.and(Err(error)), after_commit: None },
            };
        }
        let rolled_back = self.tx.rollback().await;
        Staged { result: rolled_back.map_err(Error::from).and(result), after_commit: None }
    }
}

type AfterCommit = Box<dyn FnOnce() + Send>;

impl Store {
    /// Runs `work` in a transaction on `account_id` (created if new), settled
    /// as of `now`, and answers once it is committed; an error rolls all of
    /// it back. On PostgreSQL the transaction is the request's own, holding
    /// the account's row lock; on SQLite it is a savepoint in the group
    /// commit, run on the writer's thread, so `work` borrows the account and
    /// owns everything else it needs.
    pub(crate) async fn write<T, F>(&self, account_id: &str, now: DateTime<Utc>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut AccountTx) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        self.write_prefetching(account_id, Prefetch::default(), now, work).await
    }

    /// `write`, with opening the account reading what `prefetch` asks in
    /// the same round trip as the holdings.
    pub(crate) async fn write_prefetching<T, F>(
        &self,
        account_id: &str,
        prefetch: Prefetch,
        now: DateTime<Utc>,
        work: F,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut AccountTx) -> BoxFuture<'a, Result<T>> + Send + 'static,
    {
        validate_account_id(account_id)?;
        let (store, id) = (self.clone(), account_id.to_owned());
        let job = Box::new(move |tx, turn| {
            async move {
                match AccountTx::open(&store, tx, turn, &id, &prefetch, now).await {
                    Ok(mut account) => {
                        let result = work(&mut account).await;
                        account.finish(result).await
                    }
                    Err(error) => Staged { result: Err(error), after_commit: None },
                }
            }
            .boxed()
        });
        self.engine.write(&self.writer, account_id, job).await
    }
}

#[derive(FromQueryResult)]
struct Locked {
    #[sea_orm(nested)]
    account: accounts::Model,
    catalog_version: Option<i64>,
}

/// The lock that serializes every movement of an account's credits across
/// server processes (PostgreSQL; SQLite has one writer), and the current
/// catalog version, read in the same statement: any change committed before
/// the lock is seen, at no extra round trip.
async fn lock_account(tx: &DatabaseTransaction, account_id: &str) -> Result<Option<(accounts::Model, Option<i64>)>> {
    let locked = accounts::Entity::find_by_id(account_id)
        .expr_as(super::catalog::current_version_expr(), "catalog_version")
        .lock_exclusive()
        .into_model::<Locked>()
        .one(tx)
        .await?;
    Ok(locked.map(|locked| (locked.account, locked.catalog_version)))
}

/// The wallet of an account whose latest subscription is `subscription`.
pub(super) fn wallet_view(
    store: &Store,
    catalog: &Catalog,
    account: &accounts::Model,
    lots: &[Lot],
    subscription: Option<&Subscription>,
    held: Credits,
    now: DateTime<Utc>,
) -> WalletView {
    let rules = store.rules();
    let entitlement = Entitlement::of(catalog, subscription);
    summarize(WalletInputs {
        lots,
        held,
        pro_entitled: entitlement.pro(),
        subscription_allowance: Credits::new(if entitlement.active { entitlement.plan.monthly_credits } else { 0 }),
        daily_free_resets_at: crate::domain::periods::next_day_boundary(now, rules.day_time_zone),
        low_balance_threshold: account.low_balance_threshold.map_or(rules.low_balance_threshold, Credits::new),
        spend_limit: {
            let (limits, spend) = rows::spend_limits(account);
            crate::domain::spend_limits::view(limits, &spend, now, rules.day_time_zone)
        },
        now,
    })
}
