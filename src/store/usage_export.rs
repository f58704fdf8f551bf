//! An account's usage events for export, every one of a filter, newest
//! first, read page by page with the usage connection's keyset reading so
//! that an export of a million rows holds one page at a time.
//!
//! The pages are read as the analytics are (`Engine::fold`), each row made
//! an event as it comes, not through the sqlx pool behind the `usage`
//! connection. On SQLite that pool hands its idle connections out in turn
//! (first in, first out), so an export's pages went round every reader a
//! busy server had opened, each with its own thread and page cache, and
//! each page's rows copied on that thread: the usage benchmark's 200,000
//! rows raised the peak by 54 MiB with 12 readers open, and by 0.0 read
//! here, where a read takes the connection the last one left
//! (`sqlite/reads.rs`).
use entity::usage_events::{self, Column as C};
use futures_util::Stream;
use futures_util::stream;
use sea_orm::{QuerySelect, QueryTrait};

use super::Store;
use super::engine::Columns;
use super::keyset::{Direction, KeysetRead};
use super::usage::{UsagePosition, event, usage_select};
use crate::domain::analytics::UsageFilter;
use crate::domain::usage::UsageEvent;
use crate::error::Result;

/// The columns an export reads, in the order `model` takes them.
const COLUMNS: [C; 16] = [
    C::Id,
    C::AccountId,
    C::CreatedAtMs,
    C::Studio,
    C::Tool,
    C::ModelId,
    C::Count,
    C::Units,
    C::Options,
    C::Credits,
    C::Status,
    C::IdempotencyKey,
    C::LotSplit,
    C::UnitPrice,
    C::CatalogVersion,
    C::RefundedCredits,
];

/// Rows per page: a few milliseconds of reading each, and a few MB at most.
pub const EXPORT_PAGE_ROWS: u64 = 2_000;

/// Where an export has got to.
struct Reading {
    store: Store,
    account_id: String,
    filter: UsageFilter,
    page_rows: u64,
    /// The last event sent; None before the first page.
    last: Option<UsagePosition>,
    done: bool,
}

impl Store {
    /// The events of `account_id` in `filter`, newest first, as a stream of
    /// pages of `page_rows` (`EXPORT_PAGE_ROWS` for the export; none empty);
    /// it ends after the last page or the first error.
    pub fn usage_export(
        &self,
        account_id: String,
        filter: UsageFilter,
        page_rows: u64,
    ) -> impl Stream<Item = Result<Vec<UsageEvent>>> + Send + 'static {
        let page_rows = page_rows.max(1);
        let reading = Reading { store: self.clone(), account_id, filter, page_rows, last: None, done: false };
        stream::unfold(reading, |mut reading| async move {
            if reading.done {
                return None;
            }
            let page = reading.next_page().await;
            // A short page is the last.
            reading.done = page.as_ref().map_or(true, |page| (page.len() as u64) < reading.page_rows);
            match page {
                Ok(page) if page.is_empty() => None,
                page => Some((page, reading)),
            }
        })
    }
}

impl Reading {
    async fn next_page(&mut self) -> Result<Vec<UsageEvent>> {
        // A keyset read from a position includes the event at it: one more is read.
        let read = KeysetRead {
            direction: Direction::Forward,
            from: self.last,
            limit: self.page_rows + u64::from(self.last.is_some()),
        };
        let select = usage_select(&self.account_id, &self.filter, read)?.select_only().columns(COLUMNS);
        let statement = select.build(self.store.backend());
        let each = |page: &mut Vec<UsageEvent>, row: &dyn Columns| {
            page.push(event(model(row)?)?);
            Ok(())
        };
        let mut page = self.store.engine.fold(statement, Vec::new(), Box::new(each)).await?;
        let position = |event: &UsageEvent| (event.created_at.timestamp_millis(), event.id);
        if let Some(last) = self.last {
            page.retain(|event| position(event) != last);
        }
        self.last = page.last().map(position).or(self.last);
        Ok(page)
    }
}

/// A row of `COLUMNS`.
fn model(row: &dyn Columns) -> Result<usage_events::Model> {
    Ok(usage_events::Model {
        id: row.number(0)?,
        account_id: row.text(1)?.to_owned(),
        created_at_ms: row.number(2)?,
        studio: row.text(3)?.to_owned(),
        tool: row.text(4)?.to_owned(),
        model_id: row.optional_text(5)?.map(str::to_owned),
        count: row.number(6)?,
        units: row.optional_number(7)?,
        options: row.text(8)?.to_owned(),
        credits: row.number(9)?,
        status: row.text(10)?.to_owned(),
        idempotency_key: row.text(11)?.to_owned(),
        lot_split: row.text(12)?.to_owned(),
        unit_price: row.number(13)?,
        catalog_version: row.number(14)?,
        refunded_credits: row.number(15)?,
    })
}
