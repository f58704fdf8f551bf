//! One write transaction on one account: the account is created if new and
//! held (row lock), its lots and subscription are loaded, time is settled
//! (ended periods, expired lots, the day's free credits), and every movement
//! made through it is checked against the lot in the database and appended to
//! the ledger with the balance after it.
use chrono::{DateTime, Utc};
use entity::{accounts, credit_lots, ledger_entries, reservations, subscriptions};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::group_commit::Staged;
use super::{Store, rows};
use crate::clock::to_ms;
use crate::domain::catalog::Catalog;
use crate::domain::holds::{Reservation, ReservationStatus};
use crate::domain::ledger::LedgerKind;
use crate::domain::lots::{CreditSource, Lot};
use crate::domain::money::{self, Credits};
use crate::domain::settle::settle;
use crate::domain::subscription::{Entitlement, Rollover, Subscription, SubscriptionStatus};
use crate::domain::wallet::{WalletInputs, WalletView, summarize};
use crate::error::{DomainError, Error, Result};

pub struct AccountTx {
    tx: DatabaseTransaction,
    /// This account's turn, held until the transaction ends (PostgreSQL).
    _turn: Option<super::gates::Turn>,
    store: Store,
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
        turn: Option<super::gates::Turn>,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<AccountTx> {
        let account = match lock_account(&tx, account_id).await? {
            Some(account) => account,
            None => {
                let new_account = accounts::ActiveModel {
                    id: Set(account_id.to_owned()),
                    created_at_ms: Set(to_ms(now)),
                    daily_free_day: Set(None),
                    low_balance_threshold: Set(None),
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
        let lots = credit_lots::Entity::find()
            .filter(credit_lots::Column::AccountId.eq(account_id))
            .filter(credit_lots::Column::Remaining.gt(0))
            .all(&tx)
            .await?
            .iter()
            .map(rows::lot)
            .collect::<Result<Vec<_>>>()?;
        let subscription = subscriptions::Entity::find()
            .filter(subscriptions::Column::AccountId.eq(account_id))
            .order_by_desc(subscriptions::Column::Id)
            .one(&tx)
            .await?
            .as_ref()
            .map(rows::subscription)
            .transpose()?;
        let holds = super::holds::open_holds(&tx, account_id).await?;
        let balance = lots.iter().map(|lot| lot.remaining).sum();
        let mut account_tx = AccountTx {
            tx,
            _turn: turn,
            store: store.clone(),
            account,
            now,
            lots,
            subscription,
            holds,
            balance,
            entries: Vec::new(),
            changed: false,
            moved: Vec::new(),
        };
        account_tx.settle().await?;
        Ok(account_tx)
    }

    pub fn tx(&self) -> &DatabaseTransaction {
        &self.tx
    }

    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    pub fn catalog(&self) -> &Catalog {
        self.store.catalog()
    }

    pub fn active_subscription(&self) -> Option<&Subscription> {
        self.subscription.as_ref().filter(|s| s.is_active())
    }

    pub fn entitlement(&self) -> Entitlement {
        entitlement(self.store.catalog(), self.active_subscription())
    }

    pub fn wallet(&self) -> WalletView {
        let held = self.holds.iter().map(|hold| hold.credits).sum();
        wallet_view(&self.store, &self.account, &self.lots, self.active_subscription(), held, self.now)
    }

    /// Credits on the lots now, for the ledger's running balance.
    pub fn balance(&self) -> Credits {
        self.balance
    }

    /// Applies what the passing of time requires, in order: the end of a
    /// billing period (renewal or end), the expiry of lots, the day's free
    /// credits. Expiries are recorded when first noticed.
    async fn settle(&mut self) -> Result<()> {
        // Holds past their time limit are released first, so that credits of
        // a lot that expired meanwhile expire with it below.
        let timed_out: Vec<i64> = self.holds.iter().filter(|h| h.timed_out(self.now)).map(|h| h.id).collect();
        for id in timed_out {
            self.close_hold(id, ReservationStatus::Expired, None).await?;
        }
        let rules = self.store.rules().clone();
        let settlement =
            settle(&rules, self.now, &self.lots, self.subscription.as_ref(), self.account.daily_free_day.as_deref());
        if settlement.is_empty() {
            return Ok(());
        }
        match settlement.rollover {
            Rollover::Unchanged => {}
            Rollover::Renewed { start, end } => self.renew(start, end).await?,
            Rollover::Ended { at } => self.end_subscription(SubscriptionStatus::Canceled, at).await?,
        }
        for lot_id in settlement.expire {
            self.expire(lot_id, "expired").await?;
        }
        if let Some((amount, expires_at, day)) = settlement.daily_grant {
            // Conditional, so that a day's credits are granted once even if two
            // transactions both saw the day as new.
            let claimed = accounts::Entity::update_many()
                .col_expr(accounts::Column::DailyFreeDay, Expr::value(day.clone()))
                .filter(accounts::Column::Id.eq(self.account.id.clone()))
                .filter(accounts::Column::DailyFreeDay.is_null().or(accounts::Column::DailyFreeDay.ne(day.clone())))
                .exec(&self.tx)
                .await?;
            if claimed.rows_affected == 1 {
                self.account.daily_free_day = Some(day.clone());
                let amount = self.rule_grant(amount);
                if amount.is_positive() {
                    self.grant(CreditSource::DailyFree, amount, Some(expires_at), false, LedgerKind::DailyGrant, &day)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn renew(&mut self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<()> {
        let Some(subscription) = self.subscription.clone() else {
            return Ok(());
        };
        subscriptions::Entity::update_many()
            .col_expr(subscriptions::Column::CurrentPeriodStartMs, Expr::value(to_ms(start)))
            .col_expr(subscriptions::Column::CurrentPeriodEndMs, Expr::value(to_ms(end)))
            .filter(subscriptions::Column::Id.eq(subscription.id))
            .exec(&self.tx)
            .await?;
        if let Some(current) = self.subscription.as_mut() {
            current.current_period_start = start;
            current.current_period_end = end;
        }
        self.grant_allowance(&subscription.plan_code, subscription.id, end).await
    }

    /// Grants the allowance of a new billing period, expiring at its end.
    pub async fn grant_allowance(&mut self, plan_code: &str, subscription_id: i64, end: DateTime<Utc>) -> Result<()> {
        let plan =
            self.store.catalog().plan(plan_code).cloned().ok_or_else(|| {
                Error::internal(format!("subscription {subscription_id} is on unknown plan {plan_code}"))
            })?;
        let allowance = self.rule_grant(Credits::new(plan.monthly_credits));
        if allowance.is_positive() {
            let reference = format!("subscription {subscription_id}");
            self.grant(
                CreditSource::Subscription,
                allowance,
                Some(end),
                plan.pro_access,
                LedgerKind::SubscriptionGrant,
                &reference,
            )
            .await?;
        }
        Ok(())
    }

    /// Ends the active subscription; its allowance expires with it.
    pub async fn end_subscription(&mut self, status: SubscriptionStatus, at: DateTime<Utc>) -> Result<()> {
        let Some(subscription) = self.subscription.as_mut().filter(|s| s.is_active()) else {
            return Ok(());
        };
        subscription.status = status;
        let id = subscription.id;
        subscriptions::Entity::update_many()
            .col_expr(subscriptions::Column::Status, Expr::value(status.as_str()))
            .col_expr(subscriptions::Column::EndedAtMs, Expr::value(to_ms(at)))
            .filter(subscriptions::Column::Id.eq(id))
            .exec(&self.tx)
            .await?;
        // The allowance expires now, also the credits of it that are held or
        // spent: a release or refund later must not bring them back.
        let source = CreditSource::Subscription.as_str();
        credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::ExpiresAtMs, Expr::value(to_ms(at)))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .filter(credit_lots::Column::Source.eq(source))
            .filter(credit_lots::Column::ExpiresAtMs.gt(to_ms(at)))
            .exec(&self.tx)
            .await?;
        for lot in self.lots.iter_mut().filter(|lot| lot.source == CreditSource::Subscription) {
            lot.expires_at = lot.expires_at.map(|expires_at| std::cmp::min(expires_at, at));
        }
        let live: Vec<i64> = self
            .lots
            .iter()
            .filter(|lot| lot.source == CreditSource::Subscription && lot.remaining.is_positive())
            .map(|lot| lot.id)
            .collect();
        let reason = format!("subscription {id} {}", status.as_str().to_lowercase());
        for lot_id in live {
            self.expire(lot_id, &reason).await?;
        }
        Ok(())
    }

    pub async fn grant(
        &mut self,
        source: CreditSource,
        amount: Credits,
        expires_at: Option<DateTime<Utc>>,
        pro_eligible: bool,
        kind: LedgerKind,
        reference: &str,
    ) -> Result<Lot> {
        let row = credit_lots::ActiveModel {
            id: NotSet,
            account_id: Set(self.account.id.clone()),
            source: Set(source.as_str().to_owned()),
            granted: Set(amount.get()),
            remaining: Set(amount.get()),
            expires_at_ms: Set(expires_at.map(to_ms)),
            pro_eligible: Set(pro_eligible),
            reference: Set(reference.to_owned()),
            created_at_ms: Set(to_ms(self.now)),
        };
        let inserted = credit_lots::Entity::insert(row).exec(&self.tx).await?;
        let lot = Lot {
            id: inserted.last_insert_id,
            source,
            granted: amount,
            remaining: amount,
            expires_at,
            pro_eligible,
            created_at: self.now,
        };
        self.lots.push(lot.clone());
        self.record(kind, lot.id, amount.get(), Origin::reference(reference))?;
        Ok(lot)
    }

    /// Takes `amount` from a lot. The update only succeeds if the lot still
    /// has that much, so even a bug upstream cannot overdraw a lot.
    pub async fn take(&mut self, lot_id: i64, amount: Credits, kind: LedgerKind, origin: Origin) -> Result<()> {
        let updated = credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::Remaining, Expr::col(credit_lots::Column::Remaining).sub(amount.get()))
            .filter(credit_lots::Column::Id.eq(lot_id))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .filter(credit_lots::Column::Remaining.gte(amount.get()))
            .exec(&self.tx)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::internal(format!("lot {lot_id} could not give {amount} credits")));
        }
        let lot = self
            .lots
            .iter_mut()
            .find(|lot| lot.id == lot_id)
            .ok_or_else(|| Error::internal(format!("lot {lot_id} is not loaded")))?;
        lot.remaining = Credits::new(lot.remaining.get() - amount.get());
        self.record(kind, lot_id, -amount.get(), origin)
    }

    /// Gives credits back to a lot (a release or a refund). A lot that has
    /// expired in the meantime gets them back and loses them at once, so
    /// the ledger shows both.
    pub async fn give_back(&mut self, lot_id: i64, amount: Credits, kind: LedgerKind, origin: Origin) -> Result<()> {
        if !amount.is_positive() {
            return Ok(());
        }
        let updated = credit_lots::Entity::update_many()
            .col_expr(credit_lots::Column::Remaining, Expr::col(credit_lots::Column::Remaining).add(amount.get()))
            .filter(credit_lots::Column::Id.eq(lot_id))
            .filter(credit_lots::Column::AccountId.eq(self.account.id.clone()))
            .exec(&self.tx)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::internal(format!("lot {lot_id} cannot take back {amount} credits")));
        }
        match self.lots.iter_mut().find(|lot| lot.id == lot_id) {
            Some(lot) => lot.remaining = Credits::new(lot.remaining.get() + amount.get()),
            None => {
                let row = credit_lots::Entity::find_by_id(lot_id)
                    .one(&self.tx)
                    .await?
                    .ok_or_else(|| Error::internal(format!("lot {lot_id} vanished")))?;
                self.lots.push(rows::lot(&row)?);
            }
        }
        self.record(kind, lot_id, amount.get(), origin)?;
        if self.lots.iter().any(|lot| lot.id == lot_id && lot.is_expired(self.now)) {
            self.expire(lot_id, "expired before its credits came back").await?;
        }
        Ok(())
    }

    /// Ends an open hold: its credits go back to their lots except the
    /// `captured` part (lots drawn first), which stays spent.
    pub async fn close_hold(
        &mut self,
        id: i64,
        status: ReservationStatus,
        captured: Option<(Credits, i64)>,
    ) -> Result<Reservation> {
        let index = self
            .holds
            .iter()
            .position(|hold| hold.id == id)
            .ok_or_else(|| Error::internal(format!("hold {id} is not open")))?;
        let mut hold = self.holds.remove(index);
        let (charged, usage_event_id) = captured.unwrap_or((Credits::ZERO, 0));
        let (_, returned) = crate::domain::holds::capture_split(&hold.lot_split, charged)?;
        for (lot_id, credits) in returned {
            let origin =
                Origin { reservation_id: Some(id), reference: hold.idempotency_key.clone(), ..Origin::default() };
            self.give_back(lot_id, credits, LedgerKind::Release, origin).await?;
        }
        let mut update = reservations::Entity::update_many()
            .col_expr(reservations::Column::Status, Expr::value(status.as_str()))
            .col_expr(reservations::Column::ClosedAtMs, Expr::value(to_ms(self.now)))
            .filter(reservations::Column::Id.eq(id))
            .filter(reservations::Column::Status.eq(ReservationStatus::Open.as_str()));
        if captured.is_some() {
            update = update.col_expr(reservations::Column::UsageEventId, Expr::value(usage_event_id));
            hold.usage_event_id = Some(usage_event_id);
        }
        if update.exec(&self.tx).await?.rows_affected != 1 {
            return Err(Error::internal(format!("hold {id} was closed twice")));
        }
        hold.status = status;
        Ok(hold)
    }

    async fn expire(&mut self, lot_id: i64, reason: &str) -> Result<()> {
        let Some(lot) = self.lots.iter().find(|lot| lot.id == lot_id) else {
            return Ok(());
        };
        let remaining = lot.remaining;
        if remaining.is_positive() {
            self.take(lot_id, remaining, LedgerKind::Expire, Origin::reference(reason)).await?;
        }
        Ok(())
    }

    /// Credits the account owns: in its lots and in its open holds.
    fn owned(&self) -> Credits {
        let held: Credits = self.holds.iter().map(|hold| hold.credits).sum();
        self.balance.checked_add(held).unwrap_or(Credits::new(i64::MAX))
    }

    /// What a grant the rules make (a day's free credits, a period's
    /// allowance) may add: it fills the room an account has left rather
    /// than fail the request that settled it.
    fn rule_grant(&self, amount: Credits) -> Credits {
        amount.min(money::room(self.owned()))
    }

    fn record(&mut self, kind: LedgerKind, lot_id: i64, amount: i64, origin: Origin) -> Result<()> {
        if amount > 0 {
            money::check_room(self.owned(), Credits::new(amount), kind.input_field())?;
        }
        self.balance = self
            .balance
            .checked_add(Credits::new(amount))
            .ok_or_else(|| DomainError::invalid("credits", "the balance would overflow"))?;
        let source = self.lots.iter().find(|lot| lot.id == lot_id).map_or("UNKNOWN", |lot| lot.source.as_str());
        self.moved.push((kind.as_str(), source, amount));
        self.entries.push(ledger_entries::ActiveModel {
            id: NotSet,
            account_id: Set(self.account.id.clone()),
            created_at_ms: Set(to_ms(self.now)),
            kind: Set(kind.as_str().to_owned()),
            lot_id: Set(lot_id),
            amount: Set(amount),
            balance_after: Set(self.balance.get()),
            usage_event_id: Set(origin.usage_event_id),
            reservation_id: Set(origin.reservation_id),
            reference: Set(origin.reference),
        });
        Ok(())
    }

    /// Something the wallet shows changed without a ledger entry.
    pub fn mark_changed(&mut self) {
        self.changed = true;
    }

    /// Writes the ledger entries and commits (or releases the savepoint).
    /// Returns what to announce once the change is durable: the metrics of
    /// the credits moved and the wallet watchers' notification.
    async fn commit(self) -> Result<AfterCommit> {
        if !self.entries.is_empty() {
            ledger_entries::Entity::insert_many(self.entries).exec_without_returning(&self.tx).await?;
        }
        self.tx.commit().await?;
        let changed = self.changed || !self.moved.is_empty();
        let (store, account_id, moved) = (self.store, self.account.id, self.moved);
        Ok(Box::new(move || {
            for (kind, source, amount) in moved {
                crate::metrics::credits_moved(kind, source, amount);
            }
            if changed {
                store.publish_change(&account_id);
            }
        }))
    }

    /// Commits what succeeded; rolls back what failed, so a failure leaves
    /// nothing behind.
    async fn finish<T>(self, result: Result<T>) -> Staged<T> {
        match result {
            Ok(value) => match self.commit().await {
                Ok(after_commit) => Staged { result: Ok(value), after_commit: Some(after_commit) },
                Err(error) => Staged { result: Err(error), after_commit: None },
            },
            Err(error) => {
                let rolled_back = self.tx.rollback().await;
                Staged { result: rolled_back.map_err(Error::from).and(Err(error)), after_commit: None }
            }
        }
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
        validate_account_id(account_id)?;
        let account_id = account_id.to_owned();
        match self.group_commit() {
            Some(group_commit) => {
                let store = self.clone();
                group_commit
                    .submit(move |savepoint| {
                        async move {
                            match AccountTx::open(&store, savepoint, None, &account_id, now).await {
                                Ok(mut account) => {
                                    let result = work(&mut account).await;
                                    account.finish(result).await
                                }
                                Err(error) => Staged { result: Err(error), after_commit: None },
                            }
                        }
                        .boxed()
                    })
                    .await
            }
            None => {
                let turn = self.turn(&account_id).await?;
                let tx = self.begin_write().await?;
                let mut account = AccountTx::open(self, tx, Some(turn), &account_id, now).await?;
                let result = work(&mut account).await;
                // The transaction's own commit is inside `finish`.
                account.finish(result).await.answer(Ok(()))
            }
        }
    }
}

/// The lock that serializes every movement of an account's credits across
/// server processes (PostgreSQL; SQLite has one writer).
async fn lock_account(tx: &DatabaseTransaction, account_id: &str) -> Result<Option<accounts::Model>> {
    Ok(accounts::Entity::find_by_id(account_id).lock_exclusive().one(tx).await?)
}

pub(crate) fn entitlement(catalog: &Catalog, active: Option<&Subscription>) -> Entitlement {
    let plan = active.and_then(|s| catalog.plan(&s.plan_code)).unwrap_or_else(|| catalog.free_plan());
    Entitlement { plan: plan.clone(), active: active.is_some() }
}

pub(crate) fn wallet_view(
    store: &Store,
    account: &accounts::Model,
    lots: &[Lot],
    active: Option<&Subscription>,
    held: Credits,
    now: DateTime<Utc>,
) -> WalletView {
    let rules = store.rules();
    let entitlement = entitlement(store.catalog(), active);
    summarize(WalletInputs {
        lots,
        held,
        pro_entitled: entitlement.pro(),
        subscription_allowance: Credits::new(if entitlement.active { entitlement.plan.monthly_credits } else { 0 }),
        daily_free_resets_at: crate::domain::periods::next_day_boundary(now, rules.day_time_zone),
        low_balance_threshold: account.low_balance_threshold.map_or(rules.low_balance_threshold, Credits::new),
        now,
    })
}

/// Account ids come from the identity provider; accept the characters ids
/// are made of and refuse anything that could be a typo or an injection
/// (the rule is `domain::text`'s, with every other string input).
pub fn validate_account_id(id: &str) -> Result<(), DomainError> {
    crate::domain::text::ACCOUNT_ID.check(id)
}
