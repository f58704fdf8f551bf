//! The ledger check (`credits check` and the admin query): for every
//! account, lots, holds and ledger agree and no lot is negative.
use sea_orm::{FromQueryResult, Statement};

use super::Store;
use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditProblem {
    pub account_id: String,
    pub problem: String,
}

#[derive(Clone, Debug, Default)]
pub struct AuditReport {
    pub accounts_checked: i64,
    pub problems: Vec<AuditProblem>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(FromQueryResult)]
struct Finding {
    account_id: String,
    subject: i64,
    expected: i64,
    actual: i64,
}

#[derive(FromQueryResult)]
struct Count {
    total: i64,
}

/// Each check selects only the rows that break an invariant, so a clean
/// database answers with nothing to transfer whatever its size. Sums are
/// taken once per table and joined (hash joins), never per row in a
/// correlated subquery: a check stays linear in the size of the ledger.
const CHECKS: [(&str, &str); 10] = [
    (
        "lot {subject}: the ledger sums to {actual}, the lot holds {expected}",
        "SELECT l.account_id, l.id AS subject, l.remaining AS expected,
                CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) AS actual
         FROM credit_lots l LEFT JOIN ledger_entries e ON e.lot_id = l.id
         GROUP BY l.account_id, l.id, l.remaining
         HAVING CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) <> l.remaining",
    ),
    (
        "lot {subject}: holds {actual} of {expected} granted (negative or over-granted)",
        "SELECT account_id, id AS subject, granted AS expected, remaining AS actual
         FROM credit_lots WHERE remaining < 0 OR remaining > granted",
    ),
    (
        "ledger entry {subject}: balance after is {actual}, the entries before it add up to {expected}",
        "SELECT account_id, id AS subject, COALESCE(previous, 0) + amount AS expected, balance_after AS actual
         FROM (SELECT account_id, id, amount, balance_after,
                      LAG(balance_after) OVER (PARTITION BY account_id ORDER BY id) AS previous
               FROM ledger_entries) chained
         WHERE COALESCE(previous, 0) + amount <> balance_after",
    ),
    (
        "balance: the last ledger entry says {actual}, the lots hold {expected}",
        "SELECT a.id AS account_id, CAST(0 AS BIGINT) AS subject,
                CAST(COALESCE(lots.credits, 0) AS BIGINT) AS expected,
                CAST(COALESCE(e.balance_after, 0) AS BIGINT) AS actual
         FROM accounts a
         LEFT JOIN (SELECT account_id, SUM(remaining) AS credits FROM credit_lots
                    GROUP BY account_id) lots ON lots.account_id = a.id
         LEFT JOIN (SELECT account_id, MAX(id) AS id FROM ledger_entries
                    GROUP BY account_id) last ON last.account_id = a.id
         LEFT JOIN ledger_entries e ON e.id = last.id
         WHERE COALESCE(e.balance_after, 0) <> COALESCE(lots.credits, 0)",
    ),
    (
        "usage event {subject}: charged {expected} credits, the ledger took {actual}",
        "SELECT u.account_id, u.id AS subject, u.credits AS expected,
                CAST(COALESCE(consumed.taken, 0) + COALESCE(captured.taken, 0) AS BIGINT) AS actual
         FROM usage_events u
         LEFT JOIN (SELECT usage_event_id, -SUM(amount) AS taken FROM ledger_entries
                    WHERE kind = 'CONSUME' AND usage_event_id IS NOT NULL
                    GROUP BY usage_event_id) consumed ON consumed.usage_event_id = u.id
         LEFT JOIN (SELECT r.usage_event_id, -SUM(e.amount) AS taken FROM reservations r
                    JOIN ledger_entries e ON e.reservation_id = r.id
                    WHERE r.usage_event_id IS NOT NULL AND e.kind IN ('HOLD', 'RELEASE')
                    GROUP BY r.usage_event_id) captured ON captured.usage_event_id = u.id
         WHERE u.status IN ('CHARGED', 'PARTIALLY_REFUNDED')
           AND u.credits <> COALESCE(consumed.taken, 0) + COALESCE(captured.taken, 0)",
    ),
    (
        "hold {subject}: should hold {expected} credits, the ledger holds {actual}",
        "SELECT account_id, subject, expected, actual FROM (
           SELECT r.account_id, r.id AS subject,
                  CAST(CASE r.status
                         WHEN 'OPEN' THEN r.credits
                         WHEN 'CAPTURED' THEN COALESCE(u.credits, -1)
                         ELSE 0 END AS BIGINT) AS expected,
                  CAST(COALESCE(held.credits, 0) AS BIGINT) AS actual
           FROM reservations r
           LEFT JOIN usage_events u ON u.id = r.usage_event_id
           LEFT JOIN (SELECT reservation_id, -SUM(amount) AS credits FROM ledger_entries
                      WHERE reservation_id IS NOT NULL AND kind IN ('HOLD', 'RELEASE')
                      GROUP BY reservation_id) held ON held.reservation_id = r.id) holds
         WHERE expected <> actual",
    ),
    (
        "usage event {subject}: refunded {actual} credits of {expected} charged",
        "SELECT u.account_id, u.id AS subject, u.credits AS expected,
                CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) AS actual
         FROM usage_events u JOIN ledger_entries e ON e.usage_event_id = u.id AND e.kind = 'REFUND'
         GROUP BY u.account_id, u.id, u.credits
         HAVING CAST(COALESCE(SUM(e.amount), 0) AS BIGINT) > u.credits",
    ),
    (
        "usage event {subject}: {expected} credits refunded, the ledger gave back {actual}",
        "SELECT u.account_id, u.id AS subject, u.refunded_credits AS expected,
                CAST(COALESCE(back.credits, 0) AS BIGINT) AS actual
         FROM usage_events u
         LEFT JOIN (SELECT usage_event_id, SUM(amount) AS credits FROM ledger_entries
                    WHERE kind = 'REFUND' AND usage_event_id IS NOT NULL
                    GROUP BY usage_event_id) back ON back.usage_event_id = u.id
         WHERE u.refunded_credits <> COALESCE(back.credits, 0)",
    ),
    (
        "usage event {subject}: {expected} credits refunded, its refunds add up to {actual}",
        "SELECT u.account_id, u.id AS subject, u.refunded_credits AS expected,
                CAST(COALESCE(refunds.credits, 0) AS BIGINT) AS actual
         FROM usage_events u
         LEFT JOIN (SELECT usage_event_id, SUM(credits) AS credits FROM usage_refunds
                    GROUP BY usage_event_id) refunds ON refunds.usage_event_id = u.id
         WHERE u.refunded_credits <> COALESCE(refunds.credits, 0)",
    ),
    (
        "usage event {subject}: its status does not say {actual} of {expected} credits refunded",
        "SELECT account_id, id AS subject, credits AS expected, refunded_credits AS actual
         FROM usage_events
         WHERE (status = 'CHARGED' AND refunded_credits > 0)
            OR (status = 'PARTIALLY_REFUNDED' AND (refunded_credits = 0 OR refunded_credits >= credits))
            OR (status = 'REFUNDED' AND refunded_credits < credits)",
    ),
];

impl Store {
    pub async fn audit(&self) -> Result<AuditReport> {
        let db = self.reader();
        let backend = db.get_database_backend();
        let accounts = Count::find_by_statement(Statement::from_string(
            backend,
            "SELECT CAST(COUNT(*) AS BIGINT) AS total FROM accounts",
        ))
        .one(db)
        .await?
        .map_or(0, |c| c.total);
        let mut problems = Vec::new();
        for (message, sql) in CHECKS {
            let findings = Finding::find_by_statement(Statement::from_string(backend, sql)).all(db).await?;
            problems.extend(findings.into_iter().map(|f| {
                AuditProblem {
                    problem: message
                        .replace("{subject}", &f.subject.to_string())
                        .replace("{expected}", &f.expected.to_string())
                        .replace("{actual}", &f.actual.to_string()),
                    account_id: f.account_id,
                }
            }));
        }
        problems.sort_by(|a, b| (&a.account_id, &a.problem).cmp(&(&b.account_id, &b.problem)));
        Ok(AuditReport { accounts_checked: accounts, problems })
    }
}
