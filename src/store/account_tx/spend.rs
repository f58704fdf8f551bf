//! Spend limits on an open account (`domain::spend_limits`). The limits and
//! the count of the day's spend live on the account's row, which opening
//! the account locked and read: admitting a charge reads nothing more, and
//! an account without limits pays nothing for them. The count is kept only
//! while a daily limit applies, and written with the commit (`save_account`).
use chrono::{DateTime, Utc};
use entity::{accounts, reservations};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, Iterable, ModelTrait, QueryFilter};
use serde_json::json;

use super::AccountTx;
use crate::clock::from_ms;
use crate::domain::error::DomainError;
use crate::domain::events::{Event, EventType};
use crate::domain::money::Credits;
use crate::domain::periods::day_key;
use crate::domain::spend_limits::{DaySpend, SpendLimitKind, SpendLimits, admit};
use crate::domain::usage::UsageEvent;
use crate::error::Result;
use crate::store::rows;

impl AccountTx {
    pub fn spend_limits(&self) -> (SpendLimits, DaySpend) {
        rows::spend_limits(&self.account)
    }

    fn today(&self) -> String {
        day_key(self.now, self.store.rules().day_time_zone)
    }

    /// Admits a charge or hold of `credits` under the account's limits and
    /// counts it against today's; one that would pass a limit is
    /// SPEND_LIMIT_REACHED and takes nothing. Call it before any movement:
    /// a refusal commits what opening the account settled and its notice.
    pub fn admit_spend(&mut self, credits: Credits) -> Result<()> {
        let (limits, spend) = self.spend_limits();
        let limits = limits.effective();
        if limits.is_none() {
            return Ok(());
        }
        let today = self.today();
        let spent = spend.on(&today);
        if let Err(refusal) = admit(&limits, spent, credits) {
            self.notice(&refusal, &today);
            return Err(refusal.into());
        }
        if limits.daily.is_some() {
            // `admit` checked the sum against the limit.
            self.count_spend(today, Credits::new(spent.get() + credits.get()));
        }
        Ok(())
    }

    /// Credits taken at `taken_at` that came back (a released hold, the
    /// part of a hold a capture did not charge) leave the day's count, if
    /// they were counted today.
    pub(super) fn give_back_room(&mut self, taken_at: DateTime<Utc>, credits: Credits) {
        let Some(day) = self.account.spent_day.clone() else { return };
        if !credits.is_positive() || day != self.today() || day_key(taken_at, self.store.rules().day_time_zone) != day {
            return;
        }
        let left = Credits::new(self.account.spent_credits.saturating_sub(credits.get()).max(0));
        self.count_spend(day, left);
    }

    /// A refund of `credits` of `event` gives them back to the day's room;
    /// a captured hold's credits counted on the day of the hold.
    pub async fn give_back_refund_room(&mut self, event: &UsageEvent, credits: Credits) -> Result<()> {
        let today = self.today();
        let taken_today = day_key(event.created_at, self.store.rules().day_time_zone) == today;
        if !taken_today || self.account.spent_day.as_deref() != Some(today.as_str()) {
            return Ok(());
        }
        let hold = reservations::Entity::find()
            .filter(reservations::Column::AccountId.eq(self.account.id.clone()))
            .filter(reservations::Column::UsageEventId.eq(event.id))
            .one(&self.tx)
            .await?;
        let taken_at = hold.map_or(event.created_at, |hold| from_ms(hold.created_at_ms));
        self.give_back_room(taken_at, credits);
        Ok(())
    }

    /// Sets the limits, and starts (with what the day spent so far, as
    /// `spent_today` says) or stops the day's count as a daily limit starts
    /// or stops applying.
    pub(crate) fn set_spend_limits(&mut self, limits: SpendLimits, spent_today: Option<Credits>) {
        let account = &mut self.account;
        account.spend_limit_daily = limits.user.daily.map(Credits::get);
        account.spend_limit_per_generation = limits.user.per_generation.map(Credits::get);
        account.admin_spend_limit_daily = limits.admin.daily.map(Credits::get);
        account.admin_spend_limit_per_generation = limits.admin.per_generation.map(Credits::get);
        match (limits.effective().daily, spent_today) {
            (None, _) => {
                account.spent_day = None;
                account.spent_credits = 0;
            }
            (Some(_), Some(spent)) => {
                let today = self.today();
                self.count_spend(today, spent);
            }
            (Some(_), None) => {}
        }
        use accounts::Column as C;
        self.account_changed(&[
            C::SpendLimitDaily,
            C::SpendLimitPerGeneration,
            C::AdminSpendLimitDaily,
            C::AdminSpendLimitPerGeneration,
            C::SpentDay,
            C::SpentCredits,
        ]);
        self.mark_changed();
    }

    fn count_spend(&mut self, day: String, credits: Credits) {
        self.account.spent_day = Some(day);
        self.account.spent_credits = credits.get();
        self.account_changed(&[accounts::Column::SpentDay, accounts::Column::SpentCredits]);
    }

    /// `spend_limit.reached`, once a day per account and kind of limit. It
    /// is written although the charge is refused: the refusal commits.
    fn notice(&mut self, refusal: &DomainError, today: &str) {
        let DomainError::SpendLimitReached { kind, limit, spent, needed } = refusal else { return };
        use accounts::Column as C;
        let (noticed, column) = match kind {
            SpendLimitKind::Daily => (&mut self.account.spend_limit_noticed_daily, C::SpendLimitNoticedDaily),
            SpendLimitKind::PerGeneration => {
                (&mut self.account.spend_limit_noticed_per_generation, C::SpendLimitNoticedPerGeneration)
            }
        };
        if noticed.as_deref() == Some(today) {
            return;
        }
        *noticed = Some(today.to_owned());
        let data = json!({ "kind": kind.as_str(), "limit": limit.get(), "spent": spent.get(), "needed": needed.get() });
        self.emit(Event::new(EventType::SpendLimitReached, data));
        self.account_changed(&[column]);
        self.keeps_refusal = true;
    }

    /// Marks `columns` of the account's row as changed in memory.
    pub(super) fn account_changed(&mut self, columns: &[accounts::Column]) {
        for column in columns {
            self.account_changes |= 1 << *column as u64;
        }
    }

    /// Writes the columns that changed on the account's row in memory (its
    /// event sequence, its limits and their counts) in one update: a charge
    /// under a daily limit writes only the day's count.
    pub(super) async fn save_account(&mut self) -> Result<()> {
        if self.account_changes == 0 {
            return Ok(());
        }
        let mut update = accounts::Entity::update_many().filter(accounts::Column::Id.eq(self.account.id.clone()));
        for column in accounts::Column::iter().filter(|column| self.account_changes & (1 << *column as u64) != 0) {
            update = update.col_expr(column, Expr::value(self.account.get(column)));
        }
        self.tx.defer(&update.into_query(), 1).await?;
        self.account_changes = 0;
        Ok(())
    }
}
