//! An account's usage events for export, every one of a filter, newest
//! first, read page by page with the usage connection's keyset reading so
//! that an export of a million rows holds one page at a time.
use futures_util::Stream;
use futures_util::stream;

use super::Store;
use super::keyset::{Direction, KeysetRead};
use super::usage::UsagePosition;
use crate::domain::analytics::UsageFilter;
use crate::domain::usage::UsageEvent;
use crate::error::Result;

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
        let mut page = self.store.usage_page(&self.account_id, &self.filter, read).await?;
        let position = |event: &UsageEvent| (event.created_at.timestamp_millis(), event.id);
        if let Some(last) = self.last {
            page.retain(|event| position(event) != last);
        }
        self.last = page.last().map(position).or(self.last);
        Ok(page)
    }
}
