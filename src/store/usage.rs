//! Usage events and their rollups.
use entity::{usage_events, usage_rollups};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, ConnectionTrait, EntityTrait};

use super::AccountTx;
use super::rows::{from_json, to_json};
use crate::clock::{from_ms, to_ms};
use crate::domain::catalog::StudioKind;
use crate::domain::money::Credits;
use crate::domain::pricing::PricedGeneration;
use crate::domain::usage::{UsageEvent, UsageStatus};
use crate::error::{DomainError, Error, Result};

const HOUR_MS: i64 = 3_600_000;

pub(crate) async fn insert(
    account: &AccountTx,
    priced: &PricedGeneration,
    idempotency_key: &str,
    split: &[(i64, Credits)],
) -> Result<UsageEvent> {
    let split_json: Vec<(i64, i64)> = split.iter().map(|(lot, c)| (*lot, c.get())).collect();
    let row = usage_events::ActiveModel {
        id: NotSet,
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
    };
    let id = usage_events::Entity::insert(row).exec(account.tx()).await?.last_insert_id;
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
        status: UsageStatus::Charged,
        idempotency_key: idempotency_key.to_owned(),
        lot_split: split.to_vec(),
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
        idempotency_key: row.idempotency_key,
    })
}

pub(crate) async fn find(db: &impl ConnectionTrait, id: i64) -> Result<UsageEvent> {
    let row = usage_events::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DomainError::NotFound { what: "usage event", id: id.to_string() })?;
    event(row)
}

/// Adds (`sign` 1) or takes back (`sign` -1, a refund) an event in its hourly
/// rollup, as one upsert: no read-modify-write race.
pub(crate) async fn add_to_rollup(db: &impl ConnectionTrait, event: &UsageEvent, sign: i64) -> Result<()> {
    let bucket_start_ms = to_ms(event.created_at).div_euclid(HOUR_MS) * HOUR_MS;
    // A new bucket can only come from a charge; a refund always finds its bucket.
    let inserted = std::cmp::max(sign, 0);
    let row = usage_rollups::ActiveModel {
        id: NotSet,
        account_id: Set(event.account_id.clone()),
        bucket_start_ms: Set(bucket_start_ms),
        studio: Set(event.studio.as_str().to_owned()),
        tool: Set(event.tool.clone()),
        model_id: Set(event.model_id.clone().unwrap_or_default()),
        events: Set(inserted),
        outputs: Set(event.count * inserted),
        credits: Set(event.credits.get() * inserted),
    };
    use usage_rollups::Column as C;
    let on_conflict = OnConflict::columns([C::AccountId, C::BucketStartMs, C::Studio, C::Tool, C::ModelId])
        .value(C::Events, Expr::col((usage_rollups::Entity, C::Events)).add(sign))
        .value(C::Outputs, Expr::col((usage_rollups::Entity, C::Outputs)).add(event.count * sign))
        .value(C::Credits, Expr::col((usage_rollups::Entity, C::Credits)).add(event.credits.get() * sign))
        .to_owned();
    usage_rollups::Entity::insert(row).on_conflict(on_conflict).exec_without_returning(db).await?;
    Ok(())
}
