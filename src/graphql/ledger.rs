//! The ledger of an account as a connection, and the admin's ledger check.
use async_graphql::connection::Connection;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{GraphqlResult, require_admin, store};
use super::errors::graphql_error;
use super::pagination::{Cursors, PageArgs, filter_digest, page};
use crate::domain::ledger::LedgerKind;
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
    RolloverGrant,
    Forfeit,
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

/// Newest first. `first`/`after` pages towards older entries, `last`/`before`
/// towards newer ones; cursors are bound to the filter.
pub async fn ledger_connection(
    ctx: &Context<'_>,
    account_id: &str,
    args: PageArgs,
    filter: Option<LedgerFilterInput>,
) -> GraphqlResult<LedgerEntryConnection> {
    let filter = filter.unwrap_or_default();
    let filter = LedgerFilter {
        kinds: filter.kinds.map(|kinds| kinds.into_iter().map(LedgerKind::from).collect()),
        from: filter.from,
        to: filter.to,
    };
    let cursors = cursors(&filter);
    let page = page(args, &cursors)?;
    let read = store(ctx)?.ledger(account_id, &filter, page.read()).await.map_err(graphql_error)?;
    let totals = LedgerTotals { total_count: read.total_count };
    Ok(page.connection(read.entries, &cursors, |entry: &Entry| entry.id, LedgerEntry::from, totals))
}

/// Ledger cursors, bound to the filter's canonical form: kinds in any order
/// or repeated are one filter, and times count to the millisecond the
/// ledger keeps.
fn cursors(filter: &LedgerFilter) -> Cursors {
    let mut kinds: Option<Vec<&str>> = filter.kinds.as_ref().map(|kinds| kinds.iter().map(|k| k.as_str()).collect());
    if let Some(kinds) = &mut kinds {
        kinds.sort_unstable();
        kinds.dedup();
    }
    let millis = |at: Option<DateTime<Utc>>| at.map(|at| at.timestamp_millis());
    Cursors::new("ledger", filter_digest(&(kinds, millis(filter.from), millis(filter.to))))
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
