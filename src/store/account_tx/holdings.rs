//! What opening an account reads: its lots with credits left, its latest
//! subscription (active or not) and its open holds, and on PostgreSQL, in
//! the same round trip, what the request will need (`Prefetch`).
use entity::{credit_lots, idempotency_records, reservations, subscriptions};
use sea_orm::ConnectionTrait;

use crate::domain::events::announces_expiry;
use crate::domain::holds::{Reservation, ReservationStatus};
use crate::domain::lots::Lot;
use crate::domain::subscription::Subscription;
use crate::error::Result;
use crate::store::engine::Engine;
use crate::store::rows;

/// What a request asks opening its account to read besides the holdings,
/// where that saves a round trip under the lock (PostgreSQL; SQLite has
/// none to save and reads them when asked).
#[derive(Clone, Debug, Default)]
pub struct Prefetch {
    /// The record of the request's idempotency key.
    pub key: Option<String>,
    /// An id for the usage event the request records, so its insert can
    /// wait for the commit with the other writes (`batch.rs`).
    pub usage_event_id: bool,
}

/// What an account holds, as stored.
pub(in crate::store) struct Holdings {
    pub lots: Vec<Lot>,
    pub subscription: Option<Subscription>,
    pub holds: Vec<Reservation>,
    /// Lots whose expiry may need a notice and has not had its chance.
    pub unnoticed: Vec<i64>,
    pub prefetched: Prefetched,
}

/// What `Prefetch` asked for, as read.
#[derive(Default)]
pub(in crate::store) struct Prefetched {
    /// The key and its record (`None`: no request with it yet).
    pub key_record: Option<(String, Option<idempotency_records::Model>)>,
    pub usage_event_id: Option<i64>,
}

/// The rows behind `Holdings`, as stored, read by the engine
/// (`Engine::holdings`).
pub(in crate::store) struct HoldingRows {
    pub lots: Vec<credit_lots::Model>,
    pub subscription: Option<subscriptions::Model>,
    pub holds: Vec<reservations::Model>,
    pub prefetched: Prefetched,
}

/// Reads an account's holdings, under its lock (a write) or without it (a
/// snapshot), and what `prefetch` asks where the engine reads it with them.
pub(in crate::store) async fn load(
    engine: &Engine,
    db: &impl ConnectionTrait,
    account_id: &str,
    prefetch: &Prefetch,
) -> Result<Holdings> {
    let open = ReservationStatus::Open.as_str();
    let rows = engine.holdings(db, account_id, open, prefetch).await?;
    holdings(&rows.lots, rows.subscription.as_ref(), &rows.holds, rows.prefetched)
}

fn holdings(
    lot_rows: &[credit_lots::Model],
    subscription: Option<&subscriptions::Model>,
    holds: &[reservations::Model],
    prefetched: Prefetched,
) -> Result<Holdings> {
    let lots = lot_rows.iter().map(rows::lot).collect::<Result<Vec<_>>>()?;
    let unnoticed = lots
        .iter()
        .zip(lot_rows)
        .filter(|(lot, row)| !row.expiry_noticed && lot.expires_at.is_some() && announces_expiry(lot.source))
        .map(|(lot, _)| lot.id)
        .collect();
    let subscription = subscription.map(rows::subscription).transpose()?;
    let holds = holds.iter().map(rows::reservation).collect::<Result<Vec<_>>>()?;
    Ok(Holdings { lots, subscription, holds, unnoticed, prefetched })
}
