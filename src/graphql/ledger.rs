//! The ledger of an account as a connection, and the admin's ledger check.
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::checks::query_check;
use super::context::{GraphqlResult, require_admin, store};
use super::errors::graphql_error;
use super::pagination::{decode_cursor, encode_cursor, page_size};
use crate::domain::ledger::LedgerKind;
use crate::domain::text::AFTER;
use crate::store::ledger::{LedgerEntry as Entry, LedgerFilter};

#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "LedgerKind")]
pub enum LedgerEntryKind {
    DailyGrant,
    SubscriptionGrant,
    Purchase,
    PromoGrant,
    Consume,
    Expire,
    Hold,
    Release,
    Refund,
}

/// One movement of credits on one lot.
#[derive(SimpleObject, Clone, Debug)]
pub struct LedgerEntry {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    pub kind: LedgerEntryKind,
    pub lot_id: ID,
    /// Positive: credits added to the lot; negative: taken from it.
    pub amount: i64,
    /// The account's credits on all lots after this entry.
    pub balance_after: i64,
    pub usage_event_id: Option<ID>,
    pub reservation_id: Option<ID>,
    /// A payment reference, a grant reason, an idempotency key, why a lot expired.
    pub reference: String,
}

impl From<Entry> for LedgerEntry {
    fn from(entry: Entry) -> Self {
        LedgerEntry {
            id: ID(entry.id.to_string()),
            created_at: entry.created_at,
            kind: entry.kind.into(),
            lot_id: ID(entry.lot_id.to_string()),
            amount: entry.amount,
            balance_after: entry.balance_after,
            usage_event_id: entry.usage_event_id.map(|id| ID(id.to_string())),
            reservation_id: entry.reservation_id.map(|id| ID(id.to_string())),
            reference: entry.reference,
        }
    }
}

#[derive(InputObject, Clone, Debug, Default)]
pub struct LedgerFilterInput {
    pub kinds: Option<Vec<LedgerEntryKind>>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

#[derive(SimpleObject)]
pub struct LedgerTotals {
    pub total_count: u64,
}

pub type LedgerEntryConnection = Connection<String, LedgerEntry, LedgerTotals>;

const CURSOR_KIND: &str = "ledger";

pub async fn ledger_connection(
    ctx: &Context<'_>,
    account_id: &str,
    first: Option<i32>,
    after: Option<String>,
    filter: Option<LedgerFilterInput>,
) -> GraphqlResult<LedgerEntryConnection> {
    let limit = page_size(first)?;
    query_check(AFTER.check_optional(after.as_deref()))?;
    let before_id: Option<i64> = after.map(|cursor| decode_cursor(CURSOR_KIND, &cursor, "after")).transpose()?;
    let filter = filter.unwrap_or_default();
    let filter = LedgerFilter {
        kinds: filter.kinds.map(|kinds| kinds.into_iter().map(LedgerKind::from).collect()),
        from: filter.from,
        to: filter.to,
    };
    let page = store(ctx)?.ledger(account_id, &filter, before_id, limit).await.map_err(graphql_error)?;
    let has_next_page = page.entries.len() as u64 > limit;
    let mut connection = Connection::with_additional_fields(
        before_id.is_some(),
        has_next_page,
        LedgerTotals { total_count: page.total_count },
    );
    connection.edges.extend(
        page.entries
            .into_iter()
            .take(limit as usize)
            .map(|entry| Edge::new(encode_cursor(CURSOR_KIND, &entry.id.to_string()), LedgerEntry::from(entry))),
    );
    Ok(connection)
}

#[derive(SimpleObject)]
pub struct LedgerProblem {
    pub account_id: ID,
    pub problem: String,
}

#[derive(SimpleObject)]
pub struct LedgerCheck {
    pub accounts_checked: i64,
    /// True when every account's lots, holds and ledger agree.
    pub clean: bool,
    pub problems: Vec<LedgerProblem>,
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Verifies, for every account, that lots, holds and ledger agree and no
    /// lot is negative (admin). The same check as `credits check`.
    async fn ledger_check(&self, ctx: &Context<'_>) -> GraphqlResult<LedgerCheck> {
        require_admin(ctx, "ledgerCheck")?;
        let report = store(ctx)?.audit().await.map_err(graphql_error)?;
        Ok(LedgerCheck {
            accounts_checked: report.accounts_checked,
            clean: report.is_clean(),
            problems: report
                .problems
                .into_iter()
                .map(|p| LedgerProblem { account_id: ID(p.account_id), problem: p.problem })
                .collect(),
        })
    }
}
