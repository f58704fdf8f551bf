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
/// database answers with nothing to transfer whatever its size.
const CHECKS: [(&str, &str); 7] = [
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
        "SELECT account_id, CAST(0 AS BIGINT) AS subject, lots AS expected, COALESCE(last_balance, 0) AS actual
         FROM (SELECT a.id AS account_id,
                      (SELECT e.balance_after FROM ledger_entries e WHERE e.account_id = a.id
                       ORDER BY e.id DESC LIMIT 1) AS last_balance,
                      (SELECT CAST(COALESCE(SUM(l.remaining), 0) AS BIGINT) FROM credit_lots l
                       WHERE l.account_id = a.id) AS lots
               FROM accounts a) balances
         WHERE COALESCE(last_balance, 0) <> lots",
    ),
    (
        "usage event {subject}: charged {expected} credits, the ledger took {actual}",
        "SELECT account_id, subject, expected, actual FROM (
           SELECT u.account_id, u.id AS subject, u.credits AS expected,
                  CAST(COALESCE((SELECT -SUM(e.amount) FROM ledger_entries e
                                 WHERE e.usage_event_id = u.id AND e.kind = 'CONSUME'), 0)
                     + COALESCE((SELECT -SUM(e.amount) FROM reservations r
                                 JOIN ledger_entries e ON e.reservation_id = r.id
                                 WHERE r.usage_event_id = u.id AND e.kind IN ('HOLD', 'RELEASE')), 0) AS BIGINT) AS actual
           FROM usage_events u WHERE u.status = 'CHARGED') charged
         WHERE expected <> actual",
    ),
    (
        "hold {subject}: should hold {expected} credits, the ledger holds {actual}",
        "SELECT account_id, subject, expected, actual FROM (
           SELECT r.account_id, r.id AS subject,
                  CAST(CASE r.status
                         WHEN 'OPEN' THEN r.credits
                         WHEN 'CAPTURED' THEN COALESCE((SELECT u.credits FROM usage_events u
                                                        WHERE u.id = r.usage_event_id), -1)
                         ELSE 0 END AS BIGINT) AS expected,
                  CAST(COALESCE((SELECT -SUM(e.amount) FROM ledger_entries e
                                 WHERE e.reservation_id = r.id AND e.kind IN ('HOLD', 'RELEASE')), 0) AS BIGINT) AS actual
           FROM reservations r) holds
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
