//! Reading the ledger of an account, newest first.
use chrono::{DateTime, Utc};
use entity::ledger_entries;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::Store;
use super::keyset::KeysetRead;
use crate::clock::{from_ms, to_ms};
use crate::domain::ledger::LedgerKind;
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct LedgerEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub kind: LedgerKind,
    pub lot_id: i64,
    pub amount: i64,
    pub balance_after: i64,
    pub usage_event_id: Option<i64>,
    pub reservation_id: Option<i64>,
    pub reference: String,
}

#[derive(Clone, Debug, Default)]
pub struct LedgerFilter {
    pub kinds: Option<Vec<LedgerKind>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub struct LedgerPage {
    /// The entries read, in the order read.
    pub entries: Vec<LedgerEntry>,
    pub total_count: u64,
}

impl Store {
    /// Entries by keyset on their id (never OFFSET): newest first when
    /// reading forward, oldest first when reading backward.
    pub async fn ledger(&self, account_id: &str, filter: &LedgerFilter, read: KeysetRead<i64>) -> Result<LedgerPage> {
        let mut query = ledger_entries::Entity::find().filter(ledger_entries::Column::AccountId.eq(account_id));
        if let Some(kinds) = &filter.kinds {
            query = query.filter(ledger_entries::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
        }
        if let Some(from) = filter.from {
            query = query.filter(ledger_entries::Column::CreatedAtMs.gte(to_ms(from)));
        }
        if let Some(to) = filter.to {
            query = query.filter(ledger_entries::Column::CreatedAtMs.lt(to_ms(to)));
        }
        let total_count = query.clone().count(self.reader()).await?;
        let rows = read.by_id(query, ledger_entries::Column::Id).all(self.reader()).await?;
        let entries = rows
            .into_iter()
            .map(|row| {
                Ok(LedgerEntry {
                    kind: LedgerKind::parse(&row.kind)
                        .ok_or_else(|| Error::internal(format!("ledger entry {} has kind {}", row.id, row.kind)))?,
                    id: row.id,
                    created_at: from_ms(row.created_at_ms),
                    lot_id: row.lot_id,
                    amount: row.amount,
                    balance_after: row.balance_after,
                    usage_event_id: row.usage_event_id,
                    reservation_id: row.reservation_id,
                    reference: row.reference,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LedgerPage { entries, total_count })
    }
}
