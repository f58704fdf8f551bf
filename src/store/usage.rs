//! Usage events and their rollups.
use entity::{usage_events, usage_rollups};
use sea_orm::QueryTrait as _;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use super::account_tx::Batched;
use super::keyset::{Direction, KeysetRead};
use super::rows::{from_json, to_json};
use super::{AccountTx, Store};
use crate::clock::{from_ms, to_ms};
use crate::domain::analytics::UsageFilter;
use crate::domain::catalog::StudioKind;
use crate::domain::error::DomainError;
use crate::domain::money::Credits;
use crate::domain::pricing::PricedGeneration;
use crate::domain::refunds::RefundCause;
use crate::domain::usage::{UsageEvent, UsageStatus};
use crate::error::{Error, Result};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// Records a charged generation: with the commit's other writes when
/// opening the account took its id (`Prefetch`), at once otherwise.
pub(crate) async fn insert(
    account: &mut AccountTx,
    priced: &PricedGeneration,
    idempotency_key: &str,
    split: &[(i64, Credits)],
) -> Result<UsageEvent> {
    let split_json: Vec<(i64, i64)> = split.iter().map(|(lot, c)| (*lot, c.get())).collect();
    let prefetched = account.take_usage_event_id();
    let row = usage_events::ActiveModel {
        id: prefetched.map_or(NotSet, Set),
        account_id: Set(account.account_id().to_owned()),
        created_at_ms: Set(to_ms(account.now)),
        studio: Set(priced.studio.as_str().to_owned()),
        tool: Set(priced.tool.clone()),
        model_id: Set(priced.model_id.clone()),
        count: Set(priced.count),
        units: Set(priced.units),
        options: Set(to_json(&priced.options)?),
        credits: Set(priced.credits.get()),
        status: Set(UsageStatus::Charged.as_str().to_owned()),
        idempotency_key: Set(idempotency_key.to_owned()),
        lot_split: Set(to_json(&split_json)?),
        unit_price: Set(priced.unit_price_millicredits),
        catalog_version: Set(priced.catalog_version),
        refunded_credits: Set(0),
    };
    let id = match prefetched {
        Some(id) => {
            account.tx().defer(&usage_events::Entity::insert(row).into_query(), 1).await?;
            id
        }
        None => usage_events::Entity::insert(row).exec(account.tx()).await?.last_insert_id,
    };
    Ok(UsageEvent {
        id,
        account_id: account.account_id().to_owned(),
        created_at: account.now,
        studio: priced.studio,
        tool: priced.tool.clone(),
        model_id: priced.model_id.clone(),
        count: priced.count,
        units: priced.units,
        options: priced.options.clone(),
        credits: priced.credits,
        refunded_credits: Credits::ZERO,
        status: UsageStatus::Charged,
        idempotency_key: idempotency_key.to_owned(),
        lot_split: split.to_vec(),
        unit_price_millicredits: priced.unit_price_millicredits,
        catalog_version: priced.catalog_version,
    })
}

pub(crate) fn event(row: usage_events::Model) -> Result<UsageEvent> {
    let split: Vec<(i64, i64)> = from_json(&row.lot_split)?;
    Ok(UsageEvent {
        studio: StudioKind::parse(&row.studio)
            .ok_or_else(|| Error::internal(format!("usage event {} has studio {}", row.id, row.studio)))?,
        status: UsageStatus::parse(&row.status)
            .ok_or_else(|| Error::internal(format!("usage event {} has status {}", row.id, row.status)))?,
        options: from_json(&row.options)?,
        lot_split: split.into_iter().map(|(lot, c)| (lot, Credits::new(c))).collect(),
        id: row.id,
        account_id: row.account_id,
        created_at: from_ms(row.created_at_ms),
        tool: row.tool,
        model_id: row.model_id,
        count: row.count,
        units: row.units,
        credits: Credits::new(row.credits),
        refunded_credits: Credits::new(row.refunded_credits),
        idempotency_key: row.idempotency_key,
        unit_price_millicredits: row.unit_price,
        catalog_version: row.catalog_version,
    })
}

pub(crate) async fn find(db: &impl ConnectionTrait, id: i64) -> Result<UsageEvent> {
    let row = usage_events::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::NotFound { what: "usage event", id: id.to_string() })?;
    event(row)
}

/// What a charge or a refund changes in an event's rollups.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RollupChange {
    pub events: i64,
    pub outputs: i64,
    pub credits: i64,
    /// Credits refunded, and why.
    pub refunded: Option<(RefundCause, i64)>,
}

impl RollupChange {
    /// A charged event: one generation, its outputs and its credits.
    pub fn charge(event: &UsageEvent) -> Self {
        RollupChange { events: 1, outputs: event.count, credits: event.credits.get(), refunded: None }
    }

    /// `credits` of `event` refunded for `cause`: they leave its credits
    /// and join the refunded ones; the refund that leaves nothing charged
    /// also takes the generation and its outputs out.
    pub fn refund(event: &UsageEvent, credits: Credits, cause: RefundCause, whole: bool) -> Self {
        let (events, outputs) = if whole { (-1, -event.count) } else { (0, 0) };
        RollupChange { events, outputs, credits: -credits.get(), refunded: Some((cause, credits.get())) }
    }
}

/// The rollup column of the credits refunded for `cause`.
fn refunded_column(cause: RefundCause) -> usage_rollups::Column {
    use usage_rollups::Column as C;
    match cause {
        RefundCause::ProviderError => C::RefundedProviderError,
        RefundCause::Timeout => C::RefundedTimeout,
        RefundCause::OutputModerated => C::RefundedOutputModerated,
        RefundCause::UserCancelled => C::RefundedUserCancelled,
        RefundCause::Other => C::RefundedOther,
    }
}

/// Applies `change` to an event's hourly and daily rollup, in one upsert
/// (no read-modify-write race, whatever runs beside it), deferred with the
/// transaction's other writes.
pub(crate) async fn add_to_rollup(db: &Batched, event: &UsageEvent, change: RollupChange) -> Result<()> {
    // A new bucket can only come from a charge; a refund always finds its bucket.
    let new = change.refunded.is_none();
    let inserted = |value: i64| if new { value } else { 0 };
    let rows = [HOUR_MS, DAY_MS].map(|bucket_ms| usage_rollups::ActiveModel {
        account_id: Set(event.account_id.clone()),
        bucket_ms: Set(bucket_ms),
        bucket_start_ms: Set(to_ms(event.created_at).div_euclid(bucket_ms) * bucket_ms),
        studio: Set(event.studio.as_str().to_owned()),
        tool: Set(event.tool.clone()),
        model_id: Set(event.model_id.clone().unwrap_or_default()),
        events: Set(inserted(change.events)),
        outputs: Set(inserted(change.outputs)),
        credits: Set(inserted(change.credits)),
        refunded_provider_error: Set(0),
        refunded_timeout: Set(0),
        refunded_output_moderated: Set(0),
        refunded_user_cancelled: Set(0),
        refunded_other: Set(0),
    });
    use usage_rollups::Column as C;
    let added = |column: C, by: i64| (column, Expr::col((usage_rollups::Entity, column)).add(by));
    let mut on_conflict =
        OnConflict::columns([C::AccountId, C::BucketMs, C::BucketStartMs, C::Studio, C::Tool, C::ModelId]);
    on_conflict.values([
        added(C::Events, change.events),
        added(C::Outputs, change.outputs),
        added(C::Credits, change.credits),
    ]);
    if let Some((cause, credits)) = change.refunded {
        on_conflict.values([added(refunded_column(cause), credits)]);
    }
    let upsert = usage_rollups::Entity::insert_many(rows).on_conflict(on_conflict.to_owned());
    // Each of the two rows is inserted or updated.
    db.defer(&upsert.into_query(), 2).await?;
    Ok(())
}

/// A position in an account's usage, newest first: `(created_at_ms, id)`.
pub type UsagePosition = (i64, i64);

impl Store {
    /// Events of an account in `filter`, by keyset (never OFFSET), newest
    /// first when reading forward and oldest first when reading backward.
    pub async fn usage_page(
        &self,
        account_id: &str,
        filter: &UsageFilter,
        read: KeysetRead<UsagePosition>,
    ) -> Result<Vec<UsageEvent>> {
        usage_select(account_id, filter, read)?.all(self.reader()).await?.into_iter().map(event).collect()
    }
}

/// The SELECT of `usage_page`.
pub(crate) fn usage_select(
    account_id: &str,
    filter: &UsageFilter,
    read: KeysetRead<UsagePosition>,
) -> Result<Select<usage_events::Entity>> {
    use usage_events::Column as C;
    filter.validate()?;
    let mut query = usage_events::Entity::find().filter(C::AccountId.eq(account_id));
    if let Some(from) = filter.from {
        query = query.filter(C::CreatedAtMs.gte(to_ms(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(C::CreatedAtMs.lt(to_ms(to)));
    }
    if let Some(studios) = &filter.studios {
        query = query.filter(C::Studio.is_in(studios.iter().map(|s| s.as_str())));
    }
    if let Some(tools) = &filter.tools {
        query = query.filter(C::Tool.is_in(tools.clone()));
    }
    if let Some(models) = &filter.model_ids {
        query = query.filter(C::ModelId.is_in(models.clone()));
    }
    let older = read.direction == Direction::Forward;
    if let Some((at_ms, id)) = read.from {
        let (time, tie) =
            if older { (C::CreatedAtMs.lt(at_ms), C::Id.lte(id)) } else { (C::CreatedAtMs.gt(at_ms), C::Id.gte(id)) };
        query = query.filter(Condition::any().add(time).add(Condition::all().add(C::CreatedAtMs.eq(at_ms)).add(tie)));
    }
    query = if older {
        query.order_by_desc(C::CreatedAtMs).order_by_desc(C::Id)
    } else {
        query.order_by_asc(C::CreatedAtMs).order_by_asc(C::Id)
    };
    Ok(query.limit(read.limit))
}
